//! `RwLock<T>`: Go's sync.RWMutex around a value. Writers take an inner mutex, then announce
//! themselves by subtracting `MAX_READERS` from the reader count (new readers see it negative
//! and park on `reader_sem`) and wait on `writer_sem` for the readers already inside
//! (`reader_wait`). Writer preference: a waiting writer blocks new readers.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};

use super::mutex::RawMutex;
use super::runtime_sema::Sema;
use crate::rt::loom::AtomicI32;
use crate::WaitReason;

const MAX_READERS: i32 = 1 << 30;

/// A reader-writer lock whose waiters park their goroutine (Go's sync.RWMutex).
pub struct RwLock<T: ?Sized> {
    w: RawMutex,
    writer_sem: Sema,
    reader_sem: Sema,
    reader_count: AtomicI32,
    reader_wait: AtomicI32,
    data: UnsafeCell<T>,
}

// SAFETY: readers share `&T` across threads (needs Sync), writers move exclusive access
// between threads (needs Send); the lock protocol orders them (AcqRel on the counters).
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}
// SAFETY: owning the lock owns the T.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}

/// Shared access; unlocks on drop.
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

/// Exclusive access; unlocks on drop.
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

impl<T> RwLock<T> {
    /// A new unlocked lock (`const`: usable in a `static`).
    pub const fn new(v: T) -> Self {
        RwLock {
            w: RawMutex::new(),
            writer_sem: Sema::new(),
            reader_sem: Sema::new(),
            reader_count: AtomicI32::new(0),
            reader_wait: AtomicI32::new(0),
            data: UnsafeCell::new(v),
        }
    }

    /// Consumes the lock, returning the value.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Takes a shared lock, parking while a writer holds or waits for the lock.
    #[track_caller]
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        crate::rt::loom::preempt_point();
        if self.reader_count.fetch_add(1, AcqRel) + 1 < 0 {
            // A writer is pending: wait for it.
            self.reader_sem
                .acquire(false, WaitReason::SyncRWMutexRLock, Location::caller());
        }
        RwLockReadGuard { lock: self }
    }

    /// Takes a shared lock if no writer holds or waits for it.
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        crate::rt::loom::preempt_point();
        let mut c = self.reader_count.load(Relaxed);
        loop {
            if c < 0 {
                return None;
            }
            match self
                .reader_count
                .compare_exchange(c, c + 1, Acquire, Relaxed)
            {
                Ok(_) => return Some(RwLockReadGuard { lock: self }),
                Err(x) => c = x,
            }
        }
    }

    /// Takes the exclusive lock, parking while others hold it.
    #[track_caller]
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        crate::rt::loom::preempt_point();
        let at = Location::caller();
        self.w.lock(at);
        // Announce the writer to readers.
        let r = self.reader_count.fetch_sub(MAX_READERS, AcqRel);
        // Wait for active readers.
        if r != 0 && self.reader_wait.fetch_add(r, AcqRel) + r != 0 {
            self.writer_sem
                .acquire(false, WaitReason::SyncRWMutexLock, at);
        }
        RwLockWriteGuard { lock: self }
    }

    /// Takes the exclusive lock if free.
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        crate::rt::loom::preempt_point();
        if !self.w.try_lock() {
            return None;
        }
        if self
            .reader_count
            .compare_exchange(0, -MAX_READERS, Acquire, Relaxed)
            .is_err()
        {
            // SAFETY: we locked `w` just above.
            unsafe { self.w.unlock() };
            return None;
        }
        Some(RwLockWriteGuard { lock: self })
    }

    /// Mutable access without locking.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    fn read_unlock(&self) {
        let r = self.reader_count.fetch_sub(1, AcqRel) - 1;
        if r < 0 {
            assert!(
                r + 1 != 0 && r + 1 != -MAX_READERS,
                "fatal error: sync: RUnlock of unlocked RWMutex"
            );
            // A writer is pending; the last departing reader wakes it.
            if self.reader_wait.fetch_sub(1, AcqRel) - 1 == 0 {
                self.writer_sem.release(false);
            }
        }
    }

    fn write_unlock(&self) {
        // Announce to readers there is no active writer.
        let r = self.reader_count.fetch_add(MAX_READERS, AcqRel) + MAX_READERS;
        assert!(
            r < MAX_READERS,
            "fatal error: sync: Unlock of unlocked RWMutex"
        );
        // Unblock the readers that arrived meanwhile.
        for _ in 0..r {
            self.reader_sem.release(false);
        }
        // SAFETY: `write` locked `w` and the write guard is being dropped.
        unsafe { self.w.unlock() };
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T: ?Sized> std::fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RwLock { .. }")
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a read guard excludes writers.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.read_unlock()
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the write guard is exclusive.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the write guard is exclusive; the borrow is tied to the guard's.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.write_unlock()
    }
}
