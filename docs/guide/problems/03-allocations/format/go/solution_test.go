// The Go twin of solution.rs: strconv's Append functions format into the reused buffer.
package format

import (
	"strconv"
	"testing"
)

func renderSolution(out []byte, rs []reading) []byte {
	out = out[:0]
	for _, r := range rs {
		out = strconv.AppendUint(out, uint64(r.id), 10)
		out = append(out, '=')
		out = strconv.AppendFloat(out, r.value, 'f', 2, 64)
		out = append(out, ';')
	}
	return out
}

func TestSame(t *testing.T) {
	rs := readings()
	if a, b := string(renderStart(nil, rs)), string(renderSolution(nil, rs)); a != b {
		t.Fatalf("start %q != solution %q", a, b)
	}
}

func BenchmarkRenderSolution(b *testing.B) {
	rs := readings()
	var out []byte
	for b.Loop() {
		out = renderSolution(out, rs)
	}
}
