// Problem 06-memory-model/publish: the start. Edit this file; `cargo run -p gort-guide --
// check publish` runs a writer goroutine that publishes a value through a `Slot` and a reader
// that waits for it, 20 times, and counts the reads that saw the flag but not the value.
//
// The `gort::yield_now()` stands for everything that can come between two stores: a
// preemption, the reader's core looking at memory in between, or the compiler or the CPU
// reordering two Relaxed stores. Keep it: a correct `publish` is correct with it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A value published once, through a flag.
#[derive(Default)]
pub struct Slot {
    pub data: AtomicU64,
    pub ready: AtomicBool,
}

/// Publishes `v` (non-zero) in `slot`.
pub fn publish(slot: &Slot, v: u64) {
    slot.ready.store(true, Ordering::Relaxed);
    gort::yield_now();
    slot.data.store(v, Ordering::Relaxed);
}

/// The published value, or None if it is not published yet.
pub fn read(slot: &Slot) -> Option<u64> {
    if slot.ready.load(Ordering::Relaxed) {
        Some(slot.data.load(Ordering::Relaxed))
    } else {
        None
    }
}
