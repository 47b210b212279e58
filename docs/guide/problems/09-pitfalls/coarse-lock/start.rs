// Problem 09-pitfalls/coarse-lock: the start. Edit this file; `cargo run -p gort-guide --
// check coarse-lock` runs 8 goroutines that each look up 4 keys that are not cached yet, and
// compares their time with the unedited start's.

use gort::sync::Mutex;
use std::collections::HashMap;

/// A cache in front of a slow `fetch` (a network call: about 1 ms of waiting).
#[derive(Default)]
pub struct Cache {
    pub map: Mutex<HashMap<u32, u64>>,
}

/// The value of `key`: from the cache, or fetched (and then cached) on a miss.
pub fn get(cache: &Cache, key: u32, fetch: fn(u32) -> u64) -> u64 {
    let mut m = cache.map.lock();
    if let Some(&v) = m.get(&key) {
        return v;
    }
    let v = fetch(key);
    m.insert(key, v);
    v
}
