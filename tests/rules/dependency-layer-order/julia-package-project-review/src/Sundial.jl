module Sundial end
