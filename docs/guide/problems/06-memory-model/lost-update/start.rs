// Problem 06-memory-model/lost-update: the start. Edit this file; `cargo run -p gort-guide --
// check lost-update` runs 4 goroutines that call `hit` 250 times each and counts.
//
// The `gort::yield_now()` stands for whatever can run between two instructions of a goroutine:
// a preemption, another P's core, an interrupt. It makes the bug show on every run instead of
// once a week in production. Keep it where it is: a correct `hit` is correct with it.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counts one event. Called by many goroutines at once.
pub fn hit(counter: &AtomicU64) {
    let n = counter.load(Ordering::Relaxed);
    gort::yield_now();
    counter.store(n + 1, Ordering::Relaxed);
}
