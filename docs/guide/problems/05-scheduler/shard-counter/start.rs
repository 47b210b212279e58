// Problem 05-scheduler/shard-counter: the start. Edit this file; `cargo run -p gort-guide --
// check shard-counter` measures it (GOMAXPROCS=2). Same count, at least 3 times faster.

use gort::sync::Mutex;
use std::sync::Arc;

/// Counts the events of `workers` goroutines, each seeing `events` events, of which those
/// with an even number count (a stand-in for "requests that matched").
pub fn count_events(workers: u64, events: u64) -> u64 {
    let total = Arc::new(Mutex::new(0u64));
    let handles: Vec<_> = (0..workers)
        .map(|w| {
            let total = total.clone();
            gort::GoBuilder::new()
                .placement(gort::Placement::Spread)
                .go(move || {
                    let mut e = 0;
                    while e < events {
                        if (w + e) % 2 == 0 {
                            *total.lock() += 1;
                        }
                        e += 1;
                    }
                })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let n = *total.lock();
    n
}
