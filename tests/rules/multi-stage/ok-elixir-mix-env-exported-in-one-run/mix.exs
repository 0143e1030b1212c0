defmodule Ferry.MixProject do
  use Mix.Project

  def project do
    [app: :ferry, version: "0.1.0", elixir: "~> 1.16", deps: deps()]
  end

  defp deps do
    [{:phoenix, "~> 1.7"}]
  end
end
