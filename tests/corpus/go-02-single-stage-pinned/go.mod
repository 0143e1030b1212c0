module example.com/go-02-single-stage-pinned

go 1.22

require github.com/go-chi/chi/v5 v5.0.12
