class Ticker {}
