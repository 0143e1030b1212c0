class Ledger {}
