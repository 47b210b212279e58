module guide/setupinloop

go 1.24
