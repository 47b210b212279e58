// A net/http hello server, the Go side of crates/gort/examples/http_hello.rs.
//
//	go run ./cmd/hello 127.0.0.1:8081
package main

import (
	"log"
	"net/http"
	"os"
)

func main() {
	addr := "127.0.0.1:8081"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("Hello, World!\n"))
	})
	log.Fatal(http.ListenAndServe(addr, nil))
}
