//! A scaled-down GCBench (the program is `examples/gcbench.rs`): a stretch tree, a long-lived
//! tree built top down through `AtomicGc` stores and a long-lived array, then short-lived trees
//! built top down and bottom up. Every tree must have exactly `tree_size(depth)` nodes when it
//! is complete, the long-lived tree and array must survive the collections that the
//! allocation volume (about 45 MB, past the 4 MB minimum heap goal) triggers on its own, and
//! `gccheckmark` verifies each of those cycles' marks.

use gort::gc::{self, Gc};

#[path = "../examples/common/gcbench_tree.rs"]
mod tree;
use tree::{array, count, make_tree, num_iters, populate, tree_size, Node};

const STRETCH_TREE_DEPTH: u32 = 15;
const LONG_LIVED_TREE_DEPTH: u32 = 12;
const ARRAY_SIZE: usize = 10_000;
const MIN_TREE_DEPTH: u32 = 4;
const MAX_TREE_DEPTH: u32 = 12;

#[test]
fn gcbench_scaled_down() {
    gc::set_checkmark(true);
    let gcs_before = gc::num_gc();

    let stretch = make_tree(STRETCH_TREE_DEPTH);
    assert_eq!(count(&stretch), tree_size(STRETCH_TREE_DEPTH));
    drop(stretch);

    let long_lived = Gc::new(Node::leaf());
    populate(LONG_LIVED_TREE_DEPTH, &long_lived);
    let array = array(ARRAY_SIZE);

    let mut trees = 0;
    let mut d = MIN_TREE_DEPTH;
    while d <= MAX_TREE_DEPTH {
        for _ in 0..num_iters(STRETCH_TREE_DEPTH, d) {
            let top_down = Gc::new(Node::leaf());
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
