// Problem 04-gc/retained: the start. Edit this file; `cargo run -p gort-guide -- check
// retained` measures it. The checker must give the same results and, after its runs and a
// collection, keep at most one tree's worth of GC heap alive.

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

/// A long-lived service that builds and checks trees and keeps a log of its results.
#[derive(Default)]
pub struct Checker {
    /// Every tree checked so far, "for debugging".
    history: Vec<Gc<Node>>,
    /// The node count of every tree checked so far.
    pub results: Vec<u32>,
}

impl Checker {
    pub fn new() -> Checker {
        Checker::default()
    }

    /// Builds a tree of `depth`, checks it, logs the result and returns it.
    pub fn run(&mut self, depth: u32) -> u32 {
        let t = tree(depth);
        let c = count(&t);
        self.history.push(t);
        self.results.push(c);
        c
    }

    /// How many trees the checker has checked.
    pub fn runs(&self) -> usize {
        self.history.len()
    }
}
