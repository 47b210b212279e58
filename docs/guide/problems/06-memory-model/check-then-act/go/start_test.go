// The Go twin of start.rs: every map access is under the mutex, so `go test -race` reports no
// data race, and the test still fails: seats are won more than once. A logic race is found by
// checking the invariant, not by the race detector.
package checkthenact

import (
	"runtime"
	"sync"
	"testing"
)

type seats struct {
	mu    sync.Mutex
	owner map[int]int
}

func (s *seats) claimStart(seat, who int) bool {
	s.mu.Lock()
	_, taken := s.owner[seat]
	s.mu.Unlock()
	if taken {
		return false
	}
	runtime.Gosched() // the work between the check and the act
	s.mu.Lock()
	s.owner[seat] = who
	s.mu.Unlock()
	return true
}

// wins runs 4 goroutines that claim seats 0..25 and counts the wins.
func wins(claim func(s *seats, seat, who int) bool) int {
	s := &seats{owner: map[int]int{}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for who := 0; who < 4; who++ {
		wg.Add(1)
		go func(who int) {
			defer wg.Done()
			for seat := 0; seat < 25; seat++ {
				if claim(s, seat, who) {
					mu.Lock()
					total++
					mu.Unlock()
				}
			}
		}(who)
	}
	wg.Wait()
	return total
}

func TestStart(t *testing.T) {
	if n := wins((*seats).claimStart); n != 25 {
		t.Errorf("%d wins for 25 seats", n)
	}
}
