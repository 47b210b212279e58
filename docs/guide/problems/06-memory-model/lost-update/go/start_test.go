// The Go twin of start.rs: n++ from several goroutines is a load and a store, not one
// increment. `go test -race -run Start .` reports the data race; `go test -run Start .` shows
// the lost updates (on more than one P, most runs).
package lostupdate

import (
	"sync"
	"testing"
)

func TestStart(t *testing.T) {
	var n uint64
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100000; i++ {
				n++ // load, add, store: another goroutine's hits land in between
			}
		}()
	}
	wg.Wait()
	if n != 400000 {
		t.Errorf("counted %d of 400000 hits", n)
	}
}
