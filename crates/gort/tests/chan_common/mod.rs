//! Helpers shared by the channel tests (`mod chan_common;` in each).

/// Many-to-many on one channel: `sides` producers share out `0..n` and `sides` consumers sum
/// what they receive, on a channel of capacity `cap`; returns the total (which must be
/// `n * (n - 1) / 2`). Call it from a goroutine (`Runtime::block_on`).
#[allow(dead_code)]
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

/// `block_on` that then checks the leak detector found nothing: the channel tests run through
/// it, so a false positive of `goroutineleak` (a goroutine reported as unable to wake that
/// could) fails them.
#[allow(dead_code)]
pub trait NoLeaks {
    fn block_on_no_leaks<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T;
}

impl NoLeaks for gort::Runtime {
    #[track_caller]
    fn block_on_no_leaks<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        self.block_on(move || {
            let v = f();
            let n = gort::debug::num_leaked_goroutines();
            assert_eq!(
                n,
                0,
                "the leak detector reported goroutines of a channel test:\n{}",
                gort::debug::goroutine_dump()
            );
            v
        })
    }
}
