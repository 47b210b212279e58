// The Go twin of start.rs: fmt.Sprintf builds a string per record (and boxes its
// arguments into interfaces), then the string is copied into the buffer.
// Run: go test -bench . -benchmem
package format

import (
	"fmt"
	"testing"
)

type reading struct {
	id    uint32
	value float64
}

func readings() []reading {
	r := make([]reading, 100)
	for i := range r {
		r[i] = reading{uint32(i), float64(i)*1.25 + 0.004}
	}
	return r
}

func renderStart(out []byte, rs []reading) []byte {
	out = out[:0]
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%d=%.2f;", r.id, r.value)...)
	}
	return out
}

func BenchmarkRenderStart(b *testing.B) {
	rs := readings()
	var out []byte
	for b.Loop() {
		out = renderStart(out, rs)
	}
}
