// Problem 03-allocations/prealloc: a reference solution.

/// The squares of 0..n, as a vector: the size is known up front, so one allocation of the
/// final size replaces the doublings of `push` (Go: `make([]uint64, 0, n)`).
pub fn squares(n: usize) -> Vec<u64> {
    let mut v = Vec::with_capacity(n);
    for i in 0..n as u64 {
        v.push(i * i);
    }
    v
}
