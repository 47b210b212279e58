//! binary-trees (Benchmarks Game rules, sequential) on rust-gc (crate `gc`): the program of
//! crates/gort/examples/binary_trees.rs with `gc::Gc` for `gort::Gc`; same output.
//!
//! rust-gc's heap is thread-local (`gc::Gc` is neither `Send` nor `Sync`), so this can only
//! ever be single-threaded; so is the gort example it is compared with.
//!
//! `BT_STATS=1` adds a summary on stderr (collections performed).
// gc_derive 0.5 expands to impls inside a `const _` block, which newer rustc lints.
#![allow(non_local_definitions)]

use gc::{Finalize, Gc, Trace};

gc_rivals::tree!(
    #[derive(Trace, Finalize)]
    Gc
);

fn main() {
    gc_rivals::run(bottom_up, check);
    if std::env::var_os("BT_STATS").is_some() {
        let s = gc::stats();
        eprintln!(
            "rust-gc: {} collections, {} bytes allocated now",
            s.collections_performed, s.bytes_allocated
        );
    }
}
