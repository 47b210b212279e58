//! Deferred root counts: a thread's root-count changes, cached where only it writes them.
//!
//! # Problem
//! A handle that lives outside the heap is a root, counted in its object's `rc` (handle.rs).
//! Counting with an atomic read-modify-write per `clone` and per `drop` cost 21-27 ns a pair
//! (`cargo bench -p gort --bench gc`, `GcCloneDrop`, EPYC 2 vCPU), 21% + 11% of binary-trees'
//! CPU, and 47% of an interpreter's whose graph four goroutines shared: every clone and drop
//! moved the object's root-count line between cores. A Go pointer copy costs nothing.
//!
//! # How
//! Each mutator (one per thread, mutator.rs) keeps a small direct-mapped table from object
//! address to a signed *delta*: the changes this thread made to that object's root count and
//! has not yet added to `rc`. `clone`, `drop`, `Gc::new` and the rooting passes add `+1`/`-1`
//! to the entry; a clone dropped on the thread that made it (the common temporary) cancels in
//! the table and never touches `rc`. An entry whose slot another address needs is *evicted*:
//! its delta is added to `rc` with one atomic (the only atomic left, and only on a conflict).
//! The collector adds every table's deltas to `rc` with the world stopped (`flush`), at STW1
//! before it snapshots the roots and at STW2 before the checkmark and `gctrace=2` marks.
//!
//! Between pauses `rc` alone is not the root count: the count is `rc` plus every table's delta
//! for the object, and `rc` may even wrap below zero (a thread's `-1` evicted while another's
//! `+1` is still cached). That is enough, because:
//!
//! * **At a pause `rc` is exact.** The world is stopped, so no table changes, and the flush
//!   adds every delta: each `rc` is then the number of rooted handles (invariant R, DESIGN.md).
//! * **Between pauses nothing needs `rc` exact.** The concurrent root scan reads `rc` after
//!   STW1; an object whose count changed since STW1 was shaded by that change (every `+1`/`-1`
//!   during a mark runs `barrier::shade` in the same guard), so whatever value the scan reads,
//!   the object is marked. A wrapped value reads as a root: conservative, and only for objects
//!   already shaded. Sweep frees only unmarked objects, and an unmarked object had `rc` 0 at
//!   STW1 and no change since (any change shades), so its slot's `rc` is 0 when it is reused.
//! * **An eviction never targets a freed slot.** A nonzero delta means this thread changed the
//!   count since the last flush (a pause): if during a mark, the object was shaded; if after
//!   the last mark termination, the thread held a handle, so the object was reachable and
//!   marked. Either way the sweep that follows does not free it; the next pause flushes first.
//! * **Evictions publish with `Release`.** An object allocated black during a mark is counted
//!   in the table, not in `rc`; if its `+1` is evicted, the root scan's `Acquire` load that sees
//!   it also sees the object's mark bit and initialised value (alloc.rs's ordering).
//!
//! Access rule: the table is part of the mutator's `Cache`: the owner thread inside a guard,
//! or the collector with the world stopped.
//!
//! # Rejected
//! * Per-P counters (`rc` split per P, summed at the pause): the pause would sum `nprocs`
//!   counters for every object; threads outside Ps (blocking pool, plain threads) need a
//!   fallback that is again a shared atomic.
//! * An append-only log of `(addr, ±1)` per thread, applied when full: no cancellation, so
//!   still one atomic per change, only later (binary-trees' nodes each get a `+1` and a `-1`).
//! * Lifetime-bound roots (`Gc<'scope, T>`, zerogc/rune): costs nothing, but a handle could
//!   not be stored in a `Vec`, a channel or another goroutine without a second handle type;
//!   kept open as an addition, not a replacement.
//!
//! Numbers for the chosen design are in DESIGN.md ("Rooting").

use std::sync::atomic::Ordering::Release;

use super::span::Span;

/// Entries per thread (a power of two): 8 KiB, within L1 beside the allocation cache.
pub(crate) const ENTRIES: usize = 512;

#[derive(Clone, Copy)]
struct Entry {
    addr: usize,
    delta: isize,
}

/// A thread's pending root-count changes (see the module docs).
pub(crate) struct RootCache {
    e: [Entry; ENTRIES],
    /// Some entry is in use (set by a miss, cleared by `flush`, which empties every entry).
    dirty: bool,
}

/// Table slot of `addr`: objects are at least 8 bytes apart and allocation walks a span
/// upwards, so consecutive allocations (a tree built bottom-up, a batch of clones) take
/// consecutive slots and meet again only 8 KiB of 16-byte objects later.
#[inline]
fn slot(addr: usize) -> usize {
    (addr >> 4) & (ENTRIES - 1)
}

impl RootCache {
    pub(crate) fn new() -> RootCache {
        RootCache {
            e: [Entry { addr: 0, delta: 0 }; ENTRIES],
            dirty: false,
        }
    }

    /// Adds `d` to the root count of the live object at `addr`.
    #[inline(always)]
    pub(crate) fn add(&mut self, addr: usize, d: isize) {
        let e = &mut self.e[slot(addr)];
        if e.addr == addr {
            e.delta += d;
            return;
        }
        if e.delta != 0 {
            // SAFETY: a nonzero delta names an object no sweep has freed since (module docs,
            // "an eviction never targets a freed slot").
            unsafe { apply(e.addr, e.delta) };
        }
        *e = Entry { addr, delta: d };
        self.dirty = true;
    }

    /// `add` without its eviction: false, changing nothing, if the slot holds a pending delta
    /// for another address (the caller then takes `add`'s path).
    #[inline(always)]
    pub(crate) fn add_fast(&mut self, addr: usize, d: isize) -> bool {
        let e = &mut self.e[slot(addr)];
        if e.addr == addr {
            e.delta += d;
            return true;
        }
        if e.delta != 0 {
            return false;
        }
        *e = Entry { addr, delta: d };
        self.dirty = true;
        true
    }

    /// Adds every pending delta to its object's `rc` and empties the table. Called by the
    /// owner inside a guard, or by the collector with the world stopped.
    pub(crate) fn flush(&mut self) {
        if !self.dirty {
            return;
        }
        for e in self.e.iter_mut() {
            if e.delta != 0 {
                // SAFETY: as in `add`.
                unsafe { apply(e.addr, e.delta) };
            }
            // Emptied, not only zeroed: `add` sets `dirty` on a miss only, so a clean table
            // must have no entry a later change could hit.
            *e = Entry { addr: 0, delta: 0 };
        }
        self.dirty = false;
    }

    /// The pending delta for `addr` (tests).
    #[cfg(test)]
    pub(crate) fn pending(&self, addr: usize) -> isize {
        let e = &self.e[slot(addr)];
        if e.addr == addr {
            e.delta
        } else {
            0
        }
    }
}

/// Adds `d` to the root count of the object at `addr`.
///
/// # Safety
/// `addr` is an allocated object (its span is mapped and the slot not freed).
// SAFETY (of callers): a nonzero delta names an object no sweep freed since the table last
// flushed (module docs, "an eviction never targets a freed slot").
#[cold]
#[inline(never)]
unsafe fn apply(addr: usize, d: isize) {
    // SAFETY: the caller's contract: the span header lives at the 64 KiB boundary below.
    let s = unsafe { &*Span::of(addr) };
    // Wrapping: a thread's -1 may reach `rc` before another thread's +1 (module docs).
    s.rc(s.index_of(addr)).fetch_add(d as u32, Release);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gc::mutator::with_guard;
    use crate::gc::Gc;
    use std::sync::atomic::Ordering::Relaxed;

    fn flush_mine() {
        // SAFETY: the owner inside a guard (the access rule).
        with_guard(|m| unsafe { m.cache() }.roots.flush());
    }

    fn pending<T: crate::gc::Trace>(g: &Gc<T>) -> isize {
        let a = Gc::raw(g).addr();
        // SAFETY: as above.
        with_guard(|m| unsafe { m.cache() }.roots.pending(a))
    }

    fn rc<T: crate::gc::Trace>(g: &Gc<T>) -> u32 {
        Gc::raw(g).rc().load(Relaxed)
    }

    /// A clone and a drop on one thread cancel in the table; a flush adds what is left.
    #[test]
    fn changes_cancel_in_the_table_and_flush_adds_the_rest() {
        let _l = crate::gc::collect::COLLECT
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let g = Gc::new([7u64; 4]);
        flush_mine();
        assert_eq!((rc(&g), pending(&g)), (1, 0));
        let c = g.clone();
        assert_eq!((rc(&g), pending(&g)), (1, 1));
        drop(c);
        assert_eq!((rc(&g), pending(&g)), (1, 0));
        let held: Vec<_> = (0..5).map(|_| g.clone()).collect();
        flush_mine();
        assert_eq!((rc(&g), pending(&g)), (6, 0));
        drop(held);
        flush_mine();
        assert_eq!(rc(&g), 1);
    }

    /// Regression: a change to an entry left by a flush must be flushed by the next one (the
    /// table once kept the address, marked itself clean, and the next flush skipped the
    /// change: a lost +1 is a freed object still held).
    #[test]
    fn a_change_after_a_flush_reaches_the_next_flush() {
        let _l = crate::gc::collect::COLLECT
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let g = Gc::new([1u64; 4]);
        flush_mine();
        let c = g.clone();
        flush_mine();
        assert_eq!(rc(&g), 2, "the clone after the first flush was lost");
        drop(c);
        flush_mine();
        assert_eq!(rc(&g), 1);
    }

    /// Two objects in one slot: the second evicts the first's delta into its `rc`.
    #[test]
    fn a_conflict_evicts_the_delta_into_rc() {
        let _l = crate::gc::collect::COLLECT
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let objs: Vec<Gc<[u64; 4]>> = (0..2 * ENTRIES as u64).map(|i| Gc::new([i; 4])).collect();
        flush_mine();
        let a = &objs[0];
        let b = objs[1..]
            .iter()
            .find(|b| slot(Gc::raw(b).addr()) == slot(Gc::raw(a).addr()))
            .expect("two objects 32 bytes apart fill every slot within 2 * ENTRIES of them");
        let ca = a.clone();
        assert_eq!((rc(a), pending(a)), (1, 1));
        let cb = b.clone();
        assert_eq!((rc(a), pending(a)), (2, 0), "b's change evicted a's");
        assert_eq!((rc(b), pending(b)), (1, 1));
        drop(ca);
        drop(cb);
        flush_mine();
        assert_eq!((rc(a), rc(b)), (1, 1));
    }
}
