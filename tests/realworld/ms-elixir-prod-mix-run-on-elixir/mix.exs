defmodule Relay.MixProject do
  use Mix.Project
  def project, do: [app: :relay, version: "0.3.0", deps: [{:gen_stage, "~> 1.2"}]]
end
