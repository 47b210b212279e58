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

// dumpster's derive is not hygienic inside a `macro_rules!` expansion: the struct by hand.
#[derive(Trace)]
struct Node {
    left: Option<Gc<Node>>,
    right: Option<Gc<Node>>,
}

gc_rivals::tree_fns!(Gc);

fn main() {
    gc_rivals::run(bottom_up, check);
    if std::env::var_os("BT_STATS").is_some() {
        let t = std::time::Instant::now();
        dumpster::sync::collect();
        eprintln!(
            "dumpster: final sync::collect() took {:.3} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
    }
}
