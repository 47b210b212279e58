// Problem 09-pitfalls/coarse-lock: a reference solution.

use gort::sync::Mutex;
use std::collections::HashMap;

/// A cache in front of a slow `fetch` (a network call: about 1 ms of waiting).
#[derive(Default)]
pub struct Cache {
    pub map: Mutex<HashMap<u32, u64>>,
}

/// The value of `key`: from the cache, or fetched (and then cached) on a miss.
///
/// The lock guards the map, not the fetch: it is released before the slow call and taken
/// again to insert, so 8 goroutines fetching 8 different keys wait for their fetches at the
/// same time instead of one after the other. Two goroutines that miss the same key at once
/// both fetch it; the first insert wins (`or_insert`) and both return the cached value. When a
/// duplicate fetch is too expensive, record an in-flight entry under the lock and let the
/// others wait on it (Go: `golang.org/x/sync/singleflight`).
pub fn get(cache: &Cache, key: u32, fetch: fn(u32) -> u64) -> u64 {
    if let Some(&v) = cache.map.lock().get(&key) {
        return v;
    }
    let v = fetch(key);
    *cache.map.lock().entry(key).or_insert(v)
}
