// Problem 02-architecture/blocking-call: a reference solution.

use std::sync::mpsc;
use std::time::Duration;

/// Stands in for a library call that blocks its OS thread for about 1 ms.
pub fn slow_library_call() -> u64 {
    let (_tx, rx) = mpsc::channel::<u64>();
    let _ = rx.recv_timeout(Duration::from_millis(1));
    1
}

/// Serves `n` requests. `gort::blocking` runs each blocking call on a thread of gort's
/// blocking pool and parks the goroutine, so its P keeps running the other requests (Go's
/// runtime does this by itself: `entersyscall` lets sysmon hand the P to another M).
pub fn serve(n: usize) -> u64 {
    let handles: Vec<_> = (0..n)
        .map(|_| gort::go(|| gort::blocking(slow_library_call) + gort::blocking(slow_library_call)))
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).sum()
}
