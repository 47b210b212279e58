//! Span-batched marking (Go 1.26's Green Tea collector on gort's typed spans).
//!
//! # The problem
//!
//! A grey stack of object addresses visits the heap in the order pointers are found: each
//! trace touches a new object's span header (for its type and mark bits) and the object, and
//! each grey object costs a push and a pop. On heaps of small objects allocated together
//! (trees, lists) neighbouring objects are often reachable together, but the stack does not
//! know that.
//!
//! # How
//!
//! Marking a small object sets its mark bit and, if its span is not queued yet, queues the
//! *span* (one entry for however many of its objects are marked before a marker takes it).
//! Grey is "marked and not scanned": each span has a `scan` bitmap beside `mark`. A marker
//! that takes a span claims its grey objects a word at a time (`scan.fetch_or(mark)`: each
//! object is traced by exactly one marker) and traces them while the span's header and
//! neighbours are in cache. Objects it marks in the span it is scanning are not queued again:
//! it goes on down the span (the words it has not reached yet) and makes another pass if one
//! went into a word it had passed. Span entries wait in a FIFO queue per marker (so more of a
//! span is marked before it is scanned) and travel through the shared pool like grey objects,
//! tagged with bit 0. Large objects, the write barrier's greys, the checkmark traversal and
//! the `gctrace=2` repeat stay on the object stack.
//!
//! `owned` is Go's spanScanOwnership: 0 (not queued), [`ONE`] (queued with one mark: the
//! entry's object, traced alone without walking the bitmaps) or with [`MANY`] set.
//! Allocation during marking is black: the allocating cache sets the scan bits of the free
//! slots of its cursor's word before it hands them out (`Span::preset_scan`), so a scan never
//! traces a new (possibly uninitialised) object.
//!
//! # Rejected alternatives
//!
//! * *Releasing the span after one pass* (Go's order): binary-trees allocates children before
//!   parents, so each pass over a span finds one more level of the tree; scanning on in the
//!   same span instead keeps the span's work in one visit.
//!
//! # Invariants and orderings
//!
//! 1. Every grey object of a small span is in a span that is queued (`owned` != 0 and its
//!    entry is on a marker's queue or in the pool), or being scanned by a marker that will
//!    pass over it again, or on an object stack, pool batch or barrier buffer (objects marked
//!    by the object path). Quiescence (work.rs) therefore still means "no grey left".
//! 2. A shader stores its mark bit, then loads `owned`; a marker that takes an entry swaps
//!    `owned` to 0, then loads the mark bits (all `SeqCst`): either the marker sees the new
//!    mark, or the shader sees 0 and queues the span again.
//! 3. Scan bits are only set (`fetch_or`) while marking runs; the sweep clears them with the
//!    mark bits. At mark termination every span's `owned` is 0 again.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, SeqCst};

use super::span::Span;

/// `owned`: queued by the first mark since the span was last taken.
pub(crate) const ONE: u8 = 1;
/// `owned`: queued, and more marks since (or marks while it was being scanned).
pub(crate) const MANY: u8 = 2;
/// `owned`: a marker is scanning the span.
pub(crate) const SCANNING: u8 = 4;

/// A span-queue entry: the address of the object whose mark queued its span, with bit 0 set
/// (object addresses are 8-aligned), so entries can share the pool with grey objects.
#[inline]
pub(crate) fn is_span_entry(e: usize) -> bool {
    e & 1 != 0
}

/// After setting the mark bit of an object in `s` (another marker's span, or none's): true if
/// the caller must queue the span (the entry `addr | 1`). Go's tryAcquire: losing the race
/// for [`ONE`] falls through to [`MANY`], so a span queued with [`ONE`] by another shader
/// is scanned whole.
#[inline]
pub(crate) fn try_acquire(s: &Span) -> bool {
    let o = s.owned.load(SeqCst);
    if o & MANY != 0 {
        return false;
    }
    if o == 0 && s.owned.fetch_or(ONE, SeqCst) == 0 {
        return true;
    }
    s.owned.fetch_or(MANY, SeqCst) == 0
}

/// Taking an entry: the caller now scans the span (shaders set [`MANY`] instead of queueing
/// it). True if it was queued with its one mark only: that object is its only grey one but
/// for those the caller shades itself.
#[inline]
pub(crate) fn take(s: &Span) -> bool {
    s.owned.swap(SCANNING, SeqCst) == ONE
}

/// After a scan: gives the span up; true if it was shaded meanwhile and the caller owns it
/// again (scanning once more, then calling `finish` again).
#[inline]
pub(crate) fn finish(s: &Span) -> bool {
    if s.owned.swap(0, SeqCst) & MANY == 0 {
        return false;
    }
    // Shaded while we scanned: scan again unless a shader has queued it since (then it
    // is queued with MANY, and its taker scans it whole).
    if s.owned.fetch_or(MANY, SeqCst) != 0 {
        return false;
    }
    s.owned.store(SCANNING, SeqCst);
    true
}

/// The grey objects of mark word `w` of `s` (marked, not scanned) for the marker scanning the
/// span. Black allocation sets the scan bit before the mark bit, so a new object is never
/// grey (the mark's `SeqCst` store orders the cache's earlier `fetch_or` of the scan bit).
#[inline]
pub(crate) fn grey(s: &Span, w: usize) -> u64 {
    let m = s.mark_word(w).load(SeqCst);
    m & !s.scan_word(w).load(Acquire)
}

/// Records that the objects `bits` of word `w` were traced.
#[inline]
pub(crate) fn set_scanned(s: &Span, w: usize, bits: u64) {
    s.scan_word(w).fetch_or(bits, Relaxed);
}

/// Claims slot `i` of `s` alone (an entry queued with one mark, or an object from a stack);
/// false if it was scanned.
#[inline]
pub(crate) fn take_one(s: &Span, i: usize) -> bool {
    let bit = 1u64 << (i % 64);
    s.scan_word(i / 64).fetch_or(bit, AcqRel) & bit == 0
}

/// A marker's queue of span entries (FIFO).
pub(crate) type Queue = VecDeque<usize>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gc::handle::VTable;
    use crate::gc::span::{small_layout, SPAN_BYTES, SPAN_MASK};

    fn span(mem: &mut Vec<u64>, size: usize) -> &'static Span {
        let base = (mem.as_mut_ptr() as usize + SPAN_MASK) & !SPAN_MASK;
        let l = small_layout(size);
        // SAFETY: `base` is SPAN_BYTES aligned inside `mem` (2 spans long, kept alive by the
        // test for as long as the span is used).
        unsafe { &*Span::init(base, 1, size, l, SPAN_BYTES, VTable::NONE) }
    }

    #[test]
    fn ownership_handshake() {
        let mut mem = vec![0u64; SPAN_BYTES / 8 * 2];
        let s = span(&mut mem, 32);
        assert!(try_acquire(s), "first mark queues the span");
        assert!(!try_acquire(s) && !try_acquire(s), "later marks do not");
        assert!(!take(s), "queued with many marks");
        assert!(
            !try_acquire(s),
            "a mark while it is scanned does not queue it"
        );
        assert!(finish(s), "but has the scanner scan again");
        assert!(!finish(s), "then it is given up");
        assert!(try_acquire(s), "a mark after the release queues it again");
        assert!(take(s), "with one mark");
        assert!(!finish(s));
        // Losing the race for ONE: the span must be scanned whole.
        s.owned.store(ONE, Relaxed);
        assert!(!try_acquire(s));
        assert!(!take(s));
        assert!(!finish(s));
        assert_eq!(s.owned.load(Relaxed), 0);
    }

    #[test]
    fn grey_is_marked_and_not_scanned() {
        let mut mem = vec![0u64; SPAN_BYTES / 8 * 2];
        let s = span(&mut mem, 32);
        // Black allocation: scan bit then mark bit; never grey.
        take_one(s, 5);
        s.mark_atomic(5);
        for i in [0, 3, 63, 64, 100] {
            assert!(s.mark_atomic(i));
        }
        assert_eq!(grey(s, 0), 1 | 1 << 3 | 1 << 63);
        set_scanned(s, 0, 1 | 1 << 3 | 1 << 63);
        assert_eq!(grey(s, 0), 0, "traced once");
        assert_eq!(grey(s, 1), 1 | 1 << 36);
        s.mark_atomic(7);
        assert!(take_one(s, 7));
        assert!(!take_one(s, 7));
        assert_eq!(grey(s, 0), 0, "the single object was claimed too");
    }
}
