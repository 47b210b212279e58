// The Go twin of start.rs: the map is built inside the timed loop, so ns/op is the cost of
// building it, not of the lookup. Run: go test -bench . -benchmem
package setupinloop

import "testing"

func buildMap() map[uint64]uint64 {
	m := make(map[uint64]uint64)
	for k := uint64(0); k < 10000; k++ {
		m[k*7] = k
	}
	return m
}

var sink uint64

func BenchmarkLookupStart(b *testing.B) {
	for i := 0; i < b.N; i++ {
		m := buildMap()
		sink += m[uint64(i%10000)*7]
	}
}
