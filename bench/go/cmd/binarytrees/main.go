// Binary-trees (Benchmarks Game rules, sequential), the Go side of
// crates/gort/examples/binary_trees.rs: same trees, same output.
//
//	GODEBUG=gctrace=1 go run ./cmd/binarytrees 18
//
// BT_STATS=1 adds a summary on stderr (cycles, worst pause, GC CPU fraction).
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
)

type Node struct{ left, right *Node }

func bottomUp(depth int) *Node {
	if depth <= 0 {
		return &Node{}
	}
	return &Node{bottomUp(depth - 1), bottomUp(depth - 1)}
}

func (n *Node) check() int {
	if n.left == nil {
		return 1
	}
	return 1 + n.left.check() + n.right.check()
}

func main() {
	n := 10
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	minDepth := 4
	maxDepth := n
	if minDepth+2 > n {
		maxDepth = minDepth + 2
	}
	stretch := maxDepth + 1
	fmt.Printf("stretch tree of depth %d\t check: %d\n", stretch, bottomUp(stretch).check())
	longLived := bottomUp(maxDepth)
	for d := minDepth; d <= maxDepth; d += 2 {
		iterations := 1 << uint(maxDepth-d+minDepth)
		chk := 0
		for i := 0; i < iterations; i++ {
			chk += bottomUp(d).check()
		}
		fmt.Printf("%d\t trees of depth %d\t check: %d\n", iterations, d, chk)
	}
	fmt.Printf("long lived tree of depth %d\t check: %d\n", maxDepth, longLived.check())
	if os.Getenv("BT_STATS") != "" {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		var worst uint64
		for _, p := range m.PauseNs {
			if p > worst {
				worst = p
			}
		}
		fmt.Fprintf(os.Stderr, "go: %d GCs, worst pause %.3f ms, total pause %.1f ms, GC CPU %.1f%%\n",
			m.NumGC, float64(worst)/1e6, float64(m.PauseTotalNs)/1e6, m.GCCPUFraction*100)
	}
}
