module greenrt/bench/go/echo

go 1.19
