//! `GcCell<T>`: a mutable field of a GC object; its mutable borrow is the write barrier.
//!
//! Rules (rust-gc's, with atomics so cells can be shared between goroutines):
//!
//! * `ROOTED` (a bit of the cell's state word) is set while the cell lives outside the GC heap
//!   (its contents' handles are then rooted) and clear inside (they are edges). The
//!   unroot/root passes flip it (with `&mut` access, so a plain write).
//! * The state word (32 bits, so a cell of one handle is 16 bytes) also holds the borrow state:
//!   a writer bit, a count of shared borrows, and a count of markers reading the contents
//!   concurrently (several markers may trace one cell at once: workers and assists).
//! * Invariant: when the cell is not borrowed mutably, its contents are rooted iff `rooted`;
//!   while it is borrowed mutably, its contents are rooted. `borrow_mut` on a heap cell roots the
//!   contents (so anything moved out with `mem::replace` is a rooted handle), and the end of the
//!   borrow unroots whatever is there then (so anything moved in becomes an edge).
//! * The collector skips the contents of a cell borrowed mutably (they are roots, and the
//!   writer may be changing them); it traces the contents of any other cell, which nobody can
//!   write while the world is stopped. Taking and ending a mutable borrow happen inside a guard.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU32, Ordering::*};

use super::handle::{Root, UnrootPass};
use super::mutator::with_guard;
use super::visit::{Pass, Trace, Visitor};

/// The cell lives outside the GC heap: its contents are rooted.
const ROOTED: u32 = 1 << 31;
/// A writer holds the cell.
const WRITING: u32 = 1 << 30;
/// One marker reading the contents; writers wait for markers instead of failing.
const MARKER: u32 = 1 << 20;
const MARKERS: u32 = ((1 << 10) - 1) * MARKER;
/// Shared borrows.
const READERS: u32 = MARKER - 1;

/// A mutable container for GC fields (RefCell-like, thread-safe when `T: Send + Sync`).
pub struct GcCell<T: Trace> {
    state: AtomicU32,
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
            state: AtomicU32::new(ROOTED),
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
        super::mutator::preempt_point();
        let mut b = self.state.load(Relaxed);
        loop {
            if b & WRITING != 0 || b & READERS == READERS {
                return Err(BorrowError);
            }
            match self.state.compare_exchange_weak(b, b + 1, Acquire, Relaxed) {
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
        super::mutator::preempt_point();
        with_guard(|m| {
            let mut b = self.state.load(Relaxed);
            let rooted = loop {
                if b & (WRITING | READERS) != 0 {
                    return Err(BorrowError);
                }
                if b & MARKERS != 0 {
                    // Markers are reading the contents (a few handles): wait.
                    std::hint::spin_loop();
                    b = self.state.load(Relaxed);
                    continue;
                }
                match self
                    .state
                    .compare_exchange_weak(b, b | WRITING, Acquire, Relaxed)
                {
                    Ok(_) => break b & ROOTED != 0,
                    Err(x) => b = x,
                }
            };
            if !rooted {
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
    if crate::rt::sched::park::in_goroutine() {
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
        self.cell.state.fetch_sub(1, Release);
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
            if self.cell.state.load(Relaxed) & ROOTED == 0 {
                // SAFETY: still exclusive until the writer bit is cleared below.
                unsafe { (*self.cell.value.get()).trace_mut(&mut UnrootPass(m)) };
            }
            self.cell.state.fetch_and(!WRITING, Release);
        })
    }
}

// SAFETY: visits the contents, except while a writer holds them (they are rooted then; see
// the module rules).
unsafe impl<T: Trace> Trace for GcCell<T> {
    fn trace<V: Visitor>(&self, v: &mut V) {
        debug_assert_eq!(v.pass(), Pass::Mark);
        // Count this marker in unless a writer holds the cell (then its contents are rooted
        // and were shaded by the root pass if marking was on).
        let mut b = self.state.load(Acquire);
        loop {
            if b & WRITING != 0 {
                return;
            }
            if b & MARKERS == MARKERS {
                std::hint::spin_loop();
                b = self.state.load(Acquire);
                continue;
            }
            match self
                .state
                .compare_exchange_weak(b, b + MARKER, Acquire, Relaxed)
            {
                Ok(_) => break,
                Err(x) => b = x,
            }
        }
        // SAFETY: a marker count excludes writers (they wait) until it is dropped below.
        unsafe { (*self.value.get()).trace(v) };
        self.state.fetch_sub(MARKER, Release);
    }
    fn trace_mut<V: Visitor>(&mut self, v: &mut V) {
        // A leaked (`mem::forget`) mutable borrow leaves WRITING set: its contents stay rooted.
        let st = self.state.get_mut();
        let writing = *st & WRITING != 0;
        let rooted = *st & ROOTED != 0;
        match v.pass() {
            Pass::Unroot => {
                assert!(rooted, "GcCell unrooted twice");
                *st &= !ROOTED;
            }
            Pass::Root => {
                assert!(!rooted, "GcCell rooted twice");
                *st |= ROOTED;
            }
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
