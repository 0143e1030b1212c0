defmodule Ledger do end
