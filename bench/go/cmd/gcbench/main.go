// Hans Boehm's GCBench, the Go side of crates/gort/examples/gcbench.rs: same parameters, same
// output. A stretch tree of depth 18, then a long-lived tree of depth 16 and a long-lived
// array of 500 000 doubles, then for depths 4, 6, .., 16 as many trees as make twice the
// stretch tree's nodes, built top down (populate) and bottom up (makeTree), each dropped at
// once.
//
//	go run ./cmd/gcbench
//	GODEBUG=gctrace=1 go run ./cmd/gcbench
package main

import (
	"fmt"
	"os"
	"runtime"
	"time"
	"unsafe"
)

const (
	stretchTreeDepth   = 18
	longLivedTreeDepth = 16
	arraySize          = 500000
	minTreeDepth       = 4
	maxTreeDepth       = 16
)

// Node is Boehm's node: two child pointers and two unused ints.
type Node struct {
	left, right *Node
	i, j        int32
}

// sink keeps the compiler from dropping trees that are built and never read.
var sink *Node

// treeSize is the number of nodes in a complete binary tree of depth depth.
func treeSize(depth int) int { return (1 << (depth + 1)) - 1 }

// numIters is the number of trees of depth depth that make twice the stretch tree's nodes.
func numIters(depth int) int { return 2 * treeSize(stretchTreeDepth) / treeSize(depth) }

// populate is the top-down construction: gives node two new children, then populates them.
func populate(depth int, node *Node) {
	if depth <= 0 {
		return
	}
	node.left = &Node{}
	node.right = &Node{}
	populate(depth-1, node.left)
	populate(depth-1, node.right)
}

// makeTree is the bottom-up construction: children first.
func makeTree(depth int) *Node {
	if depth <= 0 {
		return &Node{}
	}
	return &Node{left: makeTree(depth - 1), right: makeTree(depth - 1)}
}

// count is the number of nodes reachable from node (the checks at the end).
func count(node *Node) int {
	n := 1
	if node.left != nil {
		n += count(node.left)
	}
	if node.right != nil {
		n += count(node.right)
	}
	return n
}

func printDiagnostics() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	fmt.Printf(" Heap in use %d KiB, live %d KiB, %d GCs so far\n", m.HeapInuse>>10, m.HeapAlloc>>10, m.NumGC)
}

func timeConstruction(depth int) {
	iters := numIters(depth)
	fmt.Printf("Creating %d trees of depth %d\n", iters, depth)
	t := time.Now()
	for i := 0; i < iters; i++ {
		temp := &Node{}
		populate(depth, temp)
		sink = temp
	}
	fmt.Printf("\tTop down construction took %d ms\n", time.Since(t).Milliseconds())
	t = time.Now()
	for i := 0; i < iters; i++ {
		sink = makeTree(depth)
	}
	fmt.Printf("\tBottom up construction took %d ms\n", time.Since(t).Milliseconds())
	sink = nil
}

func main() {
	fmt.Println("Garbage Collector Test")
	fmt.Printf(" Live storage will peak at %d bytes.\n\n",
		2*int(unsafe.Sizeof(Node{}))*treeSize(longLivedTreeDepth)+8*arraySize)
	fmt.Printf(" Stretching memory with a binary tree of depth %d\n", stretchTreeDepth)
	printDiagnostics()
	start := time.Now()

	// Stretch the memory space quickly.
	sink = makeTree(stretchTreeDepth)
	sink = nil

	// A long-lived tree and array, live for the rest of the run.
	fmt.Printf(" Creating a long-lived binary tree of depth %d\n", longLivedTreeDepth)
	longLived := &Node{}
	populate(longLivedTreeDepth, longLived)
	fmt.Printf(" Creating a long-lived array of %d doubles\n", arraySize)
	array := make([]float64, arraySize)
	for i := 0; i < arraySize/2; i++ {
		array[i] = 1.0 / float64(i)
	}
	printDiagnostics()

	for d := minTreeDepth; d <= maxTreeDepth; d += 2 {
		timeConstruction(d)
	}

	if count(longLived) != treeSize(longLivedTreeDepth) || array[1000] != 1.0/1000 {
		fmt.Println("Failed")
		os.Exit(1)
	}
	elapsed := time.Since(start)
	printDiagnostics()
	fmt.Printf("Completed in %d ms.\n", elapsed.Milliseconds())
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	var worst uint64
	for _, p := range m.PauseNs {
		if p > worst {
			worst = p
		}
	}
	fmt.Printf("go: NumGC %d, max pause %.3f ms, total pause %.1f ms\n",
		m.NumGC, float64(worst)/1e6, float64(m.PauseTotalNs)/1e6)
	runtime.KeepAlive(longLived)
	runtime.KeepAlive(array)
}
