object Tickets extends App
