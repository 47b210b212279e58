//! `Once` and `OnceCell`: Go's sync.Once (an atomic fast path, a mutex for the slow path) and
//! a value-holding variant (Go's sync.OnceValue).

use std::cell::UnsafeCell;
use std::panic::Location;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use super::mutex::RawMutex;
use crate::rt::loom::AtomicBool;

/// Runs a function exactly once (Go's sync.Once). Callers that arrive while it runs park
/// until it has returned; its effects happen before any `call_once` returns.
pub struct Once {
    done: AtomicBool,
    m: RawMutex,
}

impl Default for Once {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Once {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Once {{ done: {} }}", self.is_completed())
    }
}

/// Unlocks a RawMutex on drop (panic-safe slow paths).
struct Unlock<'a>(&'a RawMutex);

impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        // SAFETY: constructed right after locking `self.0`.
        unsafe { self.0.unlock() }
    }
}

impl Once {
    /// A fresh `Once` (`const`: usable in a `static`).
    pub const fn new() -> Self {
        Once {
            done: AtomicBool::new(false),
            m: RawMutex::new(),
        }
    }

    /// Calls `f` if no call has run it yet. As in Go, if `f` panics the `Once` counts as done.
    #[track_caller]
    pub fn call_once(&self, f: impl FnOnce()) {
        crate::rt::loom::preempt_point();
        if self.done.load(Acquire) {
            return;
        }
        self.m.lock(Location::caller());
        let _u = Unlock(&self.m);
        if !self.done.load(Relaxed) {
            struct SetDone<'a>(&'a AtomicBool);
            impl Drop for SetDone<'_> {
                fn drop(&mut self) {
                    self.0.store(true, Release);
                }
            }
            let _d = SetDone(&self.done);
            f();
        }
    }

    /// True once a call has completed.
    pub fn is_completed(&self) -> bool {
        self.done.load(Acquire)
    }
}

/// A cell written once, by the first `get_or_init` (Go's sync.OnceValue). If the initialiser
/// panics the cell stays empty and the next caller tries again.
pub struct OnceCell<T> {
    done: AtomicBool,
    m: RawMutex,
    val: UnsafeCell<Option<T>>,
}

// SAFETY: `val` is written once under `m` before `done` is set (Release) and only read after
// `done` is seen (Acquire): shared `&T` across threads needs `T: Sync`, moving in needs Send.
unsafe impl<T: Send + Sync> Sync for OnceCell<T> {}
// SAFETY: owning the cell owns the T.
unsafe impl<T: Send> Send for OnceCell<T> {}

impl<T> Default for OnceCell<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for OnceCell<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("OnceCell").field(&self.get()).finish()
    }
}

impl<T> OnceCell<T> {
    /// An empty cell (`const`: usable in a `static`).
    pub const fn new() -> Self {
        OnceCell {
            done: AtomicBool::new(false),
            m: RawMutex::new(),
            val: UnsafeCell::new(None),
        }
    }

    /// The value, if initialised.
    pub fn get(&self) -> Option<&T> {
        if self.done.load(Acquire) {
            // SAFETY: `done` (Acquire) means `val` was written and will never change again.
            unsafe { (*self.val.get()).as_ref() }
        } else {
            None
        }
    }

    /// The value, initialising it with `f` if empty; concurrent callers park meanwhile.
    #[track_caller]
    pub fn get_or_init(&self, f: impl FnOnce() -> T) -> &T {
        crate::rt::loom::preempt_point();
        if let Some(v) = self.get() {
            return v;
        }
        self.m.lock(Location::caller());
        let _u = Unlock(&self.m);
        if !self.done.load(Relaxed) {
            let v = f();
            // SAFETY: we hold `m` and `done` is false: nobody reads or writes `val`.
            unsafe { *self.val.get() = Some(v) };
            self.done.store(true, Release);
        }
        // SAFETY: `done` is set and `val` never changes again.
        unsafe { (*self.val.get()).as_ref() }.expect("initialised")
    }

    /// Sets the value if empty; otherwise returns `v` back.
    #[track_caller]
    pub fn set(&self, v: T) -> Result<(), T> {
        let mut v = Some(v);
        self.get_or_init(|| v.take().expect("unused"));
        v.map_or(Ok(()), Err)
    }

    /// Consumes the cell, returning the value if set.
    pub fn into_inner(self) -> Option<T> {
        self.val.into_inner()
    }
}
