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

#[gort::main]
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
