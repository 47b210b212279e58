//! `Weak<T>`: a handle that does not keep its object alive (Go 1.24's `weak.Pointer`).
//!
//! # The problem
//!
//! Caches, canonicalisation maps and parent pointers want to refer to an object without
//! keeping it alive, and to learn, when they next look, whether it is still there. The
//! collector frees objects concurrently with the mutators (the sweep is lazy and runs in the
//! background), so the hard part is the race between *upgrading* a weak handle (turning it back
//! into a strong one) and the collector deciding that the object is dead: an upgrade must never
//! return an object that the sweep frees (or whose drop runs), and an upgrade that wins must
//! keep the object alive even if the current mark already passed it.
//!
//! (The example is on `Weak`.)
//!
//! # How
//!
//! * A `Weak<T>` holds an `Arc<Slot>`; a slot is one atomic word, the object's address, 0 once
//!   cleared. A cleared slot never becomes non-zero again.
//! * One slot per object: a global registry (`SLOTS`, address -> `std::sync::Weak<Slot>`)
//!   lets every `Gc::downgrade` of an object share its slot, so `Weak::ptr_eq` compares objects
//!   (also after they are collected, as Go's `weak.Pointer` equality does) and repeated
//!   downgrades of one object cost no new slot. The registry holds its slots weakly: a slot
//!   with no `Weak` left cannot be upgraded by anyone and is dropped at the next cycle.
//! * At mark termination (STW2, in `collect.rs` right after `prune_dead()`), with the world
//!   stopped and marking finished, [`clear_dead`] walks the registry: it drops the entries no
//!   `Weak` holds and clears (stores 0 into) every slot whose object is not marked, removing
//!   its entry. The sweep, the only thing that frees objects or queues their drops, runs after
//!   this pause, so every slot that names a dead object is cleared before the object is freed
//!   or dropped. Objects in the `fin` state (dead, drop pending) were unmarked at an earlier
//!   STW2, so their slots were cleared before their drops run: a drop never sees its own
//!   object upgraded.
//! * `Weak::upgrade` runs inside a guard: it reads the slot; if it is non-zero it shades the
//!   object (the SATB barrier: an upgrade while marking runs may resurrect an object the
//!   snapshot did not reach, so it is marked and its children traced, as Go's
//!   weak-to-strong conversion shades) and increments the root count, returning a rooted
//!   `Gc`. Reading 0 outside a guard is a valid answer (the slot stays 0), so a cleared
//!   handle's upgrade does not enter a guard.
//!
//! # Rejected alternatives
//!
//! * *Clearing in the sweep* (Go's design: a weak handle is a "special" record on the
//!   object's span, cleared when the sweep frees the object, and `makeStrongFromWeak` first
//!   sweeps the object's span, `ensureSwept`). gort's sweep runs under the heap lock, so an
//!   upgrade would take the heap lock (or a per-span sweep lock gort does not have) to sweep
//!   the span first; clearing with the world stopped makes the upgrade a guard plus two atomic
//!   operations. The cost is pause time: STW2 grows by one registry walk (a few ns per weakly
//!   referenced object); Go pays it in the sweep instead.
//! * *A per-object weak bit in the span plus a side table* (address -> slot, looked up by the
//!   sweep for objects whose bit is set): the same sweep/upgrade race as above, plus a bitmap
//!   per span and a lookup per freed flagged object; the registry walk is simpler and only
//!   costs anything when weak handles exist.
//! * *A weak count per object* (`std::rc::Weak`: keep the memory until the last weak handle
//!   goes): the object's slot could not be reused while a weak handle exists (a cache of weak
//!   handles would pin its dead entries' memory), and the upgrade would still have to race the
//!   sweep to learn whether the object is dead.
//! * *One slot per `downgrade`* (a `Vec<Arc<Slot>>` registry, pruned by `Arc::strong_count`):
//!   simpler, but a loop that downgrades one object grows the registry until the next cycle,
//!   which may never come if the loop allocates nothing on the GC heap; with one slot per
//!   object the registry is bounded by the live objects. Holding the slots weakly (rather than
//!   pruning entries whose `strong_count` is 1) also means soundness does not rest on an
//!   argument about racing counts: an entry is dropped only when `std::sync::Weak::upgrade`
//!   proves no handle can read its slot again.
//!
//! # Invariants and orderings
//!
//! 1. A slot is written (cleared) only by the collector with the world stopped, after marking
//!    finished and before the cycle's sweep starts. Guard entry acquires `start_world`'s
//!    `Release`, and the collector's stop acquires every guard exit, so an upgrade's read of the
//!    slot (inside its guard, `Relaxed`) sees the value as of the last pause: non-zero only if
//!    the object was marked at the last STW2 or was downgraded after it.
//! 2. A non-zero slot names an object that is not freed and not in the `fin` state: the object
//!    was alive when downgraded (the caller held a `Gc`), and every later STW2 either found it
//!    marked or cleared the slot before that cycle's sweep. So an upgrade inside a guard roots a
//!    live object; `clear_dead` reads the mark bit of a mapped span.
//! 3. An upgrade while marking runs shades the object before raising its root count (as
//!    `clone` does), so the concurrent root scan and mark termination see it marked: the slot
//!    is not cleared and the sweep does not free an object a mutator holds.
//! 4. A registry entry exists for every slot some `Weak` holds (`downgrade` inserts under the
//!    lock; `clear_dead` removes an entry only when its slot is cleared or no `Weak` holds it),
//!    so every live weak handle's slot is cleared when its object dies. Entries are keyed by
//!    address; an entry for a dead object is removed in the same pause that clears it, before
//!    the address can be reused, so a slot only ever names one object (and one type `T`).
//! 5. **Lock order.** The collector takes the registry lock while the world is stopped. A
//!    thread must therefore never enter a guard (allocate, clone or drop a `Gc`, borrow a
//!    `GcCell` mutably, upgrade) while holding the registry lock: the guard would wait for
//!    the world to restart and the collector would wait for the lock. `downgrade` registers
//!    outside any guard and runs no user code under the lock; `upgrade` and dropping or cloning
//!    a `Weak` never take the lock.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

use super::barrier::shade;
use super::handle::Gc;
use super::mutator::{in_guard, with_guard};
use super::span::{Span, MARK};
use super::visit::{Trace, Visitor};

/// The shared cell of an object's weak handles: its address, 0 once the object died.
struct Slot {
    addr: AtomicUsize,
}

/// Every object with weak handles: its address -> its slot (held weakly). See invariants 4, 5.
static SLOTS: Mutex<BTreeMap<usize, std::sync::Weak<Slot>>> = Mutex::new(BTreeMap::new());

fn slots() -> MutexGuard<'static, BTreeMap<usize, std::sync::Weak<Slot>>> {
    SLOTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// A weak handle to a `T` on the GC heap (Go's `weak.Pointer[T]`): it does not keep the object
/// alive; [`upgrade`](Weak::upgrade) returns a strong handle while the object lives and `None`
/// once a collection found it unreachable.
///
/// `Weak<T>` is `Send` and `Sync` exactly when [`Gc<T>`](Gc) is (`T: Send + Sync`). It
/// implements [`Trace`] (visiting nothing), so heap objects may hold weak handles (parent
/// pointers, caches).
///
/// ```
/// use gort::gc::{Gc, Trace, Weak};
///
/// #[derive(Trace)]
/// struct Page {
///     bytes: Vec<u8>,
/// }
///
/// let page = Gc::new(Page { bytes: vec![1, 2, 3] });
/// let cached: Weak<Page> = Gc::downgrade(&page);
/// assert_eq!(cached.upgrade().unwrap().bytes.len(), 3); // alive: a strong handle exists
/// drop(page);
/// gort::gc();
/// assert!(cached.upgrade().is_none()); // collected: the weak handle was cleared
/// ```
pub struct Weak<T: Trace> {
    slot: Option<Arc<Slot>>,
    _t: PhantomData<*const T>,
}

// SAFETY: a Weak only yields a Gc<T>, which may cross threads under these bounds; the slot is
// atomic and the registry locked.
unsafe impl<T: Trace + Send + Sync> Send for Weak<T> {}
// SAFETY: as above; `upgrade` takes `&self` and only reads the slot.
unsafe impl<T: Trace + Send + Sync> Sync for Weak<T> {}

impl<T: Trace> Gc<T> {
    /// A weak handle to this object (Go's `weak.Make`). Every weak handle of one object shares
    /// one slot, so [`Weak::ptr_eq`] tells whether two weak handles came from the same object,
    /// also after it was collected.
    pub fn downgrade(this: &Gc<T>) -> Weak<T> {
        super::mutator::preempt_point();
        // Invariant 5: never hold the registry lock inside a guard. (No user code runs in a
        // guard, so this only catches gort's own mistakes.)
        debug_assert!(
            !in_guard(),
            "gort gc: Gc::downgrade inside a heap operation"
        );
        let addr = Gc::raw(this).addr();
        let mut reg = slots();
        if let Some(s) = reg.get(&addr).and_then(std::sync::Weak::upgrade) {
            // Invariant 4: an entry is removed in the pause that clears its slot.
            debug_assert_eq!(s.addr.load(Relaxed), addr);
            return Weak {
                slot: Some(s),
                _t: PhantomData,
            };
        }
        let s = Arc::new(Slot {
            addr: AtomicUsize::new(addr),
        });
        reg.insert(addr, Arc::downgrade(&s));
        Weak {
            slot: Some(s),
            _t: PhantomData,
        }
    }
}

impl<T: Trace> Weak<T> {
    /// A weak handle to nothing: `upgrade` always returns `None` (like `std::sync::Weak::new`).
    pub const fn new() -> Weak<T> {
        Weak {
            slot: None,
            _t: PhantomData,
        }
    }

    /// A strong handle to the object if it is still alive (Go's `Pointer.Value`). An object is
    /// dead once a collection found it unreachable through strong handles; after that every
    /// upgrade returns `None`. An upgrade while a collection is marking keeps the object alive.
    pub fn upgrade(&self) -> Option<Gc<T>> {
        super::mutator::preempt_point();
        let slot = self.slot.as_ref()?;
        // A cleared slot stays cleared: 0 needs no guard.
        if slot.addr.load(Relaxed) == 0 {
            return None;
        }
        with_guard(|m| {
            // Invariant 1: inside the guard the slot is as the last pause left it.
            let addr = slot.addr.load(Relaxed);
            if addr == 0 {
                return None;
            }
            // Invariant 3: shade before the root count changes.
            shade(m, addr);
            // SAFETY: inside a guard; by invariant 2 `addr` is a live object, of type T by
            // invariant 4 (this Weak<T> came from a Gc<T> of it); its root count is raised
            // right below, in this guard, before the handle can drop.
            let g = unsafe { Gc::<T>::from_rooted_addr(addr) };
            // SAFETY: inside the guard on this thread; no other reference to the cache.
            unsafe { m.cache() }.roots.add(addr, 1);
            Some(g)
        })
    }

    /// Whether two weak handles came from the same object (also after it was collected); two
    /// `Weak::new()` handles are equal.
    pub fn ptr_eq(a: &Weak<T>, b: &Weak<T>) -> bool {
        match (&a.slot, &b.slot) {
            (Some(x), Some(y)) => Arc::ptr_eq(x, y),
            (None, None) => true,
            _ => false,
        }
    }
}

impl<T: Trace> Default for Weak<T> {
    fn default() -> Weak<T> {
        Weak::new()
    }
}

impl<T: Trace> Clone for Weak<T> {
    fn clone(&self) -> Weak<T> {
        Weak {
            slot: self.slot.clone(),
            _t: PhantomData,
        }
    }
}

impl<T: Trace> std::fmt::Debug for Weak<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("(Weak)")
    }
}

// SAFETY: a weak handle is not an edge: the collector must not follow it, so there is nothing
// to visit. Its drop (an `Arc` decrement) touches no GC object.
unsafe impl<T: Trace> Trace for Weak<T> {
    #[inline]
    fn trace<V: Visitor>(&self, _: &mut V) {}
    #[inline]
    fn trace_mut<V: Visitor>(&mut self, _: &mut V) {}
}

/// Mark termination: clears the slots of unmarked objects and drops the registry entries no
/// weak handle holds. World stopped, marking finished, this cycle's sweep not started; the
/// caller holds no registry lock (it is `COLLECT`'s holder, never a mutator in a guard).
pub(crate) fn clear_dead() {
    let mut reg = slots();
    reg.retain(|&addr, w| {
        let Some(s) = w.upgrade() else {
            return false; // no Weak left: nobody can read this slot again
        };
        // SAFETY: invariant 2: the slot is non-zero (entries of cleared slots are removed), so
        // the object is not freed and its span is mapped.
        let sp = unsafe { &*Span::of(addr) };
        // SAFETY: the world is stopped and marking finished, and this cycle's sweep (which
        // clears mark bits) has not started: nobody writes the MARK bitmap now.
        let marked = unsafe { sp.test(MARK, sp.index_of(addr)) };
        if !marked {
            s.addr.store(0, Relaxed);
        }
        marked
    });
}

/// Registry entries (objects with weak handles, or whose last weak handle dropped since the
/// last cycle). For tests.
#[doc(hidden)]
pub fn weak_slots() -> usize {
    slots().len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gc::{GcCell, Trace};

    #[derive(Trace)]
    struct Obj {
        v: u64,
        next: GcCell<Option<Gc<Obj>>>,
    }

    fn obj(v: u64) -> Gc<Obj> {
        Gc::new(Obj {
            v,
            next: GcCell::new(None),
        })
    }

    fn registered(addr: usize) -> bool {
        slots().contains_key(&addr)
    }

    #[test]
    fn one_slot_per_object_pruned_when_no_weak_is_left() {
        let g = obj(1);
        let addr = Gc::raw(&g).addr();
        let w1 = Gc::downgrade(&g);
        let w2 = Gc::downgrade(&g);
        assert!(Weak::ptr_eq(&w1, &w2));
        assert!(!Weak::ptr_eq(&w1, &Gc::downgrade(&obj(2))));
        assert!(registered(addr));
        assert!(weak_slots() >= 1);
        drop((w1, w2));
        crate::gc::gc();
        // The object lives (g), but no weak handle does: the entry is gone.
        assert!(!registered(addr));
        assert_eq!(g.v, 1);
        // A new downgrade registers it again.
        let w3 = Gc::downgrade(&g);
        assert!(registered(addr));
        assert!(Gc::ptr_eq(&w3.upgrade().unwrap(), &g));
        drop(w3);
    }

    #[test]
    fn dead_objects_are_cleared_and_unregistered() {
        let g = obj(3);
        let addr = Gc::raw(&g).addr();
        let w = Gc::downgrade(&g);
        let w2 = w.clone();
        drop(g);
        crate::gc::gc();
        assert!(w.upgrade().is_none());
        assert!(w2.upgrade().is_none());
        // Equality survives the collection.
        assert!(Weak::ptr_eq(&w, &w2));
        assert!(
            !registered(addr) || {
                // The address may hold a new object downgraded by a concurrent test: then it is
                // a different slot.
                let s = slots().get(&addr).and_then(std::sync::Weak::upgrade);
                s.is_none_or(|s| !Arc::ptr_eq(&s, w.slot.as_ref().unwrap()))
            }
        );
        assert_eq!(w.slot.as_ref().unwrap().addr.load(Relaxed), 0);
    }

    #[test]
    fn new_weak_is_dangling() {
        let w: Weak<Obj> = Weak::new();
        assert!(w.upgrade().is_none());
        assert!(Weak::ptr_eq(&w, &Weak::default()));
        assert_eq!(format!("{w:?}"), "(Weak)");
    }

    #[test]
    fn upgrade_during_marking_keeps_an_unreachable_object() {
        // Objects reachable only through weak handles, upgraded by another thread while
        // collections run: every upgrade that succeeds must see an intact object.
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let weaks: Vec<(u64, Weak<Obj>)> = (0..64)
            .map(|i| {
                let g = obj(i * 7);
                *g.next.borrow_mut() = Some(obj(i * 7 + 1));
                (i * 7, Gc::downgrade(&g))
            })
            .collect();
        let weaks = Arc::new(weaks);
        let h = {
            let (stop, weaks) = (stop.clone(), weaks.clone());
            std::thread::spawn(move || {
                let mut kept = Vec::new();
                while !stop.load(Relaxed) {
                    for (v, w) in weaks.iter() {
                        if let Some(g) = w.upgrade() {
                            assert_eq!(g.v, *v);
                            assert_eq!(g.next.borrow().as_ref().unwrap().v, v + 1);
                            if kept.len() < 8 {
                                kept.push(g);
                            }
                        }
                    }
                    crate::gc::gc();
                    for g in kept.drain(..) {
                        assert_eq!(g.next.borrow().as_ref().unwrap().v, g.v + 1);
                    }
                }
            })
        };
        for _ in 0..5 {
            crate::gc::gc();
        }
        stop.store(true, Relaxed);
        h.join().unwrap();
        crate::gc::gc();
        assert!(weaks.iter().all(|(_, w)| w.upgrade().is_none()));
    }
}
