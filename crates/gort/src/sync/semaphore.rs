//! A weighted counting semaphore (Go's golang.org/x/sync/semaphore): FIFO, so a large request
//! at the head is not starved by a stream of small ones.

use std::panic::Location;

use crate::rt::parking::{PlainWaiter, WaitList};
use crate::rt::spinlock::SpinLock;
use crate::WaitReason;

struct State {
    avail: u64,
    waiters: WaitList<PlainWaiter>,
}

/// A counting semaphore whose waiters park their goroutine.
///
/// ```
/// let s = gort::sync::Semaphore::new(2);
/// s.acquire(2);
/// assert!(!s.try_acquire(1));
/// s.release(2);
/// assert!(s.try_acquire(1));
/// ```
pub struct Semaphore {
    state: SpinLock<State>,
}

impl std::fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Semaphore {{ available: {} }}", self.available())
    }
}

impl Semaphore {
    /// A semaphore with `n` units available.
    pub fn new(n: u64) -> Self {
        Semaphore {
            state: SpinLock::new(State {
                avail: n,
                waiters: WaitList::new(),
            }),
        }
    }

    /// Takes `n` units, parking until they are available (in FIFO order).
    #[track_caller]
    pub fn acquire(&self, n: u64) {
        crate::rt::loom::preempt_point();
        let mut st = self.state.lock();
        if st.waiters.is_empty() && st.avail >= n {
            st.avail -= n;
            return;
        }
        let w = PlainWaiter::new(n);
        // SAFETY: `w` is unlinked and stays in this frame until `wait` returns, by which time
        // `release` has unlinked it.
        unsafe { st.waiters.push_back(&w) };
        drop(st);
        w.parking.wait(WaitReason::SemAcquire, Location::caller());
    }

    /// Takes `n` units if available now (and nobody is queued).
    pub fn try_acquire(&self, n: u64) -> bool {
        crate::rt::loom::preempt_point();
        let mut st = self.state.lock();
        if st.waiters.is_empty() && st.avail >= n {
            st.avail -= n;
            true
        } else {
            false
        }
    }

    /// Returns `n` units, waking queued acquirers in order while their requests fit.
    pub fn release(&self, n: u64) {
        crate::rt::loom::preempt_point();
        let mut st = self.state.lock();
        st.avail += n;
        while let Some(w) = st.waiters.front() {
            // SAFETY: a linked node is valid under the lock.
            let want = unsafe { (*w).want.get() };
            if want > st.avail {
                break;
            }
            st.avail -= want;
            st.waiters.pop_front();
            // SAFETY: popped under the lock: valid until completed; plain nodes always claim.
            unsafe {
                let w = &*w;
                w.parking.try_claim(0);
                w.parking.complete()
            }
            .unpark();
        }
    }

    /// Units available now.
    pub fn available(&self) -> u64 {
        self.state.lock().avail
    }
}
