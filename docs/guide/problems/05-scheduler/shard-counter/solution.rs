// Problem 05-scheduler/shard-counter: a reference solution.

/// Counts the events of `workers` goroutines (spread over the Ps). Each goroutine counts in
/// a local variable (a shard of its own) and returns it; the shards are summed once at the
/// end. One shared counter cost a lock and an unlock per event and, with 2 Ps, the lock's
/// cache line bouncing between cores and goroutines spinning or parking on it (the mutex
/// profile's top entry). Where a shared value must stay readable while counting, shard it
/// per P or per goroutine (an `AtomicU64` per shard, padded to a cache line) and sum on read.
pub fn count_events(workers: u64, events: u64) -> u64 {
    let handles: Vec<_> = (0..workers)
        .map(|w| {
            gort::GoBuilder::new()
                .placement(gort::Placement::Spread)
                .go(move || {
                    let mut mine = 0u64;
                    let mut e = 0;
                    while e < events {
                        if (w + e) % 2 == 0 {
                            mine += 1;
                        }
                        e += 1;
                    }
                    mine
                })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).sum()
}
