//! A scaled-down GCBench (the program is `examples/gcbench.rs`): a stretch tree, a long-lived
//! tree built top down through `AtomicGc` stores and a long-lived array, then short-lived trees
//! built top down and bottom up. Every tree must have exactly `tree_size(depth)` nodes when it
//! is complete, the long-lived tree and array must survive the collections that the
//! allocation volume (about 45 MB, past the 4 MB minimum heap goal) triggers on its own, and
//! `gccheckmark` verifies each of those cycles' marks.

use gort::gc::{self, AtomicGc, Gc, Trace};

const STRETCH_TREE_DEPTH: u32 = 15;
const LONG_LIVED_TREE_DEPTH: u32 = 12;
const ARRAY_SIZE: usize = 10_000;
const MIN_TREE_DEPTH: u32 = 4;
const MAX_TREE_DEPTH: u32 = 12;

#[derive(Trace)]
struct Node {
    left: AtomicGc<Node>,
    right: AtomicGc<Node>,
}

impl Node {
    fn with(left: Option<Gc<Node>>, right: Option<Gc<Node>>) -> Node {
        Node {
            left: AtomicGc::new(left),
            right: AtomicGc::new(right),
        }
    }
}

#[derive(Trace)]
struct Array {
    #[gc(skip)]
    data: Vec<f64>,
}

fn tree_size(depth: u32) -> u64 {
    (1 << (depth + 1)) - 1
}

fn num_iters(depth: u32) -> u64 {
    2 * tree_size(STRETCH_TREE_DEPTH) / tree_size(depth)
}

fn populate(depth: u32, node: &Node) {
    if depth == 0 {
        return;
    }
    let left = Gc::new(Node::with(None, None));
    let right = Gc::new(Node::with(None, None));
    node.left.store(Some(left.clone()));
    node.right.store(Some(right.clone()));
    populate(depth - 1, &left);
    populate(depth - 1, &right);
}

fn make_tree(depth: u32) -> Gc<Node> {
    if depth == 0 {
        Gc::new(Node::with(None, None))
    } else {
        Gc::new(Node::with(
            Some(make_tree(depth - 1)),
            Some(make_tree(depth - 1)),
        ))
    }
}

/// Nodes reachable from `node`; also checks that every node has both children or neither.
fn count(node: &Node) -> u64 {
    match (node.left.load(), node.right.load()) {
        (Some(l), Some(r)) => 1 + count(&l) + count(&r),
        (None, None) => 1,
        _ => panic!("a node with one child"),
    }
}

#[test]
fn gcbench_scaled_down() {
    gc::set_checkmark(true);
    let gcs_before = gc::num_gc();

    let stretch = make_tree(STRETCH_TREE_DEPTH);
    assert_eq!(count(&stretch), tree_size(STRETCH_TREE_DEPTH));
    drop(stretch);

    let long_lived = Gc::new(Node::with(None, None));
    populate(LONG_LIVED_TREE_DEPTH, &long_lived);
    let mut data = vec![0.0; ARRAY_SIZE];
    for (i, x) in data.iter_mut().enumerate().take(ARRAY_SIZE / 2) {
        *x = 1.0 / i as f64;
    }
    let array = Gc::new(Array { data });

    let mut trees = 0;
    let mut d = MIN_TREE_DEPTH;
    while d <= MAX_TREE_DEPTH {
        for _ in 0..num_iters(d) {
            let top_down = Gc::new(Node::with(None, None));
            populate(d, &top_down);
            assert_eq!(count(&top_down), tree_size(d), "top-down tree of depth {d}");
            let bottom_up = make_tree(d);
            assert_eq!(
                count(&bottom_up),
                tree_size(d),
                "bottom-up tree of depth {d}"
            );
            trees += 2;
        }
        d += 2;
    }
    assert_eq!(trees, 2 * (4228 + 1032 + 256 + 64 + 16));

    assert_eq!(count(&long_lived), tree_size(LONG_LIVED_TREE_DEPTH));
    assert_eq!(array.data[1000], 1.0 / 1000.0);
    assert_eq!(array.data[ARRAY_SIZE / 2], 0.0);
    let gcs = gc::num_gc() - gcs_before;
    eprintln!("{gcs} collections");
    assert!(gcs >= 2, "only {gcs} collections ran");

    // Everything but the long-lived data is garbage: a full collection leaves about that much.
    gc::gc();
    let live = gc::heap_live();
    let long_lived_bytes = tree_size(LONG_LIVED_TREE_DEPTH) * std::mem::size_of::<Node>() as u64;
    assert!(
        live < 4 * long_lived_bytes + (64 << 10),
        "{live} bytes live after a full collection; the long-lived tree is {long_lived_bytes}"
    );
    assert_eq!(count(&long_lived), tree_size(LONG_LIVED_TREE_DEPTH));
    gc::set_checkmark(false);
}
