//! `GcCell<T>`: a mutable field of a GC object; its mutable borrow is the write barrier.
//!
//! Rules (rust-gc's, with atomics so cells can be shared between goroutines):
//!
//! * `rooted` is true while the cell lives outside the GC heap (its contents' handles are then
//!   rooted) and false inside (they are edges). The unroot/root passes flip it.
//! * Invariant: when the cell is not borrowed mutably, its contents are rooted iff `rooted`;
//!   while it is borrowed mutably, its contents are rooted. `borrow_mut` on a heap cell roots the
//!   contents (so anything moved out with `mem::replace` is a rooted handle), and the end of the
//!   borrow unroots whatever is there then (so anything moved in becomes an edge).
//! * The collector skips the contents of a cell borrowed mutably (they are roots, and the
//!   writer may be changing them); it traces the contents of any other cell, which nobody can
//!   write while the world is stopped. Taking and ending a mutable borrow happen inside a guard.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};

use super::handle::{Root, UnrootPass};
use super::mutator::with_guard;
use super::trace::{Pass, Trace, Visitor};

const WRITING: usize = usize::MAX;
/// Set (beside any readers) while the concurrent marker reads the contents; a writer waits
/// for it to clear instead of failing.
const MARK_BIT: usize = 1 << (usize::BITS - 2);

/// A mutable container for GC fields (RefCell-like, thread-safe when `T: Send + Sync`).
pub struct GcCell<T: Trace> {
    rooted: AtomicBool,
    borrow: AtomicUsize,
    value: UnsafeCell<T>,
}

// SAFETY: like RwLock<T>: shared access needs T: Sync, exclusive access from another thread
// needs T: Send; the borrow state is atomic.
unsafe impl<T: Trace + Send + Sync> Sync for GcCell<T> {}
// SAFETY: owning the cell owns the T.
unsafe impl<T: Trace + Send> Send for GcCell<T> {}

/// The cell was already borrowed in a conflicting way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BorrowError;

impl std::fmt::Display for BorrowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GcCell already borrowed")
    }
}
impl std::error::Error for BorrowError {}

impl<T: Trace> GcCell<T> {
    /// A new cell (outside the heap until it is moved into one with `Gc::new`).
    pub fn new(value: T) -> GcCell<T> {
        GcCell {
            rooted: AtomicBool::new(true),
            borrow: AtomicUsize::new(0),
            value: UnsafeCell::new(value),
        }
    }

    /// The contents, consuming the cell.
    pub fn into_inner(self) -> T {
        // Outside the heap (we own it), so the contents are rooted: safe to hand out.
        self.value.into_inner()
    }

    /// Shared borrow.
    pub fn try_borrow(&self) -> Result<GcRef<'_, T>, BorrowError> {
        let mut b = self.borrow.load(Relaxed);
        loop {
            if b == WRITING || b & !MARK_BIT >= MARK_BIT - 1 {
                return Err(BorrowError);
            }
            match self
                .borrow
                .compare_exchange_weak(b, b + 1, Acquire, Relaxed)
            {
                Ok(_) => return Ok(GcRef { cell: self }),
                Err(x) => b = x,
            }
        }
    }

    /// Shared borrow. Panics if borrowed mutably.
    pub fn borrow(&self) -> GcRef<'_, T> {
        self.try_borrow().expect("GcCell already mutably borrowed")
    }

    /// Exclusive borrow.
    pub fn try_borrow_mut(&self) -> Result<GcRefMut<'_, T>, BorrowError> {
        with_guard(|m| {
            loop {
                match self.borrow.compare_exchange(0, WRITING, Acquire, Relaxed) {
                    Ok(_) => break,
                    // The marker is reading the contents (a few handles): wait.
                    Err(MARK_BIT) => std::hint::spin_loop(),
                    Err(_) => return Err(BorrowError),
                }
            }
            if !self.rooted.load(Relaxed) {
                // SAFETY: we hold the exclusive borrow.
                unsafe { (*self.value.get()).trace_mut(&mut Root(m)) };
            }
            Ok(GcRefMut { cell: self })
        })
    }

    /// Exclusive borrow. Panics if borrowed.
    pub fn borrow_mut(&self) -> GcRefMut<'_, T> {
        self.try_borrow_mut().expect("GcCell already borrowed")
    }

    /// Exclusive borrow, waiting (yielding the goroutine or thread) while others hold it.
    pub fn write(&self) -> GcRefMut<'_, T> {
        loop {
            if let Ok(g) = self.try_borrow_mut() {
                return g;
            }
            yield_now();
        }
    }

    /// Shared borrow, waiting while a writer holds it.
    pub fn read(&self) -> GcRef<'_, T> {
        loop {
            if let Ok(g) = self.try_borrow() {
                return g;
            }
            yield_now();
        }
    }
}

fn yield_now() {
    if crate::sched::park::in_goroutine() {
        crate::yield_now()
    } else {
        std::thread::yield_now()
    }
}

/// A shared borrow of a [`GcCell`].
pub struct GcRef<'a, T: Trace> {
    cell: &'a GcCell<T>,
}

impl<T: Trace> std::ops::Deref for GcRef<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a shared borrow excludes writers.
        unsafe { &*self.cell.value.get() }
    }
}

impl<T: Trace> Drop for GcRef<'_, T> {
    fn drop(&mut self) {
        self.cell.borrow.fetch_sub(1, Release);
    }
}

/// An exclusive borrow of a [`GcCell`]: writes through it are the write barrier.
pub struct GcRefMut<'a, T: Trace> {
    cell: &'a GcCell<T>,
}

impl<T: Trace> std::ops::Deref for GcRefMut<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the exclusive borrow.
        unsafe { &*self.cell.value.get() }
    }
}

impl<T: Trace> std::ops::DerefMut for GcRefMut<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the exclusive borrow; the collector does not read a cell borrowed mutably.
        unsafe { &mut *self.cell.value.get() }
    }
}

impl<T: Trace> Drop for GcRefMut<'_, T> {
    fn drop(&mut self) {
        with_guard(|m| {
            if !self.cell.rooted.load(Relaxed) {
                // SAFETY: still exclusive until the store below.
                unsafe { (*self.cell.value.get()).trace_mut(&mut UnrootPass(m)) };
            }
            self.cell.borrow.store(0, Release);
        })
    }
}

// SAFETY: visits the contents, except while a writer holds them (they are rooted then; see
// the module rules).
unsafe impl<T: Trace> Trace for GcCell<T> {
    fn trace<V: Visitor>(&self, v: &mut V) {
        debug_assert_eq!(v.pass(), Pass::Mark);
        // Take the marker's read bit unless a writer holds the cell (then its contents are
        // rooted and were shaded by the root pass if marking was on).
        let mut b = self.borrow.load(Acquire);
        loop {
            if b == WRITING {
                return;
            }
            debug_assert_eq!(b & MARK_BIT, 0, "one marker at a time");
            match self
                .borrow
                .compare_exchange_weak(b, b | MARK_BIT, Acquire, Relaxed)
            {
                Ok(_) => break,
                Err(x) => b = x,
            }
        }
        // SAFETY: the mark bit excludes writers (they wait) until it is cleared below.
        unsafe { (*self.value.get()).trace(v) };
        self.borrow.fetch_and(!MARK_BIT, Release);
    }
    fn trace_mut<V: Visitor>(&mut self, v: &mut V) {
        // A leaked (`mem::forget`) mutable borrow leaves WRITING set: its contents stay rooted.
        let writing = *self.borrow.get_mut() == WRITING;
        match v.pass() {
            Pass::Unroot => assert!(
                std::mem::replace(self.rooted.get_mut(), false),
                "GcCell unrooted twice"
            ),
            Pass::Root => assert!(
                !std::mem::replace(self.rooted.get_mut(), true),
                "GcCell rooted twice"
            ),
            Pass::Mark => unreachable!("marking uses trace"),
        }
        if !writing {
            self.value.get_mut().trace_mut(v)
        }
    }
    const NEEDS_DROP: bool = T::NEEDS_DROP;
}

impl<T: Trace + std::fmt::Debug> std::fmt::Debug for GcCell<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.try_borrow() {
            Ok(v) => f.debug_tuple("GcCell").field(&*v).finish(),
            Err(_) => f.write_str("GcCell(<borrowed>)"),
        }
    }
}
