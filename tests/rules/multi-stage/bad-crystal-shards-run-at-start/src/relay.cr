require "kemal"
Kemal.run
