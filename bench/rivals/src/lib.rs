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

// The driver is gort's own (`examples/binary_trees.rs` runs the same file), so every
// contender prints the same output from the same loop.
#[path = "../../../crates/gort/examples/common/binary_trees_run.rs"]
mod driver;
pub use driver::run;
