// Problem 06-memory-model/check-then-act: the start. Edit this file; `cargo run -p gort-guide
// -- check check-then-act` runs 4 goroutines that each try to claim seats 0..25 and counts the
// winners of each seat (there must be exactly one).
//
// The `gort::yield_now()` stands for the work between the check and the act (a lookup, a log
// line, a preemption). Keep it: a correct `claim` is correct with it.

use gort::sync::Mutex;
use std::collections::HashMap;

/// Claims `seat` for `who` if nobody holds it yet; true if this call won the seat.
pub fn claim(seats: &Mutex<HashMap<u32, u32>>, seat: u32, who: u32) -> bool {
    if seats.lock().contains_key(&seat) {
        return false;
    }
    gort::yield_now();
    seats.lock().insert(seat, who);
    true
}
