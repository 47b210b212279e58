// The Go twin of solution.rs: atomic.Uint64.Add is one read-modify-write. `go test -race -run
// Solution .` passes.
package lostupdate

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestSolution(t *testing.T) {
	var n atomic.Uint64
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100000; i++ {
				n.Add(1)
			}
		}()
	}
	wg.Wait() // Wait happens after every Done, so the load sees every Add
	if got := n.Load(); got != 400000 {
		t.Errorf("counted %d of 400000 hits", got)
	}
}
