//! The binary-trees driver (Benchmarks Game rules, sequential), shared by
//! `examples/binary_trees.rs` and the rival-GC binaries in `bench/rivals` (included with
//! `#[path]`; not an example of its own): stretch tree, long-lived tree, then trees of
//! depths 4, 6, ... built and checked, with the same output as `bench/go/cmd/binarytrees`.

/// Runs binary-trees with the depth from the first argument (default 10).
pub fn run<T: std::ops::Deref>(bottom_up: fn(u32) -> T, check: fn(&T::Target) -> u32) {
    let n: u32 = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("depth: a number such as 18"))
        .unwrap_or(10);
    let min_depth = 4;
    let max_depth = n.max(min_depth + 2);
    {
        let stretch = max_depth + 1;
        println!(
            "stretch tree of depth {stretch}\t check: {}",
            check(&bottom_up(stretch))
        );
    }
    let long_lived = bottom_up(max_depth);
    let mut d = min_depth;
    while d <= max_depth {
        let iterations = 1u32 << (max_depth - d + min_depth);
        let mut chk = 0;
        for _ in 0..iterations {
            chk += check(&bottom_up(d));
        }
        println!("{iterations}\t trees of depth {d}\t check: {chk}");
        d += 2;
    }
    println!(
        "long lived tree of depth {max_depth}\t check: {}",
        check(&long_lived)
    );
}
