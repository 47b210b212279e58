//! The runtime semaphore (Go's `sema.go`): a count plus a FIFO (or LIFO) of parked waiters,
//! used by `Mutex`, `RwLock` and `WaitGroup` to sleep. A release with a waiter present hands
//! the unit straight to that waiter; a release without one increments the count.

use std::panic::Location;

use crate::rt::loom::yield_now;
use crate::rt::parking::{PlainWaiter, WaitList};
use crate::rt::spinlock::SpinLock;
use crate::WaitReason;

struct State {
    count: u32,
    waiters: WaitList<PlainWaiter>,
}

/// A semaphore for runtime-internal sleeping.
pub(crate) struct Sema {
    state: SpinLock<State>,
}

impl Sema {
    pub(crate) const fn new() -> Sema {
        Sema {
            state: SpinLock::new(State {
                count: 0,
                waiters: WaitList::new(),
            }),
        }
    }

    /// Takes one unit, parking until one is released. `lifo` queues at the front (a mutex
    /// waiter that has already waited once, as in Go).
    pub(crate) fn acquire(&self, lifo: bool, reason: WaitReason, at: &'static Location<'static>) {
        let mut st = self.state.lock();
        if st.count > 0 {
            st.count -= 1;
            return;
        }
        let w = PlainWaiter::new(1);
        if crate::rt::hooks::contention::mutex_profiling()
            && matches!(
                reason,
                WaitReason::SyncMutexLock
                    | WaitReason::SyncRWMutexLock
                    | WaitReason::SyncRWMutexRLock
            )
        {
            w.since.set(crate::rt::hooks::contention::nanotime());
        }
        // SAFETY: `w` is unlinked, valid, and stays in this frame until `wait` returns, by
        // which time the releaser has unlinked it (wait.rs).
        unsafe {
            if lifo {
                st.waiters.push_front(&w);
            } else {
                st.waiters.push_back(&w);
            }
        }
        drop(st);
        w.parking.wait(reason, at);
    }

    /// Releases one unit: to the first waiter if there is one. With `handoff`, the caller
    /// then yields so that the waiter runs soon (Go's starvation-mode handoff).
    pub(crate) fn release(&self, handoff: bool) {
        let mut st = self.state.lock();
        match st.waiters.pop_front() {
            Some(w) => {
                // SAFETY: popped under the lock, so valid until completed; claims of plain
                // waiters always succeed (one node per record).
                let (u, since) = unsafe {
                    let w = &*w;
                    let since = w.since.get();
                    let claimed = w.parking.try_claim(0);
                    debug_assert!(claimed);
                    (w.parking.complete(), since)
                };
                drop(st);
                u.unpark();
                if since != 0 {
                    crate::rt::hooks::contention::mutex_event(since); // charged to the unlocker, as in Go
                }
                if handoff {
                    yield_now();
                }
            }
            None => st.count += 1,
        }
    }
}
