// The Go twin of solution.rs: setup before the loop; b.Loop (Go 1.24) times only the loop
// body (older Go: build, then b.ResetTimer(), then for i := 0; i < b.N; i++).
package setupinloop

import "testing"

func BenchmarkLookupSolution(b *testing.B) {
	m := buildMap()
	i := 0
	for b.Loop() {
		sink += m[uint64(i%10000)*7]
		i++
	}
}
