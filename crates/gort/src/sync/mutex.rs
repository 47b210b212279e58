//! `Mutex<T>`: Go's sync.Mutex (normal and starvation modes) around a value.
//!
//! State word, as in Go: bit 0 locked, bit 1 woken (a waiter is awake and competing, so
//! unlock need not wake another), bit 2 starving, bits 3.. the number of parked waiters.
//!
//! *Normal mode*: waiters queue FIFO, but a woken waiter competes with arriving goroutines,
//! which spin briefly and usually win (they are already running); a woken waiter that loses
//! is queued at the front. *Starvation mode*, entered when a waiter has waited over 1 ms:
//! unlock hands the mutex directly to the first waiter and new arrivals queue at the tail
//! without spinning; it ends when the last waiter is served or one waited under 1 ms.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use std::time::Instant;

use super::runtime_sema::Sema;
use crate::rt::loom::AtomicI32;
use crate::WaitReason;

const LOCKED: i32 = 1;
const WOKEN: i32 = 2;
const STARVING: i32 = 4;
const WAITER_SHIFT: u32 = 3;
const STARVATION_NS: u128 = 1_000_000;

/// The lock without data (also used by `RwLock`, `Once` and `OnceCell`).
pub(crate) struct RawMutex {
    state: AtomicI32,
    sema: Sema,
}

fn can_spin(iter: u32) -> bool {
    use std::sync::OnceLock;
    static MULTI: OnceLock<bool> = OnceLock::new();
    iter < 4
        && *MULTI.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()) > 1)
}

fn do_spin() {
    crate::rt::loom::spin_hint(30);
}

impl RawMutex {
    pub(crate) const fn new() -> Self {
        RawMutex {
            state: AtomicI32::new(0),
            sema: Sema::new(),
        }
    }

    #[inline]
    pub(crate) fn try_lock(&self) -> bool {
        let old = self.state.load(Relaxed);
        if old & (LOCKED | STARVING) != 0 {
            return false;
        }
        self.state
            .compare_exchange(old, old | LOCKED, Acquire, Relaxed)
            .is_ok()
    }

    #[inline]
    pub(crate) fn lock(&self, at: &'static Location<'static>) {
        if self
            .state
            .compare_exchange(0, LOCKED, Acquire, Relaxed)
            .is_ok()
        {
            return;
        }
        self.lock_slow(at);
    }

    #[cold]
    fn lock_slow(&self, at: &'static Location<'static>) {
        let mut wait_start: Option<Instant> = None;
        let mut starving = false;
        let mut awoke = false;
        let mut iter = 0;
        let mut old = self.state.load(Relaxed);
        loop {
            // Spin while locked in normal mode: the owner may unlock soon.
            if old & (LOCKED | STARVING) == LOCKED && can_spin(iter) {
                // Set WOKEN so that unlock does not wake a parked waiter needlessly.
                if !awoke
                    && old & WOKEN == 0
                    && old >> WAITER_SHIFT != 0
                    && self
                        .state
                        .compare_exchange(old, old | WOKEN, Relaxed, Relaxed)
                        .is_ok()
                {
                    awoke = true;
                }
                do_spin();
                iter += 1;
                old = self.state.load(Relaxed);
                continue;
            }
            let mut new = old;
            // Do not grab a starving mutex: new arrivals queue.
            if old & STARVING == 0 {
                new |= LOCKED;
            }
            if old & (LOCKED | STARVING) != 0 {
                new += 1 << WAITER_SHIFT;
            }
            if starving && old & LOCKED != 0 {
                new |= STARVING;
            }
            if awoke {
                assert!(new & WOKEN != 0, "sync: inconsistent mutex state");
                new &= !WOKEN;
            }
            if self
                .state
                .compare_exchange(old, new, AcqRel, Relaxed)
                .is_ok()
            {
                if old & (LOCKED | STARVING) == 0 {
                    return; // locked with CAS
                }
                let lifo = wait_start.is_some();
                let start = *wait_start.get_or_insert_with(Instant::now);
                self.sema.acquire(lifo, WaitReason::SyncMutexLock, at);
                starving = starving || start.elapsed().as_nanos() > STARVATION_NS;
                old = self.state.load(Acquire);
                if old & STARVING != 0 {
                    // Handed off to us: the mutex is ours; fix up the state.
                    assert!(
                        old & (LOCKED | WOKEN) == 0 && old >> WAITER_SHIFT != 0,
                        "sync: inconsistent mutex state"
                    );
                    let mut delta = LOCKED - (1 << WAITER_SHIFT);
                    if !starving || old >> WAITER_SHIFT == 1 {
                        delta -= STARVING; // last waiter or waited briefly: leave starvation
                    }
                    self.state.fetch_add(delta, AcqRel);
                    return;
                }
                awoke = true;
                iter = 0;
            } else {
                old = self.state.load(Relaxed);
            }
        }
    }

    /// # Safety
    /// The mutex is locked (by anyone: like Go, the unlocker need not be the locker).
    #[inline]
    pub(crate) unsafe fn unlock(&self) {
        let new = self.state.fetch_sub(LOCKED, Release) - LOCKED;
        if new != 0 {
            self.unlock_slow(new);
        }
    }

    #[cold]
    fn unlock_slow(&self, new: i32) {
        assert!(
            (new + LOCKED) & LOCKED != 0,
            "fatal error: sync: unlock of unlocked mutex"
        );
        if new & STARVING == 0 {
            let mut old = new;
            loop {
                // No waiters, or someone already woke / locked / is being handed it.
                if old >> WAITER_SHIFT == 0 || old & (LOCKED | WOKEN | STARVING) != 0 {
                    return;
                }
                let new = (old - (1 << WAITER_SHIFT)) | WOKEN;
                if self
                    .state
                    .compare_exchange(old, new, Release, Relaxed)
                    .is_ok()
                {
                    self.sema.release(false);
                    return;
                }
                old = self.state.load(Relaxed);
            }
        } else {
            // Starvation mode: hand ownership to the first waiter and let it run.
            self.sema.release(true);
        }
    }
}

/// A mutual-exclusion lock around a `T` whose waiters park their goroutine (Go's
/// sync.Mutex). No poisoning: a panic while locked just unlocks.
///
/// ```
/// let m = std::sync::Arc::new(gort::sync::Mutex::new(0));
/// *m.lock() += 1;
/// assert_eq!(*m.lock(), 1);
/// ```
pub struct Mutex<T: ?Sized> {
    raw: RawMutex,
    data: UnsafeCell<T>,
}

// SAFETY: the lock gives one holder at a time access to `T` (Acquire on lock, Release on
// unlock), so sharing the Mutex moves `T` between threads: `T: Send` suffices (as std).
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}
// SAFETY: owning the Mutex owns the T.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}

/// Access to a locked [`Mutex`]; unlocks on drop. Holding it across a channel operation or
/// other park is sound: a goroutine never migrates between threads.
pub struct MutexGuard<'a, T: ?Sized> {
    pub(crate) lock: &'a Mutex<T>,
}

// SAFETY: the guard gives `&T` to whoever holds `&guard`.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T> Mutex<T> {
    /// A new unlocked mutex. `const`, so a mutex can be a `static` (as with std's):
    ///
    /// ```
    /// static HITS: gort::sync::Mutex<Vec<u32>> = gort::sync::Mutex::new(Vec::new());
    /// HITS.lock().push(1);
    /// assert_eq!(HITS.lock().len(), 1);
    /// ```
    pub const fn new(v: T) -> Self {
        Mutex {
            raw: RawMutex::new(),
            data: UnsafeCell::new(v),
        }
    }

    /// Consumes the mutex, returning the value.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, parking the goroutine while another holds the lock.
    #[track_caller]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        crate::rt::loom::preempt_point();
        self.raw.lock(Location::caller());
        MutexGuard { lock: self }
    }

    /// Locks if free, without waiting.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        crate::rt::loom::preempt_point();
        self.raw.try_lock().then_some(MutexGuard { lock: self })
    }

    /// Mutable access without locking (the borrow proves exclusivity).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T: ?Sized + std::fmt::Debug> std::fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.try_lock() {
            Some(g) => f.debug_struct("Mutex").field("data", &&*g).finish(),
            None => f.write_str("Mutex { <locked> }"),
        }
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock; the borrow is tied to the guard's.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the guard holds the lock.
        unsafe { self.lock.raw.unlock() }
    }
}
