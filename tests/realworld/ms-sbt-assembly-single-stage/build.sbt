name := "quotes"
scalaVersion := "2.13.7"
