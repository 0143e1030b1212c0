defmodule Tally.MixProject do
  use Mix.Project

  def project do
    [app: :tally, version: "0.2.0", elixir: "~> 1.16", deps: [{:jason, "~> 1.4"}]]
  end
end
