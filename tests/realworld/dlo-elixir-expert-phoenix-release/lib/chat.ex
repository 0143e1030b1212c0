defmodule Chat do end
