//! A weighted counting semaphore (Go's golang.org/x/sync/semaphore): FIFO, so a large request
//! at the head is not starved by a stream of small ones.

use std::panic::Location;
use std::sync::Arc;

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
///
/// Units can also be held by a guard that releases them when dropped ([`acquire_permit`],
/// or [`acquire_owned`] for a guard that moves into a goroutine), so an early return or a
/// panic cannot leak them:
///
/// ```
/// let s = gort::sync::Semaphore::new(2);
/// {
///     let p = s.acquire_permit(2);
///     assert_eq!((p.count(), s.available()), (2, 0));
/// } // released here
/// assert_eq!(s.available(), 2);
/// ```
///
/// [`acquire_permit`]: Semaphore::acquire_permit
/// [`acquire_owned`]: Semaphore::acquire_owned
pub struct Semaphore {
    state: SpinLock<State>,
}

impl std::fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Semaphore {{ available: {} }}", self.available())
    }
}

impl Semaphore {
    /// A semaphore with `n` units available (`const`: usable in a `static`).
    pub const fn new(n: u64) -> Self {
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

    /// [`acquire`](Self::acquire)s `n` units, held by the returned guard until it is dropped.
    #[track_caller]
    pub fn acquire_permit(&self, n: u64) -> SemaphorePermit<'_> {
        self.acquire(n);
        SemaphorePermit { sem: self, n }
    }

    /// [`try_acquire`](Self::try_acquire) with a guard.
    pub fn try_acquire_permit(&self, n: u64) -> Option<SemaphorePermit<'_>> {
        // `then`, not `then_some`: a permit built eagerly would release `n` when dropped.
        self.try_acquire(n)
            .then(|| SemaphorePermit { sem: self, n })
    }

    /// [`acquire_permit`](Self::acquire_permit) with a guard that holds an `Arc` of the
    /// semaphore, so it can move into a goroutine (bounded concurrency: acquire, then `go`).
    #[track_caller]
    pub fn acquire_owned(self: &Arc<Self>, n: u64) -> OwnedSemaphorePermit {
        self.acquire(n);
        OwnedSemaphorePermit {
            sem: Arc::clone(self),
            n,
        }
    }

    /// [`try_acquire`](Self::try_acquire) with an owned guard.
    pub fn try_acquire_owned(self: &Arc<Self>, n: u64) -> Option<OwnedSemaphorePermit> {
        self.try_acquire(n).then(|| OwnedSemaphorePermit {
            sem: Arc::clone(self),
            n,
        })
    }
}

/// Units of a [`Semaphore`], released when dropped.
#[must_use = "dropping a permit releases its units at once"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    n: u64,
}

impl SemaphorePermit<'_> {
    /// The units held.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Keeps the units taken: drops the guard without releasing them.
    pub fn forget(mut self) {
        self.n = 0;
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        if self.n > 0 {
            self.sem.release(self.n);
        }
    }
}

impl std::fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SemaphorePermit {{ count: {} }}", self.n)
    }
}

/// Units of an `Arc<`[`Semaphore`]`>`, released when dropped; `Send + 'static`.
#[must_use = "dropping a permit releases its units at once"]
pub struct OwnedSemaphorePermit {
    sem: Arc<Semaphore>,
    n: u64,
}

impl OwnedSemaphorePermit {
    /// The units held.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Keeps the units taken: drops the guard without releasing them.
    pub fn forget(mut self) {
        self.n = 0;
    }

    /// The semaphore the units belong to.
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.sem
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        if self.n > 0 {
            self.sem.release(self.n);
        }
    }
}

impl std::fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OwnedSemaphorePermit {{ count: {} }}", self.n)
    }
}
