object Ledger
