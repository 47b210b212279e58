// The Go twin of solution.rs: the closed set of shapes as one struct with a kind, switched
// on; no interface values, no boxes.
package dynbox

import (
	"math"
	"testing"
)

func areaOf(sp spec) float64 {
	switch sp.kind {
	case 0:
		return math.Pi * sp.size * sp.size
	case 1:
		return sp.size * sp.size
	default:
		return sp.size * (2 * sp.size)
	}
}

func totalAreaSolution(specs []spec) float64 {
	var t float64
	for _, sp := range specs {
		t += areaOf(sp)
	}
	return t
}

func TestSame(t *testing.T) {
	sp := specs()
	if a, b := totalAreaStart(sp), totalAreaSolution(sp); math.Abs(a-b) > 1e-9*a {
		t.Fatalf("start %v != solution %v", a, b)
	}
}

func BenchmarkTotalAreaSolution(b *testing.B) {
	sp := specs()
	for b.Loop() {
		sink += totalAreaSolution(sp)
	}
}
