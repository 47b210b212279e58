//! The synchronisation shim: every atomic, park and unpark used by `chan` and `sync` goes
//! through here, so the same code runs on gort's scheduler in normal builds and under the
//! [shuttle](https://docs.rs/shuttle) model checker in this crate's unit tests (`cfg(test)`),
//! where shuttle explores thread interleavings of the waiter queues, the mutex handoff and the
//! WaitGroup core. Integration tests and users always get the real implementation.

use std::panic::Location;

use crate::WaitReason;

#[cfg(not(test))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize};

#[cfg(test)]
pub(crate) use shuttle::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize};

/// Wakes one parked goroutine (or thread); `Clone` is a reference-count increment.
#[derive(Clone)]
pub(crate) struct Unparker(
    #[cfg(not(test))] crate::Unparker,
    #[cfg(test)] shuttle::thread::Thread,
);

impl Unparker {
    /// The handle of the calling goroutine or thread.
    #[inline]
    pub(crate) fn current() -> Unparker {
        #[cfg(not(test))]
        return Unparker(crate::Unparker::current());
        #[cfg(test)]
        return Unparker(shuttle::thread::current());
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
    #[cfg(not(test))]
    crate::sched::park::park_at(reason, at);
    #[cfg(test)]
    {
        let _ = (reason, at);
        shuttle::thread::park();
    }
}

/// One step of a spin-wait: a CPU hint, and after a while a yield of the OS thread (a holder
/// of a gort spin lock is never a goroutine parked on this M, see `SpinLock`).
#[inline]
pub(crate) fn spin(step: u32) {
    #[cfg(not(test))]
    {
        if step < 6 {
            for _ in 0..(1u32 << step) {
                std::hint::spin_loop();
            }
        } else {
            std::thread::yield_now();
        }
    }
    #[cfg(test)]
    {
        let _ = step;
        shuttle::thread::yield_now();
    }
}

/// Lets other goroutines run (Go's goyield after a semaphore handoff).
#[inline]
pub(crate) fn yield_now() {
    #[cfg(not(test))]
    crate::yield_now();
    #[cfg(test)]
    shuttle::thread::yield_now();
}
