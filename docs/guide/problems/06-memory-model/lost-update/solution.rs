// Problem 06-memory-model/lost-update: a reference solution.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counts one event. The read, the add and the write are one atomic read-modify-write
/// (Go: `atomic.AddUint64(&n, 1)` or `n.Add(1)` on an `atomic.Uint64`), so no other hit can
/// land between them. `Relaxed` is enough for a counter: nothing else is published through it,
/// and whoever reads the total after `join` (or `WaitGroup::wait`) is ordered after every hit
/// by the join itself.
pub fn hit(counter: &AtomicU64) {
    gort::yield_now();
    counter.fetch_add(1, Ordering::Relaxed);
}
