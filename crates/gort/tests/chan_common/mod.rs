//! Helpers shared by the channel tests (`mod chan_common;` in each).

/// Many-to-many on one channel: `sides` producers share out `0..n` and `sides` consumers sum
/// what they receive, on a channel of capacity `cap`; returns the total (which must be
/// `n * (n - 1) / 2`). Call it from a goroutine (`Runtime::block_on`).
pub fn many_to_many(sides: u64, cap: usize, n: u64) -> u64 {
    let (tx, rx) = gort::chan::bounded::<u64>(cap);
    let ps: Vec<_> = (0..sides)
        .map(|p| {
            let tx = tx.clone();
            gort::go(move || {
                for i in (p..n).step_by(sides as usize) {
                    tx.send(i).unwrap();
                }
            })
        })
        .collect();
    let cs: Vec<_> = (0..sides)
        .map(|_| {
            let rx = rx.clone();
            gort::go(move || rx.iter().sum::<u64>())
        })
        .collect();
    for p in ps {
        p.join().unwrap();
    }
    tx.close().unwrap();
    cs.into_iter().map(|c| c.join().unwrap()).sum()
}
