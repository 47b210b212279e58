//! The cost of GC handles (issue 17, "rooting at the cost of a pointer copy"), printed in Go's
//! format; `bench/go/gc_test.go` holds the Go equivalents under the same names (a Go pointer
//! copy), for side-by-side comparison with benchstat.
//!
//! `cargo bench -p gort --bench gc -- -benchmem`
//!
//! * `GcCloneDrop`: clone a handle and drop the clone (Go: copy a pointer).
//! * `GcCloneDropShared`: the same on one object shared by every P's goroutines (the
//!   interpreter-style graph whose root counts cost 47% of its CPU when they were atomics on a
//!   shared line).
//! * `GcCloneHold`: clone a handle into a vector of 64 and drop them together (the clones
//!   outlive each other, as handles kept in a data structure do).
//! * `GcTree`: build a binary tree of 15 nodes bottom-up and drop it (binary-trees' inner loop).

use std::hint::black_box;

use gort::gc::{Gc, Trace};
use gort::testing::B;

#[global_allocator]
static A: gort::alloc::CountingAlloc = gort::alloc::CountingAlloc::system();

#[derive(Trace)]
struct Node {
    left: Option<Gc<Node>>,
    right: Option<Gc<Node>>,
    v: u64,
}

fn leaf(v: u64) -> Gc<Node> {
    Gc::new(Node {
        left: None,
        right: None,
        v,
    })
}

fn bench_gc_clone_drop(b: &mut B) {
    let g = leaf(7);
    for _ in b.iter() {
        let c = black_box(&g).clone();
        black_box(&c);
        drop(c);
    }
}

fn bench_gc_clone_drop_shared(b: &mut B) {
    let g = leaf(7);
    b.run_parallel(move |pb| {
        let mine = g.clone();
        while pb.next() {
            let c = black_box(&mine).clone();
            black_box(&c);
            drop(c);
        }
    });
}

fn bench_gc_clone_hold(b: &mut B) {
    let g = leaf(7);
    let mut held: Vec<Gc<Node>> = Vec::with_capacity(64);
    for _ in b.iter() {
        held.push(black_box(&g).clone());
        if held.len() == 64 {
            held.clear();
        }
    }
}

fn tree(depth: u32) -> Gc<Node> {
    if depth == 0 {
        leaf(1)
    } else {
        Gc::new(Node {
            left: Some(tree(depth - 1)),
            right: Some(tree(depth - 1)),
            v: 0,
        })
    }
}

fn sum(n: &Node) -> u64 {
    n.v + n.left.as_deref().map_or(0, sum) + n.right.as_deref().map_or(0, sum)
}

fn bench_gc_tree(b: &mut B) {
    for _ in b.iter() {
        let t = tree(3);
        assert_eq!(sum(black_box(&t)), 8);
    }
}

gort::benchmarks!(
    bench_gc_clone_drop,
    bench_gc_clone_drop_shared,
    bench_gc_clone_hold,
    bench_gc_tree,
);
