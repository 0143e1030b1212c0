require "spec"
