// Problem 08-zero-alloc/pool-scratch: the start. Edit this file (keep the signature: callers
// you cannot change call `median_byte`); `cargo run -p gort-guide -- check pool-scratch`
// counts the allocations per call.

/// The median byte of `data` (the lower one for an even length; 0 for empty data). `data` is
/// borrowed and must not change, so the bytes are sorted in a scratch copy.
pub fn median_byte(data: &[u8]) -> u8 {
    if data.is_empty() {
        return 0;
    }
    let mut scratch = data.to_vec();
    scratch.sort_unstable();
    scratch[(scratch.len() - 1) / 2]
}
