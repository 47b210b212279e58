module guide/format

go 1.24
