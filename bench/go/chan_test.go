// Channel, select and sync benchmarks: the Go side of crates/gort/benches/chan.rs (same
// names, same shapes). Run: cd bench/go && go test -run none -bench . -benchmem
package bench

import (
	"sync"
	"testing"
)

var chanSink uint64

func BenchmarkChanPingPong(b *testing.B) {
	c1, c2 := make(chan uint64), make(chan uint64)
	go func() {
		for v := range c1 {
			c2 <- v
		}
	}()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c1 <- uint64(i)
		chanSink = <-c2
	}
	b.StopTimer()
	close(c1)
}

func BenchmarkChanBuffered1P1C(b *testing.B) {
	c := make(chan uint64, 1024)
	n := b.N
	go func() {
		for i := 0; i < n; i++ {
			c <- uint64(i)
		}
	}()
	for i := 0; i < n; i++ {
		chanSink = <-c
	}
}

func BenchmarkChanManyToMany(b *testing.B) {
	const P = 4
	c := make(chan uint64, 128)
	n := b.N
	var pw, cw sync.WaitGroup
	var sums [P]uint64
	for p := 0; p < P; p++ {
		pw.Add(1)
		go func(p int) {
			defer pw.Done()
			for i := p; i < n; i += P {
				c <- uint64(i)
			}
		}(p)
	}
	for k := 0; k < P; k++ {
		cw.Add(1)
		go func(k int) {
			defer cw.Done()
			var s uint64
			for v := range c {
				s += v
			}
			sums[k] = s
		}(k)
	}
	pw.Wait()
	close(c)
	cw.Wait()
	chanSink = sums[0]
}

func BenchmarkSelect2(b *testing.B) {
	a, c := make(chan uint64), make(chan uint64)
	n := b.N
	go func() {
		for i := 0; i < n; i++ {
			if i&1 == 0 {
				a <- uint64(i)
			} else {
				c <- uint64(i)
			}
		}
	}()
	for i := 0; i < n; i++ {
		select {
		case v := <-a:
			chanSink = v
		case v := <-c:
			chanSink = v
		}
	}
}

func BenchmarkSelect4(b *testing.B) {
	var cs [4]chan uint64
	for i := range cs {
		cs[i] = make(chan uint64)
	}
	n := b.N
	go func() {
		for i := 0; i < n; i++ {
			cs[i&3] <- uint64(i)
		}
	}()
	for i := 0; i < n; i++ {
		select {
		case v := <-cs[0]:
			chanSink = v
		case v := <-cs[1]:
			chanSink = v
		case v := <-cs[2]:
			chanSink = v
		case v := <-cs[3]:
			chanSink = v
		}
	}
}

func BenchmarkMutexContended4(b *testing.B) {
	var m sync.Mutex
	var x uint64
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < b.N/4; i++ {
				m.Lock()
				x++
				m.Unlock()
			}
		}()
	}
	wg.Wait()
	chanSink = x
}

func BenchmarkWaitGroup4(b *testing.B) {
	var wg, done sync.WaitGroup
	for g := 0; g < 4; g++ {
		done.Add(1)
		go func() {
			defer done.Done()
			for i := 0; i < b.N/4; i++ {
				wg.Add(1)
				wg.Done()
			}
		}()
	}
	done.Wait()
	wg.Wait()
}
