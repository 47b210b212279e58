// Problem 07-generics/boxed-closure: a reference solution.

/// Applies `f` to every element of `xs`. Generic over the closure's type: each caller's
/// closure is passed by value (here 8 bytes, its captured `m`), no box, and the call can be
/// inlined into the loop. `f: &dyn Fn(u64) -> u64` would also allocate nothing (the closure
/// stays on the caller's stack), keeping one copy of `apply` at the price of an indirect call
/// per element.
pub fn apply(xs: &mut [u64], f: impl Fn(u64) -> u64) {
    for x in xs.iter_mut() {
        *x = f(*x);
    }
}

/// Multiplies row `i` by `k + i`.
pub fn scale_rows(rows: &mut [Vec<u64>], k: u64) {
    for (i, row) in rows.iter_mut().enumerate() {
        let m = k + i as u64;
        apply(row, move |x| x.wrapping_mul(m));
    }
}
