module example.org/relay

go 1.23

require golang.org/x/sync v0.8.0
