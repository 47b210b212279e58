// The Go twins of gort's scheduling suite (crates/gort/benches/sched.rs, issue 15): the same
// workloads under the same names and constants, where placement, wake-ups and load balance
// decide the time. bench/sched/run.sh runs both sides at GOMAXPROCS=1 and 2, quiet and under
// a competing load, and prints the ratio table (see bench/sched/README.md).
//
//	go test -run none -bench '^BenchmarkSched' -benchtime 200ms
//
// Set-up (spawning the chain, the producers, the workers) is inside the timed region, as on
// the gort side, amortised over b.N. Each benchmark's comment says what one op is.
package bench

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Relay goroutines in the pipeline chain.
const chainStages = 2000

// BenchmarkSchedPipelineChain: a chain of 2,000 relay goroutines joined by unbuffered
// channels (the shape of the prime sieve, without the arithmetic); a feeder goroutine pushes
// ceil(N/2000) items in at one end and the benchmark goroutine takes them out at the other.
// One op = one item crossing one stage (one unbuffered hand-off).
func BenchmarkSchedPipelineChain(b *testing.B) {
	items := (b.N + chainStages - 1) / chainStages
	first := make(chan int)
	in := first
	var wg sync.WaitGroup
	wg.Add(chainStages)
	for s := 0; s < chainStages; s++ {
		out := make(chan int)
		go func(in <-chan int, out chan<- int) {
			for v := range in {
				out <- v + 1
			}
			close(out)
			wg.Done()
		}(in, out)
		in = out
	}
	go func() {
		for i := 0; i < items; i++ {
			first <- i
		}
		close(first)
	}()
	sum := 0
	for v := range in {
		sum += v
	}
	wg.Wait()
	if want := items*(items-1)/2 + items*chainStages; sum != want {
		b.Fatalf("sum %d, want %d", sum, want)
	}
}

// Producers in FanIn.
const fanInProducers = 100

// BenchmarkSchedFanIn: 100 producer goroutines send into one unbuffered channel, the
// benchmark goroutine receives. One op = one item received (the N items are shared out among
// the producers).
func BenchmarkSchedFanIn(b *testing.B) {
	n := b.N
	ch := make(chan int)
	var wg sync.WaitGroup
	wg.Add(fanInProducers)
	for p := 0; p < fanInProducers; p++ {
		go func(p int) {
			for i := p; i < n; i += fanInProducers {
				ch <- i
			}
			wg.Done()
		}(p)
	}
	sum := 0
	for i := 0; i < n; i++ {
		sum += <-ch
	}
	wg.Wait()
	sink = sum
}

const (
	poolWorkers    = 8    // workers in WorkerPool (fixed: 1 P and 2 Ps run the same program)
	poolBuffer     = 64   // capacity of the jobs and the results channels
	poolWorkRounds = 1000 // xorshift rounds per job: about 1.7 us of dependent arithmetic (the same in both compilers)
)

// poolWork is the job: poolWorkRounds rounds of xorshift64 (the same arithmetic as gort's).
func poolWork(x uint64) uint64 {
	x |= 1
	for i := 0; i < poolWorkRounds; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

// BenchmarkSchedWorkerPool: fan-out/fan-in. A dispatcher goroutine sends N jobs into a
// 64-slot jobs channel, 8 worker goroutines each compute ~1.7 us of arithmetic per job and
// send the result into a 64-slot results channel, and the benchmark goroutine collects the N
// results. One op = one job dispatched, computed and collected; the work dominates, so at 2
// Ps ns/op should approach half the 1-P figure: this is the suite's test of load balance.
func BenchmarkSchedWorkerPool(b *testing.B) {
	n := b.N
	jobs := make(chan uint64, poolBuffer)
	results := make(chan uint64, poolBuffer)
	var wg sync.WaitGroup
	wg.Add(poolWorkers)
	for w := 0; w < poolWorkers; w++ {
		go func() {
			for j := range jobs {
				results <- poolWork(j)
			}
			wg.Done()
		}()
	}
	go func() {
		for i := 0; i < n; i++ {
			jobs <- uint64(i)
		}
		close(jobs)
	}()
	var sum uint64
	for i := 0; i < n; i++ {
		sum += <-results
	}
	wg.Wait()
	sink = sum
}

// treeNode is one node of the spawn tree: a goroutine that owns k goroutines (itself and its
// subtree), spawns two children owning the rest split in halves, and waits for them.
func treeNode(k int, parent *sync.WaitGroup) {
	rest := k - 1
	left := rest / 2
	right := rest - left
	var wg sync.WaitGroup
	if left > 0 {
		wg.Add(1)
		go treeNode(left, &wg)
	}
	if right > 0 {
		wg.Add(1)
		go treeNode(right, &wg)
	}
	wg.Wait()
	parent.Done()
}

// BenchmarkSchedSpawnTree: a binary spawn tree of exactly N goroutines: each spawns two
// children (the rest of its share split in halves) and waits for them with a WaitGroup (gort:
// joins their handles). One op = one goroutine of the tree. bench/sched/run.sh runs it at
// -benchtime 1048575x: the full binary tree of depth 20, a million goroutines.
func BenchmarkSchedSpawnTree(b *testing.B) {
	var wg sync.WaitGroup
	wg.Add(1)
	go treeNode(b.N, &wg)
	wg.Wait()
}

// BenchmarkSchedSpawnJoin: spawn one goroutine that does nothing and wait for it, one at a
// time (a WaitGroup of one; gort joins the handle). One op = one spawn + join.
func BenchmarkSchedSpawnJoin(b *testing.B) {
	var wg sync.WaitGroup
	for i := 0; i < b.N; i++ {
		wg.Add(1)
		go func() { wg.Done() }()
		wg.Wait()
	}
}

// BenchmarkSchedPingPongCrossP: a round trip over two unbuffered channels between two
// goroutines, where the echo goroutine is started while the benchmark goroutine is busy (it
// spins until the echo runs, for at most 1 ms, then yields), so that at GOMAXPROCS=2 another
// P has to pick it up. Go then moves each readied goroutine to its waker's P, so the pair may
// settle on one P; gort never moves a started goroutine. One op = one round trip.
func BenchmarkSchedPingPongCrossP(b *testing.B) {
	ping, pong := make(chan int), make(chan int)
	var started atomic.Bool
	go func() {
		started.Store(true)
		for v := range ping {
			pong <- v
		}
	}()
	waitStarted(&started)
	for i := 0; i < b.N; i++ {
		ping <- i
		<-pong
	}
	close(ping)
}

// waitStarted spins until flag is set, for at most 1 ms, then yields until it is.
func waitStarted(flag *atomic.Bool) {
	t := time.Now()
	for !flag.Load() {
		if time.Since(t) >= time.Millisecond {
			runtime.Gosched()
		}
	}
}

// Producers and consumers in ManyToMany.
const m2mSides = 8

// BenchmarkSchedManyToMany: 8 producer goroutines and 8 consumer goroutines on one channel
// of capacity 1; the benchmark goroutine waits for the producers, closes the channel and
// waits for the consumers. One op = one item sent and received.
func BenchmarkSchedManyToMany(b *testing.B) {
	n := b.N
	ch := make(chan int, 1)
	var prod sync.WaitGroup
	prod.Add(m2mSides)
	for p := 0; p < m2mSides; p++ {
		go func(p int) {
			for i := p; i < n; i += m2mSides {
				ch <- i
			}
			prod.Done()
		}(p)
	}
	sums := make(chan int, m2mSides)
	for c := 0; c < m2mSides; c++ {
		go func() {
			s := 0
			for v := range ch {
				s += v
			}
			sums <- s
		}()
	}
	prod.Wait()
	close(ch)
	sum := 0
	for c := 0; c < m2mSides; c++ {
		sum += <-sums
	}
	if want := n * (n - 1) / 2; sum != want {
		b.Fatalf("sum %d, want %d", sum, want)
	}
}
