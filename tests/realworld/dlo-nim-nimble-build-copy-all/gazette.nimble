bin = @["gazette"]
