print("orch")
