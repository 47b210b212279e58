//! binary-trees (Benchmarks Game rules, sequential) on dumpster's thread-safe flavour
//! (`dumpster::sync::Gc`, the comparable of gort's `Send + Sync` handles): the program of
//! crates/gort/examples/binary_trees.rs with `dumpster::sync::Gc` for `gort::Gc`; same output.
//!
//! dumpster is reference counting plus cycle detection: these trees have no cycles, so every
//! node is freed when its count drops to zero and the cycle collector only does bookkeeping.
//! Sequential like the gort example (`sync::Gc` could be shared across threads; nothing here
//! needs to).
//!
//! `BT_STATS=1` adds a summary on stderr.
use dumpster::sync::Gc;
use dumpster::Trace;

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
        let t = std::time::Instant::now();
        dumpster::sync::collect();
        eprintln!(
            "dumpster: final sync::collect() took {:.3} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
    }
}
