module gort.dev/bench

go 1.21
