// The Go twin of start.rs: a slice of interface values, each shape boxed on the heap
// (runtime.convT: a non-pointer value stored in an escaping interface).
// Run: go test -bench . -benchmem (and go test -gcflags=-m to see the escapes).
package dynbox

import (
	"math"
	"testing"
)

type spec struct {
	kind uint8
	size float64
}

type shape interface{ area() float64 }

type circle struct{ r float64 }
type square struct{ s float64 }
type rect struct{ w, h float64 }

func (c circle) area() float64 { return math.Pi * c.r * c.r }
func (s square) area() float64 { return s.s * s.s }
func (r rect) area() float64   { return r.w * r.h }

//go:noinline
func makeShape(sp spec) shape {
	switch sp.kind {
	case 0:
		return circle{sp.size}
	case 1:
		return square{sp.size}
	default:
		return rect{sp.size, 2 * sp.size}
	}
}

func totalAreaStart(specs []spec) float64 {
	shapes := make([]shape, 0, len(specs))
	for _, sp := range specs {
		shapes = append(shapes, makeShape(sp))
	}
	var t float64
	for _, s := range shapes {
		t += s.area()
	}
	return t
}

func specs() []spec {
	s := make([]spec, 300)
	for i := range s {
		s[i] = spec{uint8(i % 3), float64(i%17) + 0.5}
	}
	return s
}

var sink float64

func BenchmarkTotalAreaStart(b *testing.B) {
	sp := specs()
	for b.Loop() {
		sink += totalAreaStart(sp)
	}
}
