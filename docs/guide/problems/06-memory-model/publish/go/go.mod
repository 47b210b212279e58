module publish

go 1.19
