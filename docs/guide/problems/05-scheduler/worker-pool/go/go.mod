module guide/workerpool

go 1.24
