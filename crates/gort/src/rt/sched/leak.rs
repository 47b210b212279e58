//! Leak probes: how the runtime tells a goroutine that can never wake from one that waits.
//!
//! # The problem
//!
//! The classic goroutine leak: a worker blocks forever sending its result to a caller that
//! gave up, or a consumer waits on a channel whose producers all returned without closing it.
//! Nothing crashes; memory and goroutines pile up. Go 1.26's experimental `goroutineleak`
//! profile finds goroutines blocked on objects no runnable goroutine can reach, with a GC
//! pass. gort knows something cheaper and exact: a channel counts its `Sender` and
//! `Receiver` handles (clone and drop only), and a receive can only ever complete through a
//! `Sender` (a send, or a `close`), a send only through a `Receiver` (or a `close`). So a
//! goroutine parked on a receive from a channel with no `Sender` left can never wake, and
//! neither can one in a `select` whose every arm is so.
//!
//! # How
//!
//! A blocking operation that knows what it needs describes it in a [`Probe`] in its own
//! frame (the channel layer builds it: which handle counts must be non-zero, and its parking
//! record) and publishes the probe's address in its goroutine's [`ProbeSlot`] for the length
//! of the wait (`Parking::wait_probed`). The detector ([`is_leaked`], run by the
//! `goroutineleak` profile, schedtrace and the deadlock report, never on a hot path) walks the
//! goroutines, and for each published probe: sets the slot's lock bit, runs the probe's check,
//! clears the bit. A goroutine that wakes clears its slot before it leaves the frame, waiting
//! out a check in progress: the lock bit is what keeps the probe (and the channel it names)
//! alive while the detector reads it.
//!
//! The check is exact, never a guess: a handle count of zero stays zero (a handle is only
//! made by cloning one), and the check then reads the parking record's claim word, so a
//! wake-up that was already granted (a send that claimed the receiver and then dropped the
//! last `Sender`) is not mistaken for a leak. What it misses: a channel whose last `Sender`
//! is held by a goroutine that is itself leaked (Go's reachability pass finds those), and
//! waits that are not channel operations (mutexes, `WaitGroup`).
//!
//! # Rejected alternatives
//!
//! * *Go's way, a reachability pass in the GC*: gort's channels are not in the GC heap and a
//!   parked goroutine's stack is not scanned for them; it would cost a heap walk per query
//!   and find only what handle counts already prove, plus transitive leaks.
//! * *A registry of blocked operations per channel*, read by the detector under the
//!   channel's lock: the detector would have to keep every channel alive (a strong reference
//!   per waiter), adding a reference-count round trip to every blocking operation; the slot
//!   costs one store and one compare-exchange per blocking wait.
//! * *Checking at park time only*: a leak usually starts after the park (the last `Sender`
//!   is dropped later), so the answer must be computed when asked.
//!
//! # Invariants and orderings
//!
//! * A slot holds 0 or the address of a `Probe` (8-aligned) with bit 0 as the detector's lock.
//!   Only the goroutine itself stores a probe (Release) and clears it (compare-exchange from
//!   the unlocked value, spinning while the lock bit is set); only the detector sets and
//!   clears the lock bit. Hence the probe is valid from the moment the detector's Acquire
//!   compare-exchange sets the bit until it clears it.
//! * Handle counts are decremented with Release and read with Acquire, so a claim of the
//!   parking record that happened before the last handle was dropped is visible to the
//!   check's read of the claim word.
//! * Model-checked (`model_tests.rs`, `probe_is_never_read_after_its_frame_is_gone`).

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use super::g::G;
use super::runtime::Shared;
use crate::rt::loom::{spin, AtomicUsize};

/// What one blocked operation needs in order to ever complete (built by the channel layer in
/// the blocked frame).
pub(crate) struct Probe {
    check: unsafe fn(*const ()) -> bool,
    data: *const (),
}

impl Probe {
    /// A probe whose `check(data)` returns true when the wait can provably never end.
    ///
    /// # Safety
    /// `check(data)` must be sound to call from any thread for as long as the probe is
    /// published (between `ProbeSlot::set` and `ProbeSlot::clear`), reading only data that
    /// lives at least that long and is safe to read concurrently (atomics, immutable fields).
    pub(crate) const unsafe fn new(check: unsafe fn(*const ()) -> bool, data: *const ()) -> Probe {
        Probe { check, data }
    }
}

/// The slot of one goroutine (`G::probe`); see the module's invariants.
pub(crate) struct ProbeSlot(AtomicUsize);

const LOCKED: usize = 1;

impl ProbeSlot {
    pub(crate) fn new() -> ProbeSlot {
        ProbeSlot(AtomicUsize::new(0))
    }

    /// Publishes `p` (the owning goroutine only; the slot is empty).
    ///
    /// # Safety
    /// `p` stays valid until [`clear`](Self::clear) returns.
    pub(crate) unsafe fn set(&self, p: &Probe) {
        debug_assert_eq!(self.0.load(Relaxed), 0, "a probe is already published");
        self.0.store(p as *const Probe as usize, Release);
    }

    /// Withdraws the published probe, waiting out a check in progress (the owner only).
    pub(crate) fn clear(&self) {
        let mut step = 0;
        loop {
            // Acquire: the detector's reads of the probe happen before the frame is left.
            let w = self.0.load(Acquire);
            if w & LOCKED == 0 && self.0.compare_exchange(w, 0, Acquire, Relaxed).is_ok() {
                return;
            }
            spin(step);
            step += 1;
        }
    }

    /// Runs the published probe's check: `None` when none is published (or another detector
    /// is checking it), else whether the wait can never end.
    pub(crate) fn check(&self) -> Option<bool> {
        let w = self.0.load(Relaxed);
        if w == 0 || w & LOCKED != 0 {
            return None;
        }
        if self
            .0
            .compare_exchange(w, w | LOCKED, Acquire, Relaxed)
            .is_err()
        {
            return None; // withdrawn (or replaced) meanwhile
        }
        // SAFETY: the lock bit is set, so the owner cannot withdraw the probe, whose address
        // it published with Release (read back by our Acquire), until we clear the bit; the
        // probe's contract (`Probe::new`) makes its check sound to call from here.
        let stuck = unsafe {
            let p = &*(w as *const Probe);
            (p.check)(p.data)
        };
        self.0.store(w, Release);
        Some(stuck)
    }
}

/// True when `g` is parked on an operation that can provably never complete.
pub(crate) fn is_leaked(g: &G) -> bool {
    g.probe.check() == Some(true)
}

/// The number of leaked goroutines of `shared` now.
pub(crate) fn count(shared: &Shared) -> usize {
    shared.all_gs().iter().filter(|g| is_leaked(g)).count()
}

/// The number of goroutines of the current runtime (the process-wide one outside goroutines)
/// that can never wake: parked on a channel operation whose other side has no handle left
/// (a receive with every `Sender` dropped, a send with every `Receiver` dropped, a `select`
/// whose every arm is such). The `goroutineleak` profile lists them; `GODEBUG=schedtrace`
/// lines end with ` leaked=N` while there are any.
///
/// ```
/// gort::Runtime::new(1).block_on(|| {
///     let (tx, rx) = gort::chan::bounded::<u32>(0);
///     gort::go(move || { let _ = rx.recv(); });
///     gort::time::sleep(std::time::Duration::from_millis(10));
///     assert_eq!(gort::debug::num_leaked_goroutines(), 0); // tx could still send
///     drop(tx); // dropping does not close: the receiver can now never wake
///     assert_eq!(gort::debug::num_leaked_goroutines(), 1);
/// });
/// ```
pub fn num_leaked_goroutines() -> usize {
    match super::park::ctx() {
        Some(c) => count(c.shared()),
        None => count(&super::runtime::default_runtime().shared),
    }
}
