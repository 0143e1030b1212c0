print("scored")
