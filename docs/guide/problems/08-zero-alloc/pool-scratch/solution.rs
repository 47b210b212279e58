// Problem 08-zero-alloc/pool-scratch: a reference solution.

use gort::sync::Pool;
use std::sync::LazyLock;

/// Scratch buffers, one cache per P (Go's `sync.Pool` of `*[]byte`). Emptied by each GC cycle,
/// so a pool is a cache, not a free list: `get` may always build a new buffer.
static SCRATCH: LazyLock<Pool<Vec<u8>>> = LazyLock::new(|| Pool::new(|| Vec::with_capacity(4096)));

/// The median byte of `data` (the lower one for an even length; 0 for empty data), sorted in
/// a pooled scratch buffer: after the first calls, `get` hands back a buffer whose capacity
/// is already big enough, and `put` returns it.
pub fn median_byte(data: &[u8]) -> u8 {
    if data.is_empty() {
        return 0;
    }
    let mut scratch = SCRATCH.get();
    scratch.clear();
    scratch.extend_from_slice(data);
    scratch.sort_unstable();
    let m = scratch[(scratch.len() - 1) / 2];
    SCRATCH.put(scratch);
    m
}
