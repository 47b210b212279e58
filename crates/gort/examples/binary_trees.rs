//! The Benchmarks Game's binary-trees on gort's GC heap: every node allocated one by one with
//! `Gc::new`, trees built bottom-up and checked by walking them, as the Go program in
//! `bench/go/cmd/binarytrees` does (same output).
//!
//! ```sh
//! GODEBUG=gctrace=1 cargo run --release --example binary_trees -- 18
//! ```
//!
//! `BT_STATS=1` adds a summary on stderr (cycles, worst pause, GC CPU fraction).
use gort::gc::{Gc, Trace};

#[derive(Trace)]
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

#[path = "common/binary_trees_run.rs"]
mod driver;

#[gort::main]
fn main() {
    driver::run(bottom_up, check);
    if std::env::var_os("BT_STATS").is_some() {
        let m = gort::read_mem_stats();
        eprintln!(
            "gort: {} GCs, worst pause {:.3} ms, total pause {:.1} ms, GC CPU {:.1}%",
            m.num_gc,
            gort::gc::max_pause_ns() as f64 / 1e6,
            m.pause_total_ns as f64 / 1e6,
            m.gc_cpu_fraction * 100.0
        );
    }
}
