// Problem 01-playbook/setup-in-loop: a reference solution.

use gort::testing::B;
use std::collections::HashMap;
use std::hint::black_box;

/// The map the lookups search: 10,000 keys.
pub fn build_map() -> HashMap<u64, u64> {
    (0..10_000u64).map(|k| (k * 7, k)).collect()
}

/// A benchmark of one lookup: the map is built once, before the timed loop, and the timer is
/// reset after it (Go: build it before `for b.Loop()`, or call `b.ResetTimer()`).
pub fn bench_lookup(b: &mut B) {
    let map = build_map();
    b.reset_timer();
    for i in b.iter() {
        black_box(map.get(&black_box(i % 10_000 * 7)));
    }
}
