// Problem 06-memory-model/check-then-act: a reference solution.

use gort::sync::Mutex;
use std::collections::HashMap;

/// Claims `seat` for `who` if nobody holds it yet; true if this call won the seat.
///
/// One guard covers the check and the act, so no other claim can run between them. Holding a
/// *gort* `MutexGuard` across a yield or a park is fine (the goroutine never changes thread,
/// and a waiter parks instead of blocking the P); a `std::sync::Mutex` held across a yield
/// would block the P's thread of the next goroutine that tries to lock it, and with every
/// goroutine on one P that is a deadlock. (`m.entry(seat)` does the same in one call.)
pub fn claim(seats: &Mutex<HashMap<u32, u32>>, seat: u32, who: u32) -> bool {
    let mut m = seats.lock();
    if m.contains_key(&seat) {
        return false;
    }
    gort::yield_now();
    m.insert(seat, who);
    true
}
