// The Go twin of solution.rs: one critical section for the check and the act.
package checkthenact

import (
	"runtime"
	"testing"
)

func (s *seats) claimSolution(seat, who int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.owner[seat]; taken {
		return false
	}
	runtime.Gosched() // still between the check and the act, but under the lock
	s.owner[seat] = who
	return true
}

func TestSolution(t *testing.T) {
	if n := wins((*seats).claimSolution); n != 25 {
		t.Errorf("%d wins for 25 seats", n)
	}
}
