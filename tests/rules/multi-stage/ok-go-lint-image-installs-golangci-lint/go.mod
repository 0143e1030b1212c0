module example.org/reviewlint

go 1.23
