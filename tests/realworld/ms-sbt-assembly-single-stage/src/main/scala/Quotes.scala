object Quotes extends App
