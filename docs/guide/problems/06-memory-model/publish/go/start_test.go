// The Go twin of start.rs: data published through a plain bool. Nothing orders the writer's
// stores before the reader's loads (the compiler may even hoist the flag load out of the loop),
// so `go test -race -run Start .` reports the data races on both variables.
package publish

import (
	"runtime"
	"testing"
)

func TestStart(t *testing.T) {
	var data uint64
	var ready bool
	go func() {
		data = 42
		ready = true
	}()
	for !ready {
		runtime.Gosched()
	}
	if data != 42 {
		t.Errorf("saw the flag but data = %d", data)
	}
}
