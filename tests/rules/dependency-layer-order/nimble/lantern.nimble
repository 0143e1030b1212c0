version = "0.1.0"
bin = @["lantern"]
srcDir = "src"
requires "nim >= 2.0", "jester"
