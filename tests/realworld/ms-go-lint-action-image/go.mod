module example.net/lintaction

go 1.22
