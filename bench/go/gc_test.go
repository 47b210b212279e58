// The Go side of crates/gort/benches/gc.rs (GC handle costs), under the same names, for
// side-by-side comparison with benchstat. A gort handle clone + drop is Go's pointer copy.
//
//	go test -run none -bench 'Gc' -benchmem
//	cargo bench -p gort --bench gc -- -benchmem
package bench

import "testing"

type gcNode struct {
	left, right *gcNode
	v           uint64
}

var gcSink *gcNode

//go:noinline
func gcKeep(n *gcNode) { gcSink = n }

// BenchmarkGcCloneDrop: copy a pointer to a live object (the copy escapes nowhere).
func BenchmarkGcCloneDrop(b *testing.B) {
	g := &gcNode{v: 7}
	for i := 0; i < b.N; i++ {
		c := g
		gcKeep(c)
	}
}

// BenchmarkGcCloneDropShared: the same on one object shared by every P's goroutines.
func BenchmarkGcCloneDropShared(b *testing.B) {
	g := &gcNode{v: 7}
	b.RunParallel(func(pb *testing.PB) {
		mine := g
		var local *gcNode
		for pb.Next() {
			local = mine
		}
		_ = local
	})
}

// BenchmarkGcCloneHold: pointers kept in a slice of 64, dropped together.
func BenchmarkGcCloneHold(b *testing.B) {
	g := &gcNode{v: 7}
	held := make([]*gcNode, 0, 64)
	for i := 0; i < b.N; i++ {
		held = append(held, g)
		if len(held) == 64 {
			held = held[:0]
		}
	}
}

func gcTree(depth int) *gcNode {
	if depth == 0 {
		return &gcNode{v: 1}
	}
	return &gcNode{left: gcTree(depth - 1), right: gcTree(depth - 1)}
}

func gcSum(n *gcNode) uint64 {
	if n == nil {
		return 0
	}
	return n.v + gcSum(n.left) + gcSum(n.right)
}

// BenchmarkGcTree: build a binary tree of 15 nodes bottom-up and walk it.
func BenchmarkGcTree(b *testing.B) {
	for i := 0; i < b.N; i++ {
		t := gcTree(3)
		if gcSum(t) != 8 {
			b.Fatal("bad sum")
		}
		gcKeep(t)
	}
}
