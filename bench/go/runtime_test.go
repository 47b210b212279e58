// Package bench holds the Go side of gort's runtime benchmarks: the same workloads under the
// same names as crates/gort/benches/runtime.rs, so that the two outputs can be compared with
// benchstat.
//
//	go test -run none -bench . -benchmem
//	cargo bench -p gort --bench runtime -- -benchmem
package bench

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

var sink any

// BenchmarkAlloc: one 64-byte heap object per op.
func BenchmarkAlloc(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sink = new([64]byte)
	}
}

// BenchmarkAllocVec: a slice of 16 int64 grown by append without a capacity hint.
func BenchmarkAllocVec(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var v []int64
		for j := int64(0); j < 16; j++ {
			v = append(v, j)
		}
		sink = v
	}
}

// BenchmarkAllocParallel: BenchmarkAlloc on every P.
func BenchmarkAllocParallel(b *testing.B) {
	b.RunParallel(func(pb *testing.PB) {
		var local any
		for pb.Next() {
			local = new([64]byte)
		}
		sink = local
	})
}

// BenchmarkSpawn: start a goroutine that does nothing and wait for it, in batches of 128
// (as the Rust side joins its handles).
func BenchmarkSpawn(b *testing.B) {
	const batch = 128
	var wg sync.WaitGroup
	for left := b.N; left > 0; left -= batch {
		k := left
		if k > batch {
			k = batch
		}
		wg.Add(k)
		for i := 0; i < k; i++ {
			go func() { wg.Done() }()
		}
		wg.Wait()
	}
}

// BenchmarkYield: runtime.Gosched in a loop, from a goroutine.
func BenchmarkYield(b *testing.B) {
	done := make(chan struct{})
	go func() {
		for i := 0; i < b.N; i++ {
			runtime.Gosched()
		}
		close(done)
	}()
	<-done
}

// BenchmarkPingPong: a round trip over two unbuffered channels between two goroutines.
func BenchmarkPingPong(b *testing.B) {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	for i := 0; i < b.N; i++ {
		ping <- i
		<-pong
	}
	close(ping)
}

// BenchmarkParkPingPong: the Go side of gort's raw park/unpark round trip. Go's gopark and
// goready are not public; one-slot token channels (a permit each way) are the nearest thing.
func BenchmarkParkPingPong(b *testing.B) {
	ping, pong := make(chan struct{}, 1), make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		for i := 0; i < b.N; i++ {
			<-ping
			pong <- struct{}{}
		}
		close(done)
	}()
	for i := 0; i < b.N; i++ {
		ping <- struct{}{}
		<-pong
	}
	<-done
}

// BenchmarkParkedGoroutine: start goroutines that block, hold up to 20,000 at once, then
// release them; reports the resident memory each blocked goroutine adds (Go's stacks start at
// 2 KiB and are allocated from the heap, so this is mostly stack plus g).
func BenchmarkParkedGoroutine(b *testing.B) {
	const maxLive = 20000
	var worst float64
	for left := b.N; left > 0; {
		k := left
		if k > maxLive {
			k = maxLive
		}
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		release := make(chan struct{})
		var started, done sync.WaitGroup
		started.Add(k)
		done.Add(k)
		for i := 0; i < k; i++ {
			go func() {
				started.Done()
				<-release
				done.Done()
			}()
		}
		started.Wait()
		runtime.ReadMemStats(&ms1)
		if k >= 1000 {
			used := int64(ms1.StackInuse+ms1.HeapInuse) - int64(ms0.StackInuse+ms0.HeapInuse)
			if per := float64(used) / float64(k); per > worst {
				worst = per
			}
		}
		close(release)
		done.Wait()
		left -= k
	}
	if worst > 0 {
		b.ReportMetric(worst, "resident-B/goroutine")
	}
}

// BenchmarkSleepers: goroutines that each sleep 1 ms, spawned back to back (thousands asleep
// at once); ns/op is a sleeping goroutine's whole life.
func BenchmarkSleepers(b *testing.B) {
	var wg sync.WaitGroup
	wg.Add(b.N)
	for i := 0; i < b.N; i++ {
		go func() {
			time.Sleep(time.Millisecond)
			wg.Done()
		}()
	}
	wg.Wait()
}
