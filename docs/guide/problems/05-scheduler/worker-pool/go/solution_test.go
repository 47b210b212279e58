// The Go twin of solution.rs: one goroutine per P, each over a contiguous range.
package workerpool

import (
	"runtime"
	"sync"
	"testing"
)

func checksumSolution(n uint64) uint64 {
	workers := uint64(runtime.GOMAXPROCS(0))
	chunk := (n + workers - 1) / workers
	sums := make([]uint64, workers)
	var wg sync.WaitGroup
	for w := uint64(0); w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var s uint64
			for i := lo; i < hi; i++ {
				s += mix(i)
			}
			sums[w] = s
		}()
	}
	wg.Wait()
	var sum uint64
	for _, s := range sums {
		sum += s
	}
	return sum
}

func TestSame(t *testing.T) {
	if a, b := checksumStart(2000), checksumSolution(2000); a != b {
		t.Fatalf("start %d != solution %d", a, b)
	}
}

func BenchmarkChecksumSolution(b *testing.B) {
	for b.Loop() {
		checksumSolution(2000)
	}
}
