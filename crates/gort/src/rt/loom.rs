//! The model-checking shim (tokio's `src/loom` habit, with shuttle): every atomic, park,
//! unpark and spin step of the lock-free and parking protocols (`chan`, `sync`,
//! `rt/parking.rs`, `rt/spinlock.rs`, the scheduler's run queues and goroutine state machine)
//! goes through here. Normal builds, unit tests included, get std's atomics and gort's
//! park/unpark. Built with `--cfg gort_model` (see `.ci/run`), the same code runs on
//! [shuttle](https://docs.rs/shuttle)'s atomics and threads, and the `model_tests` modules
//! explore thread interleavings of the waiter queues, the select claim, the mutex handoff,
//! the WaitGroup core, the run-queue ring and the park/unpark state machine:
//!
//! ```text
//! RUSTFLAGS="--cfg gort_model -C force-frame-pointers=yes" cargo test -p gort --lib model_tests
//! ```
//!
//! In that build only the `model_tests` run: everything else would call shuttle outside a
//! shuttle execution.

use std::panic::Location;

use crate::WaitReason;

#[cfg(not(gort_model))]
pub(crate) use std::sync::atomic::{
    AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize,
};

#[cfg(gort_model)]
pub(crate) use shuttle::sync::atomic::{
    AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize,
};

#[cfg(gort_model)]
pub(crate) use shuttle::sync::Mutex;
/// A blocking mutex for the scheduler's short critical sections (the idle list): the OS
/// thread's, or shuttle's under the model.
#[cfg(not(gort_model))]
pub(crate) use std::sync::Mutex;

/// Wakes one parked goroutine (or thread); `Clone` is a reference-count increment.
#[derive(Clone)]
pub(crate) struct Unparker(
    #[cfg(not(gort_model))] crate::Unparker,
    #[cfg(gort_model)] shuttle::thread::Thread,
);

impl Unparker {
    /// The handle of the calling goroutine or thread.
    #[inline]
    pub(crate) fn current() -> Unparker {
        #[cfg(not(gort_model))]
        return Unparker(crate::Unparker::current());
        #[cfg(gort_model)]
        return Unparker(shuttle::thread::current());
    }

    /// The goroutine this wakes (None for a thread, and under the model checker).
    #[inline]
    pub(crate) fn goroutine(&self) -> Option<&crate::rt::sched::g::G> {
        #[cfg(not(gort_model))]
        return match &self.0 .0 {
            crate::rt::sched::park::Waiter::G(g) => Some(g),
            crate::rt::sched::park::Waiter::Thread(_) => None,
        };
        #[cfg(gort_model)]
        return None;
    }

    /// Makes the owner runnable (or leaves it a permit).
    #[inline]
    pub(crate) fn unpark(&self) {
        self.0.unpark()
    }
}

/// Parks the caller until unparked; may return spuriously.
#[inline]
pub(crate) fn park(reason: WaitReason, at: &'static Location<'static>) {
    #[cfg(not(gort_model))]
    crate::rt::sched::park::park_at(reason, at);
    #[cfg(gort_model)]
    {
        let _ = (reason, at);
        shuttle::thread::park();
    }
}

/// One step of a spin-wait: a CPU hint, and after a while a yield of the OS thread (a holder
/// of a gort spin lock is never a goroutine parked on this M, see `SpinLock`).
#[inline]
pub(crate) fn spin(step: u32) {
    #[cfg(not(gort_model))]
    {
        if step < 6 {
            for _ in 0..(1u32 << step) {
                std::hint::spin_loop();
            }
        } else {
            std::thread::yield_now();
        }
    }
    #[cfg(gort_model)]
    {
        let _ = step;
        shuttle::thread::yield_now();
    }
}

/// Lets other goroutines run (Go's goyield after a semaphore handoff).
#[inline]
pub(crate) fn yield_now() {
    #[cfg(not(gort_model))]
    crate::yield_now();
    #[cfg(gort_model)]
    shuttle::thread::yield_now();
}

/// A short busy-wait of `n` CPU hints (Go's procyield); a yield to another model thread under
/// the model checker.
#[inline]
pub(crate) fn spin_hint(n: u32) {
    #[cfg(not(gort_model))]
    for _ in 0..n {
        std::hint::spin_loop();
    }
    #[cfg(gort_model)]
    {
        let _ = n;
        shuttle::thread::yield_now();
    }
}

/// A preemption point (`rt::sched::park::preempt_point`): yields if sysmon flagged this P's
/// time slice as used up. Called at the entry of the channel and sync operations, before any
/// lock is taken (a goroutine must never yield holding a spin lock: another goroutine of its M
/// would spin on it forever). A no-op under the model checker, where shuttle's scheduler
/// already explores every interleaving and there is no sysmon.
#[inline]
pub(crate) fn preempt_point() {
    #[cfg(not(gort_model))]
    crate::rt::sched::park::preempt_point();
}
