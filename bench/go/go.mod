module greenrt/bench/go

go 1.19
