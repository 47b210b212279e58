// The Go twin of solution.rs: a generic Stack[T]. The uint64 values are stored inline in the
// slice; the compiler stencils one copy of the code per GC shape (all 8-byte non-pointer
// types share one) and passes a dictionary for what differs.
package anystack

import "testing"

type Stack[T any] struct{ items []T }

func (s *Stack[T]) Push(v T) { s.items = append(s.items, v) }

func (s *Stack[T]) Pop() (T, bool) {
	var zero T
	if len(s.items) == 0 {
		return zero, false
	}
	v := s.items[len(s.items)-1]
	s.items = s.items[:len(s.items)-1]
	return v, true
}

func sumViaStack(n uint64) uint64 {
	var s Stack[uint64]
	for i := uint64(0); i < n; i++ {
		s.Push(i)
	}
	var sum uint64
	for v, ok := s.Pop(); ok; v, ok = s.Pop() {
		sum += v
	}
	return sum
}

// The hand-specialised version: what the generic one should cost.
func sumViaSlice(n uint64) uint64 {
	var items []uint64
	for i := uint64(0); i < n; i++ {
		items = append(items, i)
	}
	var sum uint64
	for len(items) > 0 {
		sum += items[len(items)-1]
		items = items[:len(items)-1]
	}
	return sum
}

func BenchmarkSolution(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if sumViaStack(1000) != 499500 {
			b.Fatal("wrong sum")
		}
	}
}

func BenchmarkHandSpecialised(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if sumViaSlice(1000) != 499500 {
			b.Fatal("wrong sum")
		}
	}
}
