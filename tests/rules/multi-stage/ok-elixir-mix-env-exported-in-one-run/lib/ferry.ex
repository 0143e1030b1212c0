defmodule Ferry do
end
