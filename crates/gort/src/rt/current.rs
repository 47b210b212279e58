//! The current-goroutine record: what runs on this thread, in one place (Go's `g`).
//!
//! # The problem
//!
//! The scheduler, the stack-overflow handler (SIGSEGV), the frame-pointer walker (the heap
//! profiler's sampler, contention events) and the CPU profiler's SIGPROF handler all ask one
//! question: which goroutine runs on this thread, and on which stack? Answered by four
//! thread-locals, every switch-in paid four sets of stores.
//!
//! # How
//!
//! Each thread has one [`Thread`] record, a const-initialised thread-local without a
//! destructor, so reading it is a plain TLS access: no lazy initialisation, no destructor
//! registration, no allocation, hence async-signal-safe. Every `G` starts with a [`CurG`] (its
//! first field, `#[repr(C)]`): the goroutine's id, its stack's guard range and size, and its
//! profiler label set. Switching in is one store of the `CurG`'s address into `Thread::g`;
//! switching out is one store of null.
//!
//! # Access rules
//!
//! * `Thread::g`: written only by this thread's M (switch in and out, `sched/worker.rs`); read
//!   on this thread only (handlers included). A handler interrupts between two instructions,
//!   so it sees null or a whole pointer; the `CurG` it points to was complete before the store
//!   (a compiler fence orders them; the reader is the same thread).
//! * `Thread::ctx`: the M context, set once by a worker thread at its start and cleared at its
//!   exit (`sched/park.rs` owns its type).
//! * `Thread::stack_lo`/`stack_hi`: the thread's own stack, cached by the thread itself
//!   (`cache_thread_stack`) before any handler needs it; `stack_hi` is written last.
//! * `Thread::labels`: the label set of code running on this thread outside goroutines.
//! * `CurG::goid`: fixed while the goroutine exists (written with `&mut` when a record is
//!   created or recycled). `guard_lo`/`guard_hi`/`stack_size`: written by the home M before the
//!   first switch-in. `labels`: written by the goroutine itself (`prof::with_labels`) and at
//!   spawn before the record is shared; read by the handlers of the thread that runs it.
//! * The `G` behind a non-null `Thread::g` is alive: its M holds a counted reference for as
//!   long as it is switched in, and clears `Thread::g` before dropping it.

use std::cell::Cell;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{compiler_fence, AtomicPtr, AtomicU32, AtomicUsize, Ordering::Relaxed};

/// The part of a goroutine record that the thread running it (and that thread's signal
/// handlers) read through [`Thread`]. The first field of `G`.
pub(crate) struct CurG {
    /// The goroutine's id (Go's goid).
    pub(crate) goid: u64,
    /// Guard-page range of its stack, 0 until its home M starts it.
    pub(crate) guard_lo: AtomicUsize,
    pub(crate) guard_hi: AtomicUsize,
    /// Usable stack size in bytes, 0 until started.
    pub(crate) stack_size: AtomicUsize,
    /// Profiler label-set id (`prof::labels`; 0 = none).
    pub(crate) labels: AtomicU32,
}

impl CurG {
    pub(crate) const fn new(goid: u64) -> CurG {
        CurG {
            goid,
            guard_lo: AtomicUsize::new(0),
            guard_hi: AtomicUsize::new(0),
            stack_size: AtomicUsize::new(0),
            labels: AtomicU32::new(0),
        }
    }

    /// Records the stack the goroutine will run on (its home M, before the first switch-in).
    pub(crate) fn set_stack(&self, guard_lo: usize, guard_hi: usize, stack_size: usize) {
        self.guard_lo.store(guard_lo, Relaxed);
        self.guard_hi.store(guard_hi, Relaxed);
        self.stack_size.store(stack_size, Relaxed);
    }

    /// `[lo, hi)` of the usable stack (above the guard page), `(0, 0)` when unknown.
    pub(crate) fn stack_bounds(&self) -> (usize, usize) {
        let hi = self.guard_hi.load(Relaxed);
        let size = self.stack_size.load(Relaxed);
        if hi == 0 || size == 0 {
            (0, 0)
        } else {
            (hi, hi + size)
        }
    }
}

/// The per-thread record (see the module comment for who writes which field).
pub(crate) struct Thread {
    g: AtomicPtr<CurG>,
    ctx: Cell<*const ()>,
    stack_lo: AtomicUsize,
    stack_hi: AtomicUsize,
    labels: AtomicU32,
}

thread_local! {
    // Const-initialised, no Drop: a plain TLS read, safe in signal handlers on this thread.
    static THREAD: Thread = const {
        Thread {
            g: AtomicPtr::new(std::ptr::null_mut()),
            ctx: Cell::new(std::ptr::null()),
            stack_lo: AtomicUsize::new(0),
            stack_hi: AtomicUsize::new(0),
            labels: AtomicU32::new(0),
        }
    };
}

/// Switch-in: `g` runs on this thread from now on (the M, right before resuming it).
#[inline(always)]
pub(crate) fn switch_in(g: &CurG) {
    compiler_fence(SeqCst);
    let _ = THREAD.try_with(|t| t.g.store(g as *const CurG as *mut CurG, Relaxed));
}

/// Switch-out: no goroutine runs on this thread (the M, right after the goroutine yielded).
#[inline(always)]
pub(crate) fn switch_out() {
    let _ = THREAD.try_with(|t| t.g.store(std::ptr::null_mut(), Relaxed));
}

/// The goroutine running on this thread, if any. Async-signal-safe.
#[inline(always)]
pub(crate) fn curg<'a>() -> Option<&'a CurG> {
    let p = THREAD.try_with(|t| t.g.load(Relaxed)).ok()?;
    compiler_fence(SeqCst);
    // SAFETY: a non-null pointer was stored by `switch_in` from a live `CurG` whose `G` the M
    // keeps alive until after `switch_out` (module access rules), and we are on that thread.
    unsafe { p.as_ref() }
}

/// The id of the goroutine running on this thread, 0 if none. Async-signal-safe.
#[inline]
pub(crate) fn goid() -> u64 {
    curg().map_or(0, |g| g.goid)
}

/// The M context pointer of this thread (null off worker threads).
#[inline(always)]
pub(crate) fn ctx() -> *const () {
    THREAD.try_with(|t| t.ctx.get()).unwrap_or(std::ptr::null())
}

/// Installs (or, with null, removes) this thread's M context.
pub(crate) fn set_ctx(ctx: *const ()) {
    let _ = THREAD.try_with(|t| t.ctx.set(ctx));
}

/// Caches this thread's own stack bounds for its handlers and walkers (they cannot call
/// `pthread_getattr_np`, which may allocate). Idempotent; returns the bounds.
pub(crate) fn cache_thread_stack() -> (usize, usize) {
    let cached = thread_stack();
    if cached.1 != 0 {
        return cached;
    }
    let (lo, hi) = crate::alloc::fpwalk::thread_stack_bounds();
    let _ = THREAD.try_with(|t| {
        t.stack_lo.store(lo, Relaxed);
        compiler_fence(SeqCst);
        t.stack_hi.store(hi, Relaxed);
    });
    (lo, hi)
}

/// The thread's own stack bounds if cached, else `(0, 0)`. Async-signal-safe.
pub(crate) fn thread_stack() -> (usize, usize) {
    THREAD
        .try_with(|t| {
            let hi = t.stack_hi.load(Relaxed);
            compiler_fence(SeqCst);
            (t.stack_lo.load(Relaxed), hi)
        })
        .unwrap_or((0, 0))
}

/// The label set of whatever runs on this thread: the goroutine's, or the thread's own.
/// Async-signal-safe.
#[inline]
pub(crate) fn labels() -> u32 {
    match curg() {
        Some(g) => g.labels.load(Relaxed),
        None => THREAD.try_with(|t| t.labels.load(Relaxed)).unwrap_or(0),
    }
}

/// Replaces the label set of whatever runs on this thread; returns the previous one.
pub(crate) fn swap_labels(id: u32) -> u32 {
    match curg() {
        Some(g) => g.labels.swap(id, Relaxed),
        None => THREAD.try_with(|t| t.labels.swap(id, Relaxed)).unwrap_or(0),
    }
}
