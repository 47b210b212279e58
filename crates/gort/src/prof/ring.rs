//! The CPU samples' buffer: a fixed array of slots in static memory that signal handlers fill
//! and the collector thread drains. Lock-free and allocation-free on the writer side.
//!
//! A writer claims a slot round-robin (`fetch_add` on `NEXT`) and moves it `EMPTY -> WRITING`
//! by CAS; if the slot is not empty (the collector is behind) the sample is counted in `LOST`
//! and dropped, so a writer never waits. It fills the slot with relaxed stores and publishes
//! it with a `Release` store of `FULL`. The collector takes a `FULL` slot (`Acquire`), copies
//! it and stores `EMPTY` (`Release`), handing it back to writers.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};

/// Frames kept per CPU sample (the interrupted PC plus up to 63 callers), as Go keeps 64.
pub(crate) const CPU_DEPTH: usize = 64;
const NSLOTS: usize = 1024;
const EMPTY: u8 = 0;
const WRITING: u8 = 1;
const FULL: u8 = 2;

struct Slot {
    state: AtomicU8,
    goid: AtomicU64,
    labels: AtomicU32,
    depth: AtomicUsize,
    pcs: [AtomicUsize; CPU_DEPTH],
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            state: AtomicU8::new(EMPTY),
            goid: AtomicU64::new(0),
            labels: AtomicU32::new(0),
            depth: AtomicUsize::new(0),
            pcs: [const { AtomicUsize::new(0) }; CPU_DEPTH],
        }
    }
}

static SLOTS: [Slot; NSLOTS] = [const { Slot::new() }; NSLOTS];
static NEXT: AtomicUsize = AtomicUsize::new(0);
/// Samples dropped because the buffer was full.
pub(crate) static LOST: AtomicU64 = AtomicU64::new(0);

/// Stores one sample. Async-signal-safe: atomics on static memory only.
pub(crate) fn push(goid: u64, labels: u32, pcs: &[usize]) {
    let slot = &SLOTS[NEXT.fetch_add(1, Ordering::Relaxed) % NSLOTS];
    if slot
        .state
        .compare_exchange(EMPTY, WRITING, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        LOST.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let n = pcs.len().min(CPU_DEPTH);
    for (dst, &pc) in slot.pcs.iter().zip(&pcs[..n]) {
        dst.store(pc, Ordering::Relaxed);
    }
    slot.depth.store(n, Ordering::Relaxed);
    slot.goid.store(goid, Ordering::Relaxed);
    slot.labels.store(labels, Ordering::Relaxed);
    slot.state.store(FULL, Ordering::Release);
}

/// Takes every published sample: `f(goid, labels, pcs)`.
pub(crate) fn drain(mut f: impl FnMut(u64, u32, &[usize])) {
    let mut pcs = [0usize; CPU_DEPTH];
    for slot in SLOTS.iter() {
        if slot.state.load(Ordering::Acquire) != FULL {
            continue;
        }
        let n = slot.depth.load(Ordering::Relaxed).min(CPU_DEPTH);
        for (dst, src) in pcs.iter_mut().zip(&slot.pcs[..n]) {
            *dst = src.load(Ordering::Relaxed);
        }
        let goid = slot.goid.load(Ordering::Relaxed);
        let labels = slot.labels.load(Ordering::Relaxed);
        slot.state.store(EMPTY, Ordering::Release);
        f(goid, labels, &pcs[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_then_drain_round_trips_and_full_buffer_drops() {
        let _serial = crate::prof::TEST_LOCK
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        drain(|_, _, _| {});
        push(7, 3, &[1, 2, 3]);
        let mut got = Vec::new();
        drain(|g, l, pcs| got.push((g, l, pcs.to_vec())));
        assert_eq!(got, vec![(7, 3, vec![1, 2, 3])]);
        let lost = LOST.load(Ordering::Relaxed);
        for _ in 0..NSLOTS + 5 {
            push(1, 0, &[9]);
        }
        assert!(LOST.load(Ordering::Relaxed) >= lost + 5);
        let mut n = 0;
        drain(|_, _, _| n += 1);
        assert_eq!(n, NSLOTS);
    }
}
