// Problem 05-scheduler/worker-pool: the start. Edit this file; `cargo run -p gort-guide --
// check worker-pool` measures it (GOMAXPROCS=2). Same result, at least 4 times faster.

/// A small unit of work: a 64-bit mix of `x` (splitmix64's finalizer).
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The wrapping sum of `mix(i)` for `i` in `0..n`, in parallel: one goroutine per item.
pub fn checksum(n: u64) -> u64 {
    let handles: Vec<_> = (0..n).map(|i| gort::go(move || mix(i))).collect();
    handles
        .into_iter()
        .fold(0u64, |acc, h| acc.wrapping_add(h.join().unwrap()))
}
