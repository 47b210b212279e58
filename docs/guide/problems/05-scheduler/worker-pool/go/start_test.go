// The Go twin of start.rs: a goroutine per item. Run: go test -bench . -benchmem
package workerpool

import (
	"sync"
	"testing"
)

func mix(x uint64) uint64 {
	z := x + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func checksumStart(n uint64) uint64 {
	out := make([]uint64, n)
	var wg sync.WaitGroup
	for i := uint64(0); i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = mix(i)
		}()
	}
	wg.Wait()
	var sum uint64
	for _, v := range out {
		sum += v
	}
	return sum
}

func BenchmarkChecksumStart(b *testing.B) {
	for b.Loop() {
		checksumStart(2000)
	}
}
