//! A small test-and-test-and-set spin lock guarding the state of channels and wait queues.
//!
//! Critical sections under it are a few dozen instructions and never park: gort's rule is
//! "never hold a spin lock across `park`". Because a goroutine only leaves its M by parking or
//! yielding, the holder of a spin lock is always *running* on some M (or an OS thread that the
//! kernel will resume), so a spinner only waits for that thread's next few instructions; after
//! a few exponential-backoff rounds it yields its OS thread in case the holder was preempted by
//! the kernel.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use super::loom::{spin, AtomicBool};

/// A spin lock around `T`.
pub(crate) struct SpinLock<T> {
    locked: AtomicBool,
    data: UnsafeCell<T>,
}

// SAFETY: the lock serialises every access to `data` (Acquire on lock, Release on unlock), so
// sharing the lock shares `T` only by moving access between threads, which needs `T: Send`.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: owning the lock owns the `T`.
unsafe impl<T: Send> Send for SpinLock<T> {}

impl<T> SpinLock<T> {
    pub(crate) const fn new(v: T) -> Self {
        SpinLock {
            locked: AtomicBool::new(false),
            data: UnsafeCell::new(v),
        }
    }

    /// Acquires the lock without a guard (for `select`, which locks several channels).
    #[inline]
    pub(crate) fn raw_lock(&self) {
        if self
            .locked
            .compare_exchange_weak(false, true, Acquire, Relaxed)
            .is_ok()
        {
            return;
        }
        self.lock_slow();
    }

    #[cold]
    fn lock_slow(&self) {
        let mut step = 0;
        loop {
            while self.locked.load(Relaxed) {
                spin(step);
                step = (step + 1).min(16);
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Acquire, Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }

    /// Releases a lock taken with [`raw_lock`](Self::raw_lock).
    ///
    /// # Safety
    /// The caller holds the lock and no reference from [`data`](Self::data) outlives this call.
    #[inline]
    pub(crate) unsafe fn raw_unlock(&self) {
        self.locked.store(false, Release);
    }

    /// The protected data.
    ///
    /// # Safety
    /// The caller holds the lock for the whole life of the returned reference, and creates no
    /// other reference to the data meanwhile.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn data(&self) -> &mut T {
        // SAFETY: exclusive access is the caller's contract (the lock is held).
        unsafe { &mut *self.data.get() }
    }

    /// Locks and returns a guard.
    #[inline]
    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        self.raw_lock();
        SpinGuard { lock: self }
    }
}

/// Holds a [`SpinLock`]; unlocks on drop.
pub(crate) struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock; the borrow is tied to the guard.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock; the borrow is tied to the guard's unique borrow.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the guard holds the lock and its borrows have ended.
        unsafe { self.lock.raw_unlock() }
    }
}
