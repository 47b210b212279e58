// Problem 02-architecture/blocking-call: the start. Edit this file; `cargo run -p gort-guide
// -- check blocking-call` measures it (on a runtime with GOMAXPROCS=1). It must give the same
// result at least 3 times faster. Keep `slow_library_call` as it is: it is the library.

use std::sync::mpsc;
use std::time::Duration;

/// Stands in for a library call that blocks its OS thread for about 1 ms (a synchronous
/// database driver, `getaddrinfo`, a `std` lock or channel): a futex wait, which gort does
/// not interpose, so the goroutine's P cannot run anything else meanwhile.
pub fn slow_library_call() -> u64 {
    let (_tx, rx) = mpsc::channel::<u64>();
    let _ = rx.recv_timeout(Duration::from_millis(1));
    1
}

/// Serves `n` requests, each in its own goroutine making two library calls; returns the
/// number of calls made.
pub fn serve(n: usize) -> u64 {
    let handles: Vec<_> = (0..n)
        .map(|_| gort::go(|| slow_library_call() + slow_library_call()))
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).sum()
}
