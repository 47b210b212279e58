// Problem 03-allocations/prealloc: the start. Edit this file; `cargo run -p gort-guide --
// check prealloc` measures it. It must produce the same result with at most 1 allocation per
// call.

/// The squares of 0..n, as a vector.
pub fn squares(n: usize) -> Vec<u64> {
    let mut v = Vec::new();
    for i in 0..n as u64 {
        v.push(i * i);
    }
    v
}
