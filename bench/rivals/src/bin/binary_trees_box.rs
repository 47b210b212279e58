//! binary-trees (Benchmarks Game rules, sequential) with plain `Box` nodes: no GC at all, each
//! tree freed by its owner's drop. The scale for the GC'd versions (gort, Go, rust-gc,
//! dumpster): the program of crates/gort/examples/binary_trees.rs with `Box` for `gort::Gc`;
//! same output.
gc_rivals::tree!(Box);

fn main() {
    gc_rivals::run(bottom_up, check);
}
