//! Hans Boehm's GCBench on gort's GC heap (the Go twin is `bench/go/cmd/gcbench`, same
//! parameters and output): a stretch tree of depth 18, then a long-lived tree of depth 16 and
//! a long-lived array of 500 000 doubles, then for depths 4, 6, .., 16 as many trees as make
//! twice the stretch tree's nodes, built top down (`populate`: a node allocated first, its
//! children stored into it afterwards, through one-word `AtomicGc` fields, Go's pointer
//! fields with their write barrier: a node is 24 bytes, as in Go) and bottom up
//! (`make_tree`: children first), each dropped at once.
//!
//! ```sh
//! cargo run --release -p gort --example gcbench
//! GODEBUG=gctrace=1 cargo run --release -p gort --example gcbench
//! ```
//!
//! Boehm's array is one GC allocation of pointer-free memory (`GC_MALLOC_ATOMIC`). Here it is
//! a GC object owning a `Vec<f64>` that the collector does not scan (`#[gc(skip)]`): a
//! `Gc<[f64; 500_000]>` would first build its 4 MB value on the goroutine's stack.
use std::time::Instant;

use gort::gc::Gc;

#[path = "common/gcbench_tree.rs"]
mod tree;
use tree::{array, count, make_tree, num_iters, populate, tree_size, Node};

const STRETCH_TREE_DEPTH: u32 = 18;
const LONG_LIVED_TREE_DEPTH: u32 = 16;
const ARRAY_SIZE: usize = 500_000;
const MIN_TREE_DEPTH: u32 = 4;
const MAX_TREE_DEPTH: u32 = 16;

fn print_diagnostics() {
    let m = gort::read_mem_stats();
    println!(
        " Heap in use {} KiB, live {} KiB, {} GCs so far",
        gort::gc::heap_inuse() >> 10,
        gort::gc::heap_live() >> 10,
        m.num_gc
    );
}

fn time_construction(depth: u32) {
    let iters = num_iters(STRETCH_TREE_DEPTH, depth);
    println!("Creating {iters} trees of depth {depth}");
    let t = Instant::now();
    for _ in 0..iters {
        let temp = Gc::new(Node::leaf());
        populate(depth, &temp);
    }
    println!(
        "\tTop down construction took {} ms",
        t.elapsed().as_millis()
    );
    let t = Instant::now();
    for _ in 0..iters {
        std::hint::black_box(make_tree(depth));
    }
    println!(
        "\tBottom up construction took {} ms",
        t.elapsed().as_millis()
    );
}

#[gort::main]
fn main() {
    assert_eq!(std::mem::size_of::<Node>(), 24, "Go's node size");
    println!("Garbage Collector Test");
    println!(
        " Live storage will peak at {} bytes.\n",
        2 * std::mem::size_of::<Node>() as u64 * tree_size(LONG_LIVED_TREE_DEPTH)
            + (std::mem::size_of::<f64>() * ARRAY_SIZE) as u64
    );
    println!(" Stretching memory with a binary tree of depth {STRETCH_TREE_DEPTH}");
    print_diagnostics();
    let start = Instant::now();

    // Stretch the memory space quickly.
    std::hint::black_box(make_tree(STRETCH_TREE_DEPTH));

    // A long-lived tree and array, live for the rest of the run.
    println!(" Creating a long-lived binary tree of depth {LONG_LIVED_TREE_DEPTH}");
    let long_lived = Gc::new(Node::leaf());
    populate(LONG_LIVED_TREE_DEPTH, &long_lived);
    println!(" Creating a long-lived array of {ARRAY_SIZE} doubles");
    let array = array(ARRAY_SIZE);
    print_diagnostics();

    let mut d = MIN_TREE_DEPTH;
    while d <= MAX_TREE_DEPTH {
        time_construction(d);
        d += 2;
    }

    if count(&long_lived) != tree_size(LONG_LIVED_TREE_DEPTH) || array.data[1000] != 1.0 / 1000.0 {
        println!("Failed");
        std::process::exit(1);
    }
    let elapsed = start.elapsed();
    print_diagnostics();
    println!("Completed in {} ms.", elapsed.as_millis());
    let m = gort::read_mem_stats();
    println!(
        "gort: NumGC {}, max pause {:.3} ms, total pause {:.1} ms",
        m.num_gc,
        gort::gc::max_pause_ns() as f64 / 1e6,
        m.pause_total_ns as f64 / 1e6
    );
}
