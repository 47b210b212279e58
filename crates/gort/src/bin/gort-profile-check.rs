//! Test helper for `tests/env_profiles.rs`: a plain `#[gort::main]` program (no flags, no
//! profiling code) that burns CPU in goroutines and allocates, so that `GORT_CPUPROFILE`,
//! `GORT_MEMPROFILE` and `GORT_TRACE` have something to show.

fn work(seed: u64) -> u64 {
    let mut v: Vec<Vec<u64>> = Vec::new();
    let mut x = seed;
    let t0 = std::time::Instant::now();
    while t0.elapsed() < std::time::Duration::from_millis(300) {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        v.push(vec![x; 8]);
        if v.len() > 1000 {
            v.clear();
        }
    }
    x
}

#[gort::main]
fn main() {
    let hs: Vec<_> = (0..2).map(|i| gort::go(move || work(i))).collect();
    let sum: u64 = hs
        .into_iter()
        .map(|h| h.join().unwrap())
        .fold(0, u64::wrapping_add);
    println!("done {}", sum % 7);
}
