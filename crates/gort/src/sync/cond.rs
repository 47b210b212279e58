//! `Cond`: Go's sync.Cond, a queue of goroutines waiting for a condition guarded by a
//! [`Mutex`]. A waiter links its node *before* unlocking the mutex, so a signal sent after the
//! waiter's check of the condition (under the mutex) cannot be missed.

use std::panic::Location;

use super::mutex::MutexGuard;
use crate::rt::parking::{PlainWaiter, WaitList};
use crate::rt::spinlock::SpinLock;
use crate::WaitReason;

/// A condition variable for [`Mutex`](super::Mutex) guards.
///
/// ```
/// use std::sync::Arc;
/// let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
/// rt.block_on(|| {
///     let pair = Arc::new((gort::sync::Mutex::new(false), gort::sync::Cond::new()));
///     let p2 = pair.clone();
///     gort::go(move || {
///         *p2.0.lock() = true;
///         p2.1.signal();
///     });
///     let mut ready = pair.0.lock();
///     while !*ready {
///         ready = pair.1.wait(ready);
///     }
/// });
/// ```
pub struct Cond {
    waiters: SpinLock<WaitList<PlainWaiter>>,
}

impl Default for Cond {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Cond {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cond { .. }")
    }
}

impl Cond {
    /// A condition with no waiters (`const`: usable in a `static`).
    pub const fn new() -> Self {
        Cond {
            waiters: SpinLock::new(WaitList::new()),
        }
    }

    /// Unlocks the guard's mutex, parks until signalled, and locks it again. As in Go, wake-ups
    /// may be spurious from the condition's point of view: call it in a loop.
    #[track_caller]
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        crate::rt::loom::preempt_point();
        let at = Location::caller();
        let m = guard.lock;
        let w = PlainWaiter::new(0);
        // SAFETY: `w` is unlinked and stays in this frame until `wait` returns, by which time
        // the signaller has unlinked it.
        unsafe { self.waiters.lock().push_back(&w) };
        drop(guard);
        w.parking.wait(WaitReason::SyncCondWait, at);
        m.lock()
    }

    /// Like [`wait`](Self::wait), looping while `cond` holds.
    #[track_caller]
    pub fn wait_while<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut cond: impl FnMut(&mut T) -> bool,
    ) -> MutexGuard<'a, T> {
        while cond(&mut guard) {
            guard = self.wait(guard);
        }
        guard
    }

    /// Wakes one waiter, if any.
    pub fn signal(&self) {
        crate::rt::loom::preempt_point();
        let mut q = self.waiters.lock();
        if let Some(w) = q.pop_front() {
            // SAFETY: popped under the lock: valid until completed; plain nodes always claim.
            let u = unsafe {
                let w = &*w;
                w.parking.try_claim(0);
                w.parking.complete()
            };
            drop(q);
            u.unpark();
        }
    }

    /// Wakes every waiter.
    pub fn broadcast(&self) {
        crate::rt::loom::preempt_point();
        let mut q = self.waiters.lock();
        while let Some(w) = q.pop_front() {
            // SAFETY: as in `signal`; unparking under the spin lock keeps this allocation-free.
            unsafe {
                let w = &*w;
                w.parking.try_claim(0);
                w.parking.complete()
            }
            .unpark();
        }
    }
}
