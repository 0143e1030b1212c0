name := "feeds"
scalaVersion := "2.13.13"
