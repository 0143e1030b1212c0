version = "0.1.0"
bin = @["relay"]
srcDir = "src"
requires "nim >= 2.0.0", "zippy"
