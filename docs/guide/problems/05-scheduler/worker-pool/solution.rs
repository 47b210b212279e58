// Problem 05-scheduler/worker-pool: a reference solution.

/// A small unit of work: a 64-bit mix of `x` (splitmix64's finalizer).
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The wrapping sum of `mix(i)` for `i` in `0..n`: one goroutine per P, each over a
/// contiguous range. A goroutine costs a spawn, a first switch and a join (about a
/// microsecond); `mix` costs nanoseconds, so per-item goroutines measured the scheduler.
/// Chunks keep the work per goroutine far above that cost (the same holds in Go).
pub fn checksum(n: u64) -> u64 {
    let workers = gort::gomaxprocs().max(1) as u64;
    let chunk = n.div_ceil(workers);
    let handles: Vec<_> = (0..workers)
        .map(|w| {
            let (lo, hi) = (w * chunk, ((w + 1) * chunk).min(n));
            gort::go(move || (lo..hi).fold(0u64, |acc, i| acc.wrapping_add(mix(i))))
        })
        .collect();
    handles
        .into_iter()
        .fold(0u64, |acc, h| acc.wrapping_add(h.join().unwrap()))
}
