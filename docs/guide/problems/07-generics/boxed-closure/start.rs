// Problem 07-generics/boxed-closure: the start. Edit this file; `cargo run -p gort-guide --
// check boxed-closure` counts the allocations of one call of `scale_rows` on 100 rows.

/// Applies `f` to every element of `xs`.
pub fn apply(xs: &mut [u64], f: Box<dyn Fn(u64) -> u64>) {
    for x in xs.iter_mut() {
        *x = f(*x);
    }
}

/// Multiplies row `i` by `k + i`.
pub fn scale_rows(rows: &mut [Vec<u64>], k: u64) {
    for (i, row) in rows.iter_mut().enumerate() {
        let m = k + i as u64;
        apply(row, Box::new(move |x| x.wrapping_mul(m)));
    }
}
