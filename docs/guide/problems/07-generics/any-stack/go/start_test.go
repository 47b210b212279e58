// The Go twin of start.rs: a stack of interface values, as Go containers were written before
// generics. Converting a uint64 to `any` allocates (runtime.convT64) unless the value is
// below 256 (runtime.staticuint64s). `go test -bench . -benchmem` shows the allocs/op.
package anystack

import "testing"

type AnyStack struct{ items []any }

func (s *AnyStack) Push(v any) { s.items = append(s.items, v) }

func (s *AnyStack) Pop() (any, bool) {
	if len(s.items) == 0 {
		return nil, false
	}
	v := s.items[len(s.items)-1]
	s.items = s.items[:len(s.items)-1]
	return v, true
}

func sumViaAnyStack(n uint64) uint64 {
	var s AnyStack
	for i := uint64(0); i < n; i++ {
		s.Push(i)
	}
	var sum uint64
	for v, ok := s.Pop(); ok; v, ok = s.Pop() {
		sum += v.(uint64) // a type assertion per element
	}
	return sum
}

func BenchmarkStart(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if sumViaAnyStack(1000) != 499500 {
			b.Fatal("wrong sum")
		}
	}
}
