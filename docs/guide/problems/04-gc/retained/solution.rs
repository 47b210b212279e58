// Problem 04-gc/retained: a reference solution.

use gort::gc::{Gc, Trace};

/// A binary tree node on the GC heap.
#[derive(Trace)]
pub struct Node {
    pub left: Option<Gc<Node>>,
    pub right: Option<Gc<Node>>,
}

/// A complete tree of the given depth.
pub fn tree(depth: u32) -> Gc<Node> {
    if depth == 0 {
        Gc::new(Node {
            left: None,
            right: None,
        })
    } else {
        Gc::new(Node {
            left: Some(tree(depth - 1)),
            right: Some(tree(depth - 1)),
        })
    }
}

/// The number of nodes of a tree.
pub fn count(n: &Node) -> u32 {
    1 + n.left.as_deref().map_or(0, count) + n.right.as_deref().map_or(0, count)
}

/// A long-lived service that builds and checks trees and keeps a log of its results. It no
/// longer keeps the trees: a handle in a long-lived structure is a root, and everything it
/// reaches stays live through every cycle (the heap profile's inuse_space and gctrace's
/// live heap grow with each run). The log keeps what it needs, the counts.
#[derive(Default)]
pub struct Checker {
    /// The node count of every tree checked so far.
    pub results: Vec<u32>,
}

impl Checker {
    pub fn new() -> Checker {
        Checker::default()
    }

    /// Builds a tree of `depth`, checks it, logs the result and returns it; the tree is
    /// garbage once this returns.
    pub fn run(&mut self, depth: u32) -> u32 {
        let t = tree(depth);
        let c = count(&t);
        self.results.push(c);
        c
    }

    /// How many trees the checker has checked.
    pub fn runs(&self) -> usize {
        self.results.len()
    }
}
