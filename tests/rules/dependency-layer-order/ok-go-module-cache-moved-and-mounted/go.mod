module example.com/probe

go 1.23

require github.com/miekg/dns v1.1.62
