name := "ledger"
