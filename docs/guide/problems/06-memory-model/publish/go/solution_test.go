// The Go twin of solution.rs: the flag is an atomic.Bool, stored after the data. In Go's
// memory model an atomic store is synchronized before the load that observes it, so the data
// write happens before the data read. (A channel does the same: a send happens before the
// corresponding receive completes.) `go test -race -run Solution .` passes.
package publish

import (
	"runtime"
	"sync/atomic"
	"testing"
)

func TestSolution(t *testing.T) {
	var data uint64
	var ready atomic.Bool
	go func() {
		data = 42
		ready.Store(true)
	}()
	for !ready.Load() {
		runtime.Gosched()
	}
	if data != 42 {
		t.Errorf("saw the flag but data = %d", data)
	}
}

func TestSolutionChannel(t *testing.T) {
	ch := make(chan uint64)
	go func() { ch <- 42 }()
	if v := <-ch; v != 42 {
		t.Errorf("received %d", v)
	}
}
