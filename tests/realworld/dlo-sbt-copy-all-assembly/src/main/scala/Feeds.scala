object Feeds extends App
