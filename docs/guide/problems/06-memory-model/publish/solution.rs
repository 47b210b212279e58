// Problem 06-memory-model/publish: a reference solution.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A value published once, through a flag.
#[derive(Default)]
pub struct Slot {
    pub data: AtomicU64,
    pub ready: AtomicBool,
}

/// Publishes `v` (non-zero) in `slot`: the data first, then the flag, with a `Release` store.
/// Everything this goroutine wrote before the Release store is visible to whoever reads the
/// flag with an `Acquire` load and sees `true` (Go: `atomic.Bool.Store` after the data, which
/// in Go is always sequentially consistent; or send the value on a channel).
pub fn publish(slot: &Slot, v: u64) {
    slot.data.store(v, Ordering::Relaxed);
    gort::yield_now();
    slot.ready.store(true, Ordering::Release);
}

/// The published value, or None if it is not published yet. The `Acquire` load pairs with the
/// writer's `Release` store: having seen `true`, the data load sees `v`.
pub fn read(slot: &Slot) -> Option<u64> {
    if slot.ready.load(Ordering::Acquire) {
        Some(slot.data.load(Ordering::Relaxed))
    } else {
        None
    }
}
