defmodule Chat.MixProject do
  use Mix.Project
  def project, do: [app: :chat, version: "0.1.0", deps: [{:phoenix, "~> 1.7"}]]
end
