module example.com/go-docker

go 1.22
