module checkthenact

go 1.19
