// Problem 02-architecture/cpu-yield: a reference solution.

/// A CPU-bound job, in chunks of 16,384 rounds with a `gort::yield_now()` between them (Go's
/// `runtime.Gosched()`): a started goroutine never moves to another P and gort preempts
/// only at runtime calls, so the goroutines of this P (the ticker) run at each yield. A
/// yield costs about a microsecond; a chunk is tens of microseconds.
pub fn crunch(rounds: u64) -> u64 {
    const CHUNK: u64 = 1 << 14;
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut i = 0;
    while i < rounds {
        let end = (i + CHUNK).min(rounds);
        for j in i..end {
            h = (h ^ j).wrapping_mul(0x0100_0000_01b3);
        }
        i = end;
        gort::yield_now();
    }
    h
}
