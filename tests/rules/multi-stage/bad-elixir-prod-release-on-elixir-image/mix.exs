defmodule Ledger.MixProject do
  use Mix.Project
  def project, do: [app: :ledger, version: "1.0.0", deps: [{:plug_cowboy, "~> 2.7"}]]
end
