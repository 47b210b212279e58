//! `AtomicGc<T>`: a mutable GC pointer field in one machine word (Go's pointer field with its
//! write barrier).
//!
//! # The problem
//!
//! A mutable pointer field written as `GcCell<Option<Gc<T>>>` costs 16 bytes (the cell's
//! state word beside the 8-byte handle; 24 before the rooted flag moved into that word), and
//! every write takes the borrow, roots the old contents (a root-count increment), then unroots
//! the new ones. Boehm's GCBench node (two pointers, two `i32`) was then 56 bytes against Go's
//! 24, and the benchmark ran about 3x slower than Go with twice the memory. Go's pointer field is one word written with a
//! write barrier; so is this one.
//!
//! ```
//! use gort::gc::{AtomicGc, Gc, Trace};
//!
//! #[derive(Trace)]
//! struct Node {
//!     next: AtomicGc<Node>,
//!     value: u64,
//! }
//! assert_eq!(std::mem::size_of::<Node>(), 16);
//!
//! let a = Gc::new(Node { next: AtomicGc::empty(), value: 1 });
//! let b = Gc::new(Node { next: AtomicGc::new(Some(a.clone())), value: 2 });
//! a.next.store(Some(b.clone())); // a cycle; collected once unreachable
//! assert_eq!(a.next.load().unwrap().value, 2);
//! ```
//!
//! `AtomicGc<T>` is `Send`/`Sync` exactly when `Gc<T>` is:
//!
//! ```compile_fail
//! #[derive(gort::gc::Trace)]
//! struct S {
//!     #[gc(skip)]
//!     c: std::cell::Cell<u32>,
//! }
//! let f = gort::gc::AtomicGc::new(Some(gort::Gc::new(S { c: std::cell::Cell::new(1) })));
//! std::thread::spawn(move || f.load().map(|s| s.c.get()));
//! ```
//!
//! # How
//!
//! The field is one `AtomicUsize`: the target's address (objects are 8-aligned) with bit 0 the
//! *context* flag, `ROOTED`: set while the field lives outside the GC heap (its handle is then
//! rooted, counted in the target's root count `rc`), clear while it lives inside a heap object
//! (its handle is an edge, found by tracing). For a non-empty field the word *is* a
//! [`RawHandle`] word (same bit, same meaning); an empty field is `0` inside the heap and `1`
//! outside, so the context is known even when empty. The flag only changes through `&mut` (the
//! unroot pass when the field moves into the heap with `Gc::new`, the root pass when a heap
//! `GcCell` holding it is borrowed mutably), never while anyone else can see the field. Every
//! `rc += 1` / `rc -= 1` below is a `+1`/`-1` in the running thread's root cache (rootcache.rs),
//! inside the same guard: the collector's flush at each pause makes `rc` what this text says.
//!
//! * **store/swap inside the heap** (in a guard): shade the new target and decrement its root
//!   count (the handle becomes an edge: the unroot pass for one handle), swap the word
//!   (`AcqRel`), shade the old target (the SATB deletion barrier: the concurrent marker may not
//!   have traced it yet). `swap` then roots the old handle it returns (`rc += 1`, as `clone`).
//! * **outside the heap**: a lock-free `Mutex<Option<Gc<T>>>` of rooted handles: the swap
//!   moves a counted handle in and one out; no count changes.
//! * **load** (in a guard): read the word (`Acquire`), shade the target and increment its root
//!   count (exactly `Gc::clone`), return a rooted handle.
//! * **Marking** reads the word (`Acquire`) and marks its target; there is no lock against
//!   writers (unlike `GcCell`'s marker count): a writer's barrier covers both values (below).
//!
//! # Why `load` is safe (the target is never freed under the loader)
//!
//! The loader reaches the field through a rooted handle (or through edges from one), so the
//! object holding the field is live; the question is only the race with a concurrent writer
//! that removes the last path to the target between the loader's read and its `rc += 1`. Both
//! happen inside one guard, and no cycle can start (STW1) or end (STW2) while a thread is in a
//! guard, so the whole load lies in one interval between pauses:
//!
//! * *Marking is on* (between STW1 and STW2): nothing is freed until STW2, and the loader
//!   shades the target itself, so it is marked and survives this cycle's sweep; its new root
//!   count keeps it for the next. (A writer that overwrote it also shaded it.)
//! * *Marking is off* (after STW2 of cycle N, sweep N possibly running): the sweep frees only
//!   objects unmarked at STW2(N) that were allocated before it. The word read names either a
//!   target stored after STW2(N) (the storer held a rooted handle, so the object was live:
//!   marked at STW2(N), or allocated after it) or the field's value at STW2(N), in a container
//!   that was marked (the loader reaches it now, and no unreachable object becomes reachable
//!   again): the marker traced the container and every later write during marking shaded its
//!   new value, so the field's value at STW2(N) was marked. Either way the sweep keeps it, and
//!   the `rc += 1` (before the guard exits, so before STW1(N+1)) makes it a root next cycle.
//!
//! The same argument covers the outside context (a writer dropping the old rooted handle
//! concurrently) and `swap` rooting the old value.
//!
//! # Why marking may read the word without a lock
//!
//! Snapshot-at-the-beginning needs every object reachable at STW1 marked. A heap write while
//! marking runs shades the old target (deletion barrier) and the new one (its unroot shades
//! it, as for any rooted handle leaving the root set), inside the writer's guard, before the
//! guard ends (so before STW2 collects the grey buffers). Whichever value the marker reads, the
//! other one is shaded by the writer: neither is lost. Objects are not freed while marking runs,
//! so the marker never reads a freed target.
//!
//! # Rejected alternatives
//!
//! * *`GcCell<Option<Gc<T>>>`* (the borrow word): 16 bytes, an exclusive borrow and two
//!   rooting passes per write, and a reader can fail or wait while a writer holds the cell.
//!   It remains the tool for fields that are not a single pointer (vectors, maps, structs).
//! * *A per-field lock* (a spin bit in the word, as `GcCell`'s marker count): the marker and
//!   the loaders would contend with writers; an atomic swap plus the barrier makes every
//!   operation wait-free, as Go's are.
//! * *Rooting the contents for the duration of a write* (as `GcCell::borrow_mut`): needed only
//!   because a cell's writer may change arbitrary contents over time; a one-word swap is
//!   atomic, so the write is the barrier plus one swap.
//!
//! # Invariants and orderings
//!
//! 1. Bit 0 of the word is set iff the field is outside the heap; it changes only through
//!    `&mut` (rooting passes, inside guards). An empty field is `ROOTED` outside, `0` inside.
//! 2. Outside the heap a non-empty word holds one rooted handle, counted in the target's `rc`;
//!    inside, an edge (not counted). Every change of the word or a count runs inside a guard,
//!    so both pauses see (1) and (2) hold (`GcCell`'s argument: guard exit `Release`, the
//!    collector's `SeqCst` read of `busy` acquires it).
//! 3. Writes are `AcqRel` swaps and reads `Acquire` loads, so a loader on another thread sees
//!    the target's value as its storer (and whoever initialized it) wrote it. Root counts are
//!    `Relaxed`, like every other `rc` change (the guards order them for the collector).
//! 4. While marking runs, every write shades both the new and the old target before its guard
//!    ends; every load shades its target before raising its `rc`.
//! 5. `Drop` of a field inside a dead heap object does nothing (its target may be freed
//!    already); outside the heap it drops the rooted handle (shading, `rc -= 1`).

use std::marker::PhantomData;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering::*};

use super::barrier::shade;
use super::handle::{count, Gc, RawHandle};
use super::mutator::{with_guard, Mutator};
use super::visit::{Pass, Trace, Visitor};

/// Bit 0: the field lives outside the heap (as `RawHandle`'s rooted flag).
const ROOTED: usize = 1;

/// A mutable pointer field for GC objects in one word (Go's `*T` field), with a write barrier;
/// lock-free and shareable between goroutines.
///
/// Inside a heap object its writes ([`store`](AtomicGc::store), [`swap`](AtomicGc::swap),
/// [`compare_exchange`](AtomicGc::compare_exchange)) are the write barrier and its handle is
/// an edge; outside the heap (a local, a `Vec`) it holds a rooted handle, like an
/// `Option<Gc<T>>` behind a lock. [`load`](AtomicGc::load) returns a new rooted handle.
///
/// `AtomicGc<T>` is `Send` and `Sync` exactly when [`Gc<T>`](Gc) is (`T: Send + Sync`).
pub struct AtomicGc<T: Trace> {
    word: AtomicUsize,
    /// Owns a handle: `Send`/`Sync` exactly as `Gc<T>`.
    _t: PhantomData<Gc<T>>,
}

impl<T: Trace> AtomicGc<T> {
    /// A field holding `value` (outside the heap until it is moved into one with `Gc::new`).
    pub fn new(value: Option<Gc<T>>) -> AtomicGc<T> {
        AtomicGc {
            word: AtomicUsize::new(value.map_or(ROOTED, Gc::into_word)),
            _t: PhantomData,
        }
    }

    /// An empty field (Go's `nil`).
    pub const fn empty() -> AtomicGc<T> {
        AtomicGc {
            word: AtomicUsize::new(ROOTED),
            _t: PhantomData,
        }
    }

    /// The field lives inside a heap object (invariant 1: stable while `&self` is shared).
    #[inline]
    fn in_heap(&self) -> bool {
        self.word.load(Relaxed) & ROOTED == 0
    }

    /// A new rooted handle to the target (Go's pointer read), `None` if empty.
    #[inline]
    pub fn load(&self) -> Option<Gc<T>> {
        super::mutator::preempt_point();
        // An empty read needs no guard: it roots nothing.
        if self.word.load(Acquire) & !ROOTED == 0 {
            return None;
        }
        with_guard(|m| {
            let a = self.word.load(Acquire) & !ROOTED;
            if a == 0 {
                return None;
            }
            // The module's load argument: inside this guard the target is not freed.
            count(m, a, 1);
            // SAFETY: inside a guard; `a` is a live T (a field of type AtomicGc<T> only ever
            // holds T handles; not freed or fin: the module's load argument); counted just above.
            Some(unsafe { Gc::from_rooted_addr(a) })
        })
    }

    /// Stores `value` (Go's pointer write), dropping the old target's handle.
    #[inline]
    pub fn store(&self, value: Option<Gc<T>>) {
        super::mutator::preempt_point();
        let old = with_guard(|m| self.exchange(m, value, false));
        drop(old)
    }

    /// Stores `value` and returns the old target as a rooted handle.
    #[inline]
    pub fn swap(&self, value: Option<Gc<T>>) -> Option<Gc<T>> {
        super::mutator::preempt_point();
        with_guard(|m| self.exchange(m, value, true))
    }

    /// Empties the field and returns the old target.
    #[inline]
    pub fn take(&self) -> Option<Gc<T>> {
        self.swap(None)
    }

    /// Inside a guard: puts `new` in. Inside the heap returns the old target rooted if
    /// `keep_old` (else only shades it); outside, always returns the old rooted handle.
    #[inline]
    fn exchange(&self, m: &Mutator, new: Option<Gc<T>>, keep_old: bool) -> Option<Gc<T>> {
        let new_word = new.map_or(ROOTED, Gc::into_word);
        if !self.in_heap() {
            // Outside: a counted handle moves in, another moves out (invariant 2).
            let old = self.word.swap(new_word, AcqRel);
            // SAFETY: an outside word holds a rooted T handle whose count it owns (invariant 2);
            // the swap transferred that ownership to us.
            return (old != ROOTED).then(|| unsafe { Gc::from_word(old) });
        }
        let new_addr = new_word & !ROOTED;
        if new_addr != 0 {
            // Unroot the new handle: shade first (barrier.rs: a root count changes).
            shade(m, new_addr);
        }
        let old = self.word.swap(new_addr, AcqRel);
        if new_addr != 0 {
            // SAFETY: inside the guard on `m`'s thread (caller); no other cache reference.
            unsafe { m.cache() }.roots.add(new_addr, -1);
        }
        if old == 0 {
            return None;
        }
        // The deletion barrier: the marker may not have traced the old target yet.
        shade(m, old);
        if !keep_old {
            return None;
        }
        // SAFETY: as above.
        unsafe { m.cache() }.roots.add(old, 1);
        // SAFETY: `old` was the field's edge, read in this guard: a live T (the load argument
        // of the module docs applies to the swap's read); counted just above, in this guard.
        Some(unsafe { Gc::from_rooted_addr(old) })
    }

    /// Stores `new` if the field points at `current`'s object (or is empty, for `None`),
    /// by pointer identity. On failure gives `new` back.
    pub fn compare_exchange(
        &self,
        current: Option<&Gc<T>>,
        new: Option<Gc<T>>,
    ) -> Result<(), Option<Gc<T>>> {
        super::mutator::preempt_point();
        let cur = current.map_or(0, |g| Gc::raw(g).addr());
        let new_addr = new.as_ref().map_or(0, |g| Gc::raw(g).addr());
        with_guard(|m| {
            let heap = self.in_heap();
            let flag = if heap { 0 } else { ROOTED };
            if heap && new_addr != 0 {
                // Shaded before it can become an edge (harmless if the exchange fails).
                shade(m, new_addr);
            }
            match self
                .word
                .compare_exchange(cur | flag, new_addr | flag, AcqRel, Acquire)
            {
                Err(_) => Err(new),
                Ok(old) => {
                    if let Some(n) = new {
                        let _ = Gc::into_word(n);
                        if heap {
                            // SAFETY: inside this guard on this thread; no other reference.
                            unsafe { m.cache() }.roots.add(new_addr, -1);
                        }
                    }
                    if heap {
                        if cur != 0 {
                            shade(m, cur);
                        }
                    } else if old != ROOTED {
                        // SAFETY: the outside word's counted rooted handle, now ours.
                        drop(unsafe { Gc::<T>::from_word(old) });
                    }
                    Ok(())
                }
            }
        })
    }

    /// Whether the field is empty (a snapshot).
    #[inline]
    pub fn is_none(&self) -> bool {
        self.word.load(Acquire) & !ROOTED == 0
    }

    /// Whether the field points at `g`'s object (a snapshot).
    #[inline]
    pub fn ptr_eq(&self, g: &Gc<T>) -> bool {
        self.word.load(Acquire) & !ROOTED == Gc::raw(g).addr()
    }

    /// The handle, consuming the field.
    pub fn into_inner(self) -> Option<Gc<T>> {
        let w = self.word.load(Relaxed);
        // An owned field is outside the heap: heap fields are reachable only through `&`, and
        // a heap `GcCell`'s contents are rooted while borrowed mutably.
        assert!(w & ROOTED != 0, "gort gc: AtomicGc owned while unrooted");
        std::mem::forget(self);
        // SAFETY: an outside word owns its counted rooted T handle (invariant 2); `self` is
        // forgotten, so the ownership moves to the returned handle.
        (w != ROOTED).then(|| unsafe { Gc::from_word(w) })
    }
}

impl<T: Trace> Drop for AtomicGc<T> {
    fn drop(&mut self) {
        let w = *self.word.get_mut();
        // Inside a dead heap object (flag clear) do nothing: the target may be freed already.
        if w & ROOTED != 0 && w != ROOTED {
            // SAFETY: an outside word owns its counted rooted T handle; `Gc::drop` shades and
            // releases it in a guard.
            drop(unsafe { Gc::<T>::from_word(w) })
        }
    }
}

// SAFETY: visits its one handle (if any), in both methods.
unsafe impl<T: Trace> Trace for AtomicGc<T> {
    #[inline]
    fn trace<V: Visitor>(&self, v: &mut V) {
        // The marker needs only the address; writers race with it safely (module docs).
        if let Some(a) = NonZeroUsize::new(self.word.load(Acquire) & !ROOTED) {
            v.visit(&RawHandle::from_word(a))
        }
    }
    #[inline]
    fn trace_mut<V: Visitor>(&mut self, v: &mut V) {
        let w = self.word.get_mut();
        match NonZeroUsize::new(*w & !ROOTED) {
            Some(_) => {
                // Non-zero word: it is a RawHandle word (same flag, same meaning).
                let mut h = RawHandle::from_word(NonZeroUsize::new(*w).unwrap());
                v.visit_mut(&mut h);
                *w = h.word();
            }
            None => match v.pass() {
                Pass::Unroot => {
                    assert_eq!(*w, ROOTED, "gort gc: AtomicGc unrooted twice");
                    *w = 0;
                }
                Pass::Root => {
                    assert_eq!(*w, 0, "gort gc: AtomicGc rooted twice");
                    *w = ROOTED;
                }
                Pass::Mark => unreachable!("marking uses trace"),
            },
        }
    }
    const NEEDS_DROP: bool = false;
}

impl<T: Trace> Default for AtomicGc<T> {
    fn default() -> AtomicGc<T> {
        AtomicGc::empty()
    }
}

impl<T: Trace> From<Option<Gc<T>>> for AtomicGc<T> {
    fn from(v: Option<Gc<T>>) -> AtomicGc<T> {
        AtomicGc::new(v)
    }
}

impl<T: Trace> From<Gc<T>> for AtomicGc<T> {
    fn from(v: Gc<T>) -> AtomicGc<T> {
        AtomicGc::new(Some(v))
    }
}

impl<T: Trace + std::fmt::Debug> std::fmt::Debug for AtomicGc<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AtomicGc").field(&self.load()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(gort::gc::Trace)]
    struct N {
        next: AtomicGc<N>,
        v: u64,
    }

    #[test]
    fn one_word() {
        assert_eq!(std::mem::size_of::<AtomicGc<N>>(), 8);
        assert_eq!(std::mem::size_of::<N>(), 16);
    }
}
