// Problem 01-playbook/setup-in-loop: the start. Edit this file; `cargo run -p gort-guide --
// check setup-in-loop` measures it. The benchmark must report what one lookup costs.

use gort::testing::B;
use std::collections::HashMap;
use std::hint::black_box;

/// The map the lookups search: 10,000 keys.
pub fn build_map() -> HashMap<u64, u64> {
    (0..10_000u64).map(|k| (k * 7, k)).collect()
}

/// A benchmark of one lookup, `map.get(&key)`: its ns/op should be the cost of a lookup.
pub fn bench_lookup(b: &mut B) {
    for i in b.iter() {
        let map = build_map();
        black_box(map.get(&black_box(i % 10_000 * 7)));
    }
}
