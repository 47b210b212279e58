//! The binary-trees program shared by the rival binaries (Benchmarks Game rules, sequential;
//! the program of crates/gort/examples/binary_trees.rs, same output): [`tree!`] defines the node
//! type, `bottom_up` and `check` for one pointer type, [`run`] the driver.

/// Defines `Node` (two optional children behind `$ptr`), `bottom_up(depth)` and `check(&Node)`;
/// attributes before the pointer type go on `Node` (its derives).
#[macro_export]
macro_rules! tree {
    ($(#[$m:meta])* $ptr:ident) => {
        $(#[$m])*
        struct Node {
            left: Option<$ptr<Node>>,
            right: Option<$ptr<Node>>,
        }

        $crate::tree_fns!($ptr);
    };
}

/// `bottom_up(depth)` and `check(&Node)` for a `Node` with `left`/`right: Option<$ptr<Node>>`
/// defined by hand (for derive macros that do not accept a struct from a `macro_rules!`).
#[macro_export]
macro_rules! tree_fns {
    ($ptr:ident) => {
        fn bottom_up(depth: u32) -> $ptr<Node> {
            if depth == 0 {
                $ptr::new(Node {
                    left: None,
                    right: None,
                })
            } else {
                $ptr::new(Node {
                    left: Some(bottom_up(depth - 1)),
                    right: Some(bottom_up(depth - 1)),
                })
            }
        }

        fn check(n: &Node) -> u32 {
            match (&n.left, &n.right) {
                (Some(l), Some(r)) => 1 + check(l) + check(r),
                _ => 1,
            }
        }
    };
}

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
