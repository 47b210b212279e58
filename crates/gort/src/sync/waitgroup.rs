//! `WaitGroup`: Go's sync.WaitGroup. One 64-bit word holds the counter (high 32 bits) and the
//! number of waiters (low 32 bits), so `add` can tell in one atomic step whether it brought the
//! counter to zero with waiters to wake.

use std::panic::Location;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use std::sync::Arc;

use super::runtime_sema::Sema;
use crate::rt::loom::AtomicU64;
use crate::WaitReason;

/// Waits for a collection of goroutines to finish.
///
/// ```
/// let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
/// rt.block_on(|| {
///     let wg = std::sync::Arc::new(gort::sync::WaitGroup::new());
///     for _ in 0..10 {
///         wg.add(1);
///         let wg = wg.clone();
///         gort::go(move || wg.done());
///     }
///     wg.wait();
/// });
/// ```
pub struct WaitGroup {
    state: AtomicU64,
    sema: Sema,
}

impl Default for WaitGroup {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.state.load(Relaxed);
        write!(
            f,
            "WaitGroup {{ counter: {}, waiters: {} }}",
            (s >> 32) as i32,
            s as u32
        )
    }
}

impl WaitGroup {
    /// A group with counter zero (`const`: usable in a `static`).
    pub const fn new() -> Self {
        WaitGroup {
            state: AtomicU64::new(0),
            sema: Sema::new(),
        }
    }

    /// Adds `delta` (may be negative) to the counter; at zero, releases every waiter.
    ///
    /// # Panics
    /// If the counter goes negative, or on Go's misuse check (`add` racing `wait` while the
    /// counter is zero).
    pub fn add(&self, delta: i32) {
        crate::rt::loom::preempt_point();
        let state = self
            .state
            .fetch_add((delta as i64 as u64) << 32, AcqRel)
            .wrapping_add((delta as i64 as u64) << 32);
        let v = (state >> 32) as i32;
        let w = state as u32;
        assert!(v >= 0, "sync: negative WaitGroup counter");
        assert!(
            !(w != 0 && delta > 0 && v == delta),
            "sync: WaitGroup misuse: Add called concurrently with Wait"
        );
        if v > 0 || w == 0 {
            return;
        }
        // Counter is 0 and there are waiters: no new waiter can arrive (wait returns at once
        // on a zero counter), so reset the state and wake them all.
        assert!(
            self.state.load(Relaxed) == state,
            "sync: WaitGroup misuse: Add called concurrently with Wait"
        );
        self.state.store(0, Relaxed);
        for _ in 0..w {
            self.sema.release(false);
        }
    }

    /// Decrements the counter by one.
    pub fn done(&self) {
        self.add(-1)
    }

    /// Go 1.25's `wg.Go(f)`: adds 1 to the counter, runs `f` in a new goroutine, and calls
    /// [`done`](Self::done) when `f` returns, or unwinds from a panic (Go's program would
    /// crash there; here the panic goes to the returned handle's `join`, which may be
    /// dropped, and `wait` still returns). The goroutine holds a clone of the `Arc`.
    ///
    /// ```
    /// use std::sync::{atomic::{AtomicU32, Ordering}, Arc};
    /// let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
    /// rt.block_on(|| {
    ///     let wg = Arc::new(gort::sync::WaitGroup::new());
    ///     let hits = Arc::new(AtomicU32::new(0));
    ///     for _ in 0..10 {
    ///         let hits = hits.clone();
    ///         wg.go(move || hits.fetch_add(1, Ordering::Relaxed));
    ///     }
    ///     wg.wait();
    ///     assert_eq!(hits.load(Ordering::Relaxed), 10);
    /// });
    /// ```
    #[track_caller]
    pub fn go<F, T>(self: &Arc<Self>, f: F) -> crate::JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        /// Calls `done` when dropped: after `f` returns or while it unwinds, and also if the
        /// goroutine cannot be started (`go` panics and drops the closure unrun).
        struct Done(Arc<WaitGroup>);
        impl Drop for Done {
            fn drop(&mut self) {
                self.0.done();
            }
        }
        self.add(1);
        let done = Done(Arc::clone(self));
        crate::go(move || {
            let _done = done;
            f()
        })
    }

    /// Parks until the counter is zero.
    #[track_caller]
    pub fn wait(&self) {
        crate::rt::loom::preempt_point();
        let at = Location::caller();
        let mut state = self.state.load(Acquire);
        loop {
            if (state >> 32) as i32 == 0 {
                return;
            }
            match self
                .state
                .compare_exchange(state, state + 1, AcqRel, Acquire)
            {
                Ok(_) => {
                    self.sema.acquire(false, WaitReason::SemAcquire, at);
                    return;
                }
                Err(s) => state = s,
            }
        }
    }
}
