module anystack

go 1.19
