module lostupdate

go 1.19
