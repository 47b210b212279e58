//! GCBench's data structures, shared by `examples/gcbench.rs` and `tests/gc_gcbench.rs`
//! (included with `#[path]`; not an example of its own).
#![allow(dead_code)]

use gort::gc::{AtomicGc, Gc, Trace};

/// Boehm's `Node`: two child pointers and two unused ints (24 bytes, as in Go).
#[derive(Trace)]
pub struct Node {
    pub left: AtomicGc<Node>,
    pub right: AtomicGc<Node>,
    pub i: i32,
    pub j: i32,
}

impl Node {
    pub fn leaf() -> Node {
        Node::with(None, None)
    }

    pub fn with(left: Option<Gc<Node>>, right: Option<Gc<Node>>) -> Node {
        Node {
            left: AtomicGc::new(left),
            right: AtomicGc::new(right),
            i: 0,
            j: 0,
        }
    }
}

/// The long-lived array: a GC object owning pointer-free memory the collector does not scan
/// (Boehm's `GC_MALLOC_ATOMIC`).
#[derive(Trace)]
pub struct Array {
    #[gc(skip)]
    pub data: Vec<f64>,
}

/// Boehm's array of `n` doubles: the first half `1/i`, the rest zero.
pub fn array(n: usize) -> Gc<Array> {
    let mut data = vec![0.0; n];
    for (i, x) in data.iter_mut().enumerate().take(n / 2) {
        *x = 1.0 / i as f64;
    }
    Gc::new(Array { data })
}

/// Nodes in a complete binary tree of depth `depth`.
pub fn tree_size(depth: u32) -> u64 {
    (1 << (depth + 1)) - 1
}

/// Trees of depth `depth` that make twice the nodes of a stretch tree of depth `stretch`.
pub fn num_iters(stretch: u32, depth: u32) -> u64 {
    2 * tree_size(stretch) / tree_size(depth)
}

/// Top-down construction: gives `node` two new children, then populates them.
pub fn populate(depth: u32, node: &Node) {
    if depth == 0 {
        return;
    }
    let left = Gc::new(Node::leaf());
    let right = Gc::new(Node::leaf());
    node.left.store(Some(left.clone()));
    node.right.store(Some(right.clone()));
    populate(depth - 1, &left);
    populate(depth - 1, &right);
}

/// Bottom-up construction: children first.
pub fn make_tree(depth: u32) -> Gc<Node> {
    if depth == 0 {
        Gc::new(Node::leaf())
    } else {
        Gc::new(Node::with(
            Some(make_tree(depth - 1)),
            Some(make_tree(depth - 1)),
        ))
    }
}

/// Nodes reachable from `node`; panics on a node with one child (trees here are complete).
pub fn count(node: &Node) -> u64 {
    match (node.left.load(), node.right.load()) {
        (Some(l), Some(r)) => 1 + count(&l) + count(&r),
        (None, None) => 1,
        _ => panic!("a node with one child"),
    }
}
