// GC pause latency with a large live heap; the Go side of crates/gort/examples/gc_latency.rs
// (same structure: 1024 chains of 64-byte objects, short-lived lists, one chain replaced
// every 16 iterations).
//
//	go run ./cmd/gclatency 256 5   # LIVE_MIB SECS
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"time"
)

type Obj struct {
	next    *Obj
	payload [6]uint64
}

var sink *Obj

func chain(n int, seed uint64) *Obj {
	var head *Obj
	for i := uint64(0); i < uint64(n); i++ {
		o := &Obj{next: head}
		for j := range o.payload {
			o.payload[j] = seed ^ i
		}
		head = o
	}
	return head
}

func main() {
	liveMiB, secs := 256, 5
	if len(os.Args) > 1 {
		liveMiB, _ = strconv.Atoi(os.Args[1])
	}
	if len(os.Args) > 2 {
		secs, _ = strconv.Atoi(os.Args[2])
	}
	perChain := (liveMiB << 20) / 64 / 1024
	t := time.Now()
	chains := make([]*Obj, 1024)
	for i := range chains {
		chains[i] = chain(perChain, uint64(i))
	}
	build := time.Since(t)
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	before := m.NumGC
	t = time.Now()
	iters := uint64(0)
	for time.Since(t) < time.Duration(secs)*time.Second {
		sink = chain(100, iters)
		if iters%16 == 0 {
			k := int(iters/16) % len(chains)
			chains[k] = chain(perChain, iters)
		}
		iters++
	}
	runtime.ReadMemStats(&m)
	n := int(m.NumGC - before)
	if n > 256 {
		n = 256
	}
	pauses := make([]uint64, 0, n)
	for k := 0; k < n; k++ {
		pauses = append(pauses, m.PauseNs[(int(m.NumGC)+255-k)%256])
	}
	sort.Slice(pauses, func(i, j int) bool { return pauses[i] < pauses[j] })
	pct := func(p float64) uint64 {
		if n == 0 {
			return 0
		}
		i := int(float64(n) * p)
		if i >= n {
			i = n - 1
		}
		return pauses[i]
	}
	var max uint64
	if n > 0 {
		max = pauses[n-1]
	}
	fmt.Printf("go: live %d MiB (built in %.2fs), %d iterations in %ds, %d cycles; per-cycle STW (both pauses) p50 %.3f ms p99 %.3f ms max %.3f ms; heap in use %d MiB\n",
		liveMiB, build.Seconds(), iters, secs, m.NumGC-before, float64(pct(0.5))/1e6, float64(pct(0.99))/1e6, float64(max)/1e6, m.HeapInuse>>20)
	runtime.KeepAlive(chains)
}
