//! Park and unpark: gort's gopark/goready, the primitive every blocking operation builds on.
//!
//! `park(reason)` suspends the calling goroutine until some other party calls
//! [`Unparker::unpark`] on it; outside a goroutine it parks the OS thread instead, so the same
//! code (channels, sync, join) works from plain threads. Semantics are those of
//! `std::thread::park`: an unpark that arrives first leaves a permit that makes the next park
//! return at once, and callers loop on their own condition.
//!
//! A woken goroutine goes to `runnext` of its home P when the waker runs on that P (so a
//! ping-pong pair stays on one P and inherits its time slice), or to the home P's inbox, which
//! wakes that P's M, when the waker is elsewhere.

use std::cell::Cell;
use std::panic::Location;
use std::sync::atomic::Ordering::{AcqRel, Relaxed};
use std::sync::Arc;

use super::g::{GRef, WaitReason, G};
use super::p::P;
use super::runtime::Shared;

/// Why a goroutine switched back to its M.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Switch {
    None,
    Yield,
    /// A yield forced at a preemption point (sysmon flagged the time slice, or schedstress).
    Preempt,
    Park,
}

/// Per-M context, living on the worker thread's own stack for the thread's life; the
/// thread's current-goroutine record (`rt/current.rs`) points at it.
pub(crate) struct Ctx {
    pub(crate) shared: *const Shared,
    pub(crate) p: *const P,
    pub(crate) switch: Cell<Switch>,
}

/// Installs `ctx` as this thread's M context (worker threads only; null removes it).
pub(crate) fn set_ctx(ctx: *const Ctx) {
    crate::rt::current::set_ctx(ctx as *const ());
}

/// The M context of this thread, if it is a worker.
#[inline]
pub(crate) fn ctx<'a>() -> Option<&'a Ctx> {
    let p = crate::rt::current::ctx() as *const Ctx;
    // SAFETY: a non-null context was installed by `set_ctx` from the worker's Ctx, which lives
    // on the worker thread's stack until after it is reset to null at the end of worker_main;
    // the record is per thread, so we are on that thread.
    unsafe { p.as_ref() }
}

/// Switch-in: `g` runs on this thread (its M, right before resuming it). One store.
#[inline(always)]
pub(crate) fn switch_in(g: &G) {
    crate::rt::current::switch_in(&g.curg);
}

impl Ctx {
    pub(crate) fn shared(&self) -> &Shared {
        // SAFETY: the worker holds an Arc<Shared> for as long as its Ctx exists.
        unsafe { &*self.shared }
    }

    pub(crate) fn p(&self) -> &P {
        // SAFETY: P lives in Shared (see above).
        unsafe { &*self.p }
    }

    /// The running goroutine, if this M is running one.
    #[inline]
    pub(crate) fn g(&self) -> Option<&G> {
        let c = crate::rt::current::curg()?;
        // SAFETY: every `CurG` given to `current::switch_in` is the first field of a `G`
        // (`switch_in` above is its only caller), and `G` is `#[repr(C)]`, so the addresses
        // coincide; the M holds a reference to that G for as long as it is switched in.
        Some(unsafe { &*(c as *const crate::rt::current::CurG as *const G) })
    }
}

/// True when called from a goroutine.
pub(crate) fn in_goroutine() -> bool {
    ctx().is_some_and(|c| c.g().is_some())
}

/// The running goroutine and its M context.
pub(crate) fn current<'a>() -> Option<(&'a Ctx, &'a G)> {
    let c = ctx()?;
    let g = c.g()?;
    Some((c, g))
}

/// Suspends the calling goroutine until an [`Unparker`] for it is used (Go's gopark); outside
/// a goroutine, parks the OS thread. May return spuriously: loop on your own condition, as
/// with `std::thread::park`. `reason` and the caller's location appear in goroutine dumps
/// and deadlock reports.
///
/// This is the primitive gort's channels, sync and timers are built on; it is public for
/// crates that build their own blocking primitives.
#[track_caller]
pub fn park(reason: WaitReason) {
    park_at(reason, Location::caller())
}

pub(crate) fn park_at(reason: WaitReason, at: &'static Location<'static>) {
    let Some((c, g)) = current() else {
        std::thread::park();
        return;
    };
    if c.shared().godebug.schedstress {
        yield_now();
    }
    if g.take_permit() {
        return;
    }
    g.wait_reason.store(reason as u8, Relaxed);
    g.parked_at.store(at as *const _ as *mut _, Relaxed);
    g.wait_since
        .store(c.shared().coarse_ns.load(Relaxed), Relaxed);
    c.switch.set(Switch::Park);
    // SAFETY: we are this goroutine, running on its own stack.
    unsafe { g.suspend() };
    g.wait_reason.store(WaitReason::None as u8, Relaxed);
}

/// Yields the processor (Go's `runtime.Gosched`): the goroutine goes to the back of its P's
/// queue and other goroutines run. Outside a goroutine it yields the OS thread.
pub fn yield_now() {
    match current() {
        Some((c, g)) => {
            c.switch.set(Switch::Yield);
            // SAFETY: we are this goroutine, running on its own stack.
            unsafe { g.suspend() };
        }
        None => std::thread::yield_now(),
    }
}

/// Parks the calling goroutine forever: Go's `select {}`. Useful at the end of a main
/// goroutine whose work happens in others; if nothing else can run, the deadlock detector
/// reports it. Outside a goroutine it parks the thread forever.
#[track_caller]
pub fn block_forever() -> ! {
    let at = Location::caller();
    loop {
        park_at(WaitReason::SelectNoCases, at);
    }
}

/// Cooperative preemption point: yields if sysmon flagged this P's time slice as used up
/// (one relaxed load when it has not). gort has no asynchronous preemption, so every runtime
/// operation that a goroutine may call in a loop calls this (channels and sync through
/// `rt::loom::preempt_point`, the GC heap through `gc::mutator::preempt_point`), at its entry
/// and never while holding a spin lock: the goroutine's M runs others meanwhile, and one
/// spinning on that lock would never let it resume.
///
/// Pure queries (`JoinHandle::is_finished`, `num_goroutine`, a channel's `len` and
/// `is_closed`, `Once::is_completed`) are not preemption points: a caller may hold a
/// `std::sync::Mutex` across them (a loop condition's temporary guard does), and a yield there
/// would deadlock every goroutine of its M that then blocks on that lock. A loop that only
/// polls a query must yield itself (`yield_now`) or, better, wait (`join`, a channel).
/// Under `GODEBUG=schedstress=1` the flag is set for good (`Shared::new`): every preemption
/// point yields.
#[inline]
pub(crate) fn preempt_point() {
    if preempt_pending() {
        if let Some((c, g)) = current() {
            if !c.shared().godebug.schedstress {
                c.p().preempt.store(false, Relaxed);
            }
            // A forced yield: the M counts it as evidence of CPU-bound work
            // (`Worker::offload`).
            c.switch.set(Switch::Preempt);
            // SAFETY: we are this goroutine, running on its own stack.
            unsafe { g.suspend() };
        }
    }
}

/// Whether this M's P is flagged for preemption: [`preempt_point`] would yield now, if called
/// from a goroutine (for callers with more conditions to check).
#[inline]
pub(crate) fn preempt_pending() -> bool {
    ctx().is_some_and(|c| c.p().preempt.load(Relaxed))
}

/// Wakes a parked goroutine or thread: the handle side of [`park`].
///
/// Like `std::thread::Thread::unpark`, but for goroutines: `unpark` makes the goroutine
/// runnable again (on its own M) or, if it is not parked yet, leaves a permit so that its
/// next `park` returns at once. Cheap to clone (a reference count).
#[derive(Clone, Debug)]
pub struct Unparker(pub(crate) Waiter);

/// What an [`Unparker`] wakes.
#[derive(Clone, Debug)]
pub(crate) enum Waiter {
    G(GRef),
    Thread(std::thread::Thread),
}

impl std::fmt::Debug for G {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "goroutine {}", self.id())
    }
}

impl Unparker {
    /// The unparker for the calling goroutine (or thread, outside goroutines).
    pub fn current() -> Unparker {
        Unparker(match current() {
            Some((_, g)) => {
                // SAFETY: `g` is the G this M runs; the M's queue reference keeps it alive and
                // we make a new counted reference from it. Arc::increment_strong_count needs the
                // pointer to come from Arc::into_raw of an Arc<G>, which every G is.
                let p = g as *const G;
                unsafe {
                    Arc::increment_strong_count(p);
                    Waiter::G(Arc::from_raw(p))
                }
            }
            None => Waiter::Thread(std::thread::current()),
        })
    }

    /// Wakes the goroutine or thread (or leaves it a permit if it is not parked).
    pub fn unpark(&self) {
        match &self.0 {
            Waiter::G(g) => ready(g),
            Waiter::Thread(t) => t.unpark(),
        }
    }

    /// The goroutine id this unparker wakes (0 for a plain thread).
    pub fn goid(&self) -> u64 {
        match &self.0 {
            Waiter::G(g) => g.id(),
            Waiter::Thread(_) => 0,
        }
    }
}

/// Go's goready: makes `g` runnable if parked (or leaves it a permit).
pub(crate) fn ready(g: &GRef) {
    if !g.notify() {
        return;
    }
    // No preemption point here: wakers may hold locks (a channel's) while calling unpark.
    ready_notified(g);
}

fn ready_notified(g: &GRef) {
    if let Some(b) = &g.bubble {
        // Before it is queued: from here on it may run (`bubble.rs`).
        b.readied(g.reason());
    }
    crate::rt::exectrace::go_unblock(g);
    let shared = &*g.shared;
    let home = g.home.load(Relaxed);
    debug_assert!(home != 0, "a parked goroutine has started");
    shared.ps[home - 1].counters.parked.fetch_sub(1, AcqRel);
    let c = ctx().filter(|c| std::ptr::eq(c.shared, shared));
    match c {
        Some(c) => {
            let n = &c.p().counters.readied;
            let k = n.load(Relaxed).wrapping_add(1);
            n.store(k, Relaxed);
            if k % super::metrics::SAMPLE_PERIOD == 0 {
                // Before it is queued: the M that runs it reads the stamp (`metrics.rs`).
                super::metrics::stamp(g, shared);
            }
        }
        None => shared.outside_wake(),
    }
    if let Some(c) = c {
        if c.p().id + 1 == home && c.p().locked_g.load(Relaxed).is_null() {
            // Same P: runnext, inheriting the time slice.
            let old = c.p().swap_runnext(Some(g.clone()));
            if let Some(old) = old {
                super::worker::requeue(c, old);
            }
            return;
        }
    }
    shared.ps[home - 1].push_inbox(g.clone());
}
