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
//! record) and stores the probe's address in its goroutine's [`ProbeWord`] for the length of
//! the wait (`Parking::wait_probed`: two plain stores). The detector ([`is_leaked`], run by
//! the `goroutineleak` profile, schedtrace and the deadlock report, never on a hot path) walks
//! the goroutines, and for each one that is parked *pins* it (`gstate::pin_parked`: PARKED ->
//! PARKED|SCAN, Go's `_Gscan`), reads its probe word and runs the probe's check, and unpins
//! it. A pinned goroutine cannot be made runnable (an unpark spins on the SCAN bit for those
//! few loads), so it cannot leave the waiting frame the probe points into, nor the channel the
//! frame borrows: the pin is what keeps the probe alive while the detector reads it, and the
//! waiting goroutine pays nothing for it.
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
//! * *A lock bit in the probe word* (the detector sets it, the goroutine waits it out before
//!   it clears the word after waking): correct, but the clearing compare-exchange on every
//!   blocking wait measured +10% on ChanPingPong and +13% on Select2 (GOMAXPROCS=2, 5
//!   alternated runs). Pinning the parked state moves the wait to the rare unpark that meets
//!   a detector.
//! * *A registry of blocked operations per channel*, read under the channel's lock: the
//!   detector would have to keep every channel alive (a strong reference per waiter), a
//!   reference-count round trip on every blocking operation.
//! * *Checking at park time only*: a leak usually starts after the park (the last `Sender`
//!   is dropped later), so the answer must be computed when asked.
//!
//! # Invariants and orderings
//!
//! * A probe word holds 0 or the address of a `Probe` in the goroutine's current waiting
//!   frame. Only the goroutine itself writes it (Relaxed), while running: the address before
//!   its first park of the wait, 0 after the wait's last. The park's commit (`commit_park`,
//!   AcqRel) orders the address before the PARKED state that the detector's pin (Acquire)
//!   reads; the detector's unpin (Release) orders its reads of the frame before the unpark
//!   that lets the goroutine run again and leave the frame.
//! * A goroutine parked for a wait without a probe has 0 in its word: the word is cleared
//!   before that later park commits.
//! * Handle counts are decremented with Release and read with Acquire, so a claim of the
//!   parking record that happened before the last handle was dropped is visible to the
//!   check's read of the claim word.
//! * Model-checked (`model_tests.rs`, `probe_is_never_read_after_its_frame_is_gone`).

use std::sync::atomic::Ordering::Relaxed;

use super::g::G;
use super::gstate;
use super::runtime::Shared;
use crate::rt::loom::{AtomicU32, AtomicUsize};

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
    /// `check(data)` must be sound to call from any thread while the goroutine that publishes
    /// the probe is parked in the wait, reading only data that lives at least as long as the
    /// wait and is safe to read concurrently (atomics, immutable fields).
    #[inline]
    pub(crate) const unsafe fn new(check: unsafe fn(*const ()) -> bool, data: *const ()) -> Probe {
        Probe { check, data }
    }
}

/// The probe word of one goroutine (`G::probe`); see the module's invariants.
pub(crate) struct ProbeWord(AtomicUsize);

impl ProbeWord {
    #[inline]
    pub(crate) fn new() -> ProbeWord {
        ProbeWord(AtomicUsize::new(0))
    }

    /// Publishes `p` for the wait that follows (the goroutine itself, before it parks).
    ///
    /// # Safety
    /// `p` stays valid until [`clear`](Self::clear), which the goroutine calls after the
    /// wait's last park and before it parks for anything else.
    #[inline]
    pub(crate) unsafe fn set(&self, p: &Probe) {
        self.0.store(p as *const Probe as usize, Relaxed);
    }

    /// Withdraws the probe (the goroutine itself, after the wait).
    #[inline]
    pub(crate) fn clear(&self) {
        self.0.store(0, Relaxed);
    }
}

/// Runs the probe of the goroutine whose state is `state` and probe word `word`, if it is
/// parked with one: `None` if it is not parked or has no probe, else whether its wait can
/// never end.
pub(crate) fn check_parked(state: &AtomicU32, word: &ProbeWord) -> Option<bool> {
    if !gstate::pin_parked(state) {
        return None;
    }
    let p = word.0.load(Relaxed); // ordered after the park's commit by the pin's Acquire
    let stuck = (p != 0).then(|| {
        // SAFETY: pinned PARKED, the goroutine cannot run, so the probe it published before
        // the park (address visible through the pin's Acquire, see the invariants) and the
        // frame it lives in stay in place until `unpin`; the probe's contract (`Probe::new`)
        // makes its check sound to call from this thread during the wait.
        unsafe {
            let p = &*(p as *const Probe);
            (p.check)(p.data)
        }
    });
    gstate::unpin(state);
    stuck
}

/// True when `g` is parked on an operation that can provably never complete.
pub(crate) fn is_leaked(g: &G) -> bool {
    check_parked(&g.state, &g.probe) == Some(true)
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
/// gort::Builder::new().gomaxprocs(1).build().unwrap().block_on(|| {
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
