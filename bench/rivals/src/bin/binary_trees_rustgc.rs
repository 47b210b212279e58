//! binary-trees (Benchmarks Game rules, sequential) on rust-gc (crate `gc`): the program of
//! crates/gort/examples/binary_trees.rs with `gc::Gc` for `gort::Gc`; same output.
//!
//! rust-gc's heap is thread-local (`gc::Gc` is neither `Send` nor `Sync`), so this can only
//! ever be single-threaded; so is the gort example it is compared with.
//!
//! `BT_STATS=1` adds a summary on stderr (collections performed).
// gc_derive 0.5 expands to impls inside a `const _` block, which newer rustc lints.
#![allow(non_local_definitions)]

use gc::{Finalize, Gc, Trace};

#[derive(Trace, Finalize)]
struct Node {
    left: Option<Gc<Node>>,
    right: Option<Gc<Node>>,
}

fn bottom_up(depth: u32) -> Gc<Node> {
    if depth == 0 {
        Gc::new(Node {
            left: None,
            right: None,
        })
    } else {
        Gc::new(Node {
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

fn main() {
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
    if std::env::var_os("BT_STATS").is_some() {
        let s = gc::stats();
        eprintln!(
            "rust-gc: {} collections, {} bytes allocated now",
            s.collections_performed, s.bytes_allocated
        );
    }
}
