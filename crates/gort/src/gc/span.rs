//! A span: one 64 KiB block (small objects of one size class *and one type*) or one large
//! object, with its metadata in a header at the start of the block, beside the objects.
//!
//! Objects carry no header: the span header names the type of all its objects (`vt`, the
//! type's [`VTable`]), as Go keeps type information per span rather than per object for small
//! objects. A span is typed when a cache takes it fresh or empty, and keeps its type while any
//! slot is allocated (or waits for its drop), so `vt` is constant while an object lives in it.
//!
//! ```text
//!  base (64 KiB aligned)
//!  | Span header | alloc | mark | needs_drop | fin | done | check | rc: u32 x n | objects ... |
//! ```
//!
//! An object's span is `addr & !SPAN_MASK` (large objects are allocated 64 KiB aligned and their
//! object starts in the first 64 KiB), its index a multiply-shift by a precomputed reciprocal
//! (Go's `divMagic`). Each bitmap has one bit per object slot:
//!
//! | bitmap       | meaning                                        | written by                          |
//! |--------------|------------------------------------------------|-------------------------------------|
//! | `alloc`      | slot holds an object                           | the caching mutator (in a guard), the collector (world stopped) |
//! | `mark`       | reached in this cycle                          | the collector (world stopped)       |
//! | `needs_drop` | object's type has drop glue to run             | the caching mutator, the collector  |
//! | `fin`        | dead, queued for its drop to run               | the collector (world stopped)       |
//! | `done`       | its drop has run; free at the next sweep       | droppers, atomically (`fetch_or`)   |
//! | `check`      | reached by the `gccheckmark` re-mark           | the collector (world stopped)       |
//!
//! `rc` counts the rooted handles of each object (atomically: two mutators may clone or drop
//! handles of one object at once); it is read by the collector with the world stopped.
//! The allocation cursor (`word`, `bits`) belongs to the mutator whose cache holds the span.

use std::sync::atomic::{AtomicU32, AtomicU64};

use super::handle::VTable;

/// log2 of the span size.
pub(crate) const SPAN_SHIFT: usize = 16;
/// Bytes per span (small-object spans are exactly this big and this aligned).
pub(crate) const SPAN_BYTES: usize = 1 << SPAN_SHIFT;
/// Mask of the offset within a span.
pub(crate) const SPAN_MASK: usize = SPAN_BYTES - 1;
const NMAPS: usize = 6;

/// The span header; lives at the span's base address.
#[repr(C)]
pub(crate) struct Span {
    /// Size class (0 = a large object).
    pub class: usize,
    /// Bytes per object slot.
    pub elemsize: usize,
    /// Object slots.
    pub nelems: usize,
    /// Words per bitmap.
    pub nwords: usize,
    /// Address of slot 0.
    pub objs: usize,
    /// Bytes of the whole mapping (SPAN_BYTES for small spans).
    pub bytes: usize,
    /// The type of every object in the span. Written only while the span holds no object
    /// (fresh, or found empty by a sweep) by the thread that owns it then (heap lock held).
    pub vt: &'static VTable,
    div_magic: u64,
    maps: *mut u64,
    rc: *const AtomicU32,
    /// Allocation cursor: index of the bitmap word `bits` came from (owner only).
    pub word: usize,
    /// Free slots of word `word` not yet handed out (owner only).
    pub bits: u64,
    /// Held by a mutator's cache (collector with the world stopped, heap lock otherwise).
    pub cached: bool,
    /// Allocated slots, as of the last sweep or cache release (collector / heap lock).
    pub nalloc: usize,
    /// Found empty by the background sweeper: to be unmapped or pooled at the end of the
    /// sweep (heap lock).
    pub empty: bool,
}

/// Where each part of a span goes, for a given object size and mapping size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub nelems: usize,
    pub nwords: usize,
    pub objs_off: usize,
}

fn align_up(x: usize, a: usize) -> usize {
    (x + a - 1) & !(a - 1)
}

fn meta_bytes(n: usize) -> (usize, usize) {
    let nwords = n.div_ceil(64);
    let hdr = align_up(std::mem::size_of::<Span>(), 8);
    let end = hdr + NMAPS * nwords * 8 + 4 * n;
    (nwords, align_up(end, 64))
}

/// The layout of a small span of `elemsize` objects (the most objects that fit).
pub(crate) fn small_layout(elemsize: usize) -> Layout {
    let mut n = SPAN_BYTES / elemsize;
    loop {
        let (nwords, objs_off) = meta_bytes(n);
        if objs_off + n * elemsize <= SPAN_BYTES {
            return Layout {
                nelems: n,
                nwords,
                objs_off,
            };
        }
        n -= 1;
    }
}

/// The layout and mapping size of a large object of `size` bytes.
pub(crate) fn large_layout(size: usize) -> (Layout, usize) {
    let (nwords, objs_off) = meta_bytes(1);
    let bytes = align_up(objs_off + size, 4096);
    (
        Layout {
            nelems: 1,
            nwords,
            objs_off,
        },
        bytes,
    )
}

impl Span {
    /// Writes a fresh header (all bitmaps and counts zero) at `base`.
    ///
    /// # Safety
    /// `base` is SPAN_BYTES aligned, `bytes` long, writable, and no live object or other
    /// thread uses it.
    pub(crate) unsafe fn init(
        base: usize,
        class: usize,
        elemsize: usize,
        l: Layout,
        bytes: usize,
        vt: &'static VTable,
    ) -> *mut Span {
        let s = base as *mut Span;
        let maps = (base + align_up(std::mem::size_of::<Span>(), 8)) as *mut u64;
        let rc = (maps as usize + NMAPS * l.nwords * 8) as *const AtomicU32;
        // SAFETY: the caller owns [base, base+bytes); the header, bitmaps and rc table lie in
        // it (layout computed by small_layout/large_layout) and are suitably aligned.
        unsafe {
            s.write(Span {
                class,
                elemsize,
                nelems: l.nelems,
                nwords: l.nwords,
                objs: base + l.objs_off,
                bytes,
                vt,
                div_magic: (u32::MAX / elemsize.min(u32::MAX as usize) as u32) as u64 + 1,
                maps,
                rc,
                word: 0,
                bits: 0,
                cached: false,
                nalloc: 0,
                empty: false,
            });
            std::ptr::write_bytes(maps as *mut u8, 0, NMAPS * l.nwords * 8 + 4 * l.nelems);
        }
        s
    }

    /// The span holding the object at `addr`.
    #[inline]
    pub(crate) fn of(addr: usize) -> *mut Span {
        (addr & !SPAN_MASK) as *mut Span
    }

    /// Slot index of the object at `addr` (which must be a slot start in this span).
    #[inline]
    pub(crate) fn index_of(&self, addr: usize) -> usize {
        if self.class == 0 {
            return 0;
        }
        (((addr - self.objs) as u64 * self.div_magic) >> 32) as usize
    }

    /// Address of slot `i`.
    #[inline]
    pub(crate) fn addr_of(&self, i: usize) -> usize {
        self.objs + i * self.elemsize
    }

    #[inline]
    fn map(&self, which: usize) -> *mut u64 {
        // SAFETY: `maps` points at NMAPS consecutive bitmaps of `nwords` words (init).
        unsafe { self.maps.add(which * self.nwords) }
    }

    /// Bitmap `which` (ALLOC, MARK, ...) as a raw word pointer; see the module table for who
    /// may write it.
    #[inline]
    pub(crate) fn words(&self, which: usize) -> *mut u64 {
        self.map(which)
    }

    /// The root count of slot `i`.
    #[inline]
    pub(crate) fn rc(&self, i: usize) -> &AtomicU32 {
        debug_assert!(i < self.nelems);
        // SAFETY: the rc table has `nelems` entries (init) and lives as long as the span.
        unsafe { &*self.rc.add(i) }
    }

    /// The `done` bitmap word `w`, for droppers (atomic).
    #[inline]
    pub(crate) fn done_word(&self, w: usize) -> &AtomicU64 {
        // SAFETY: word `w` of the DONE bitmap is in the span (w < nwords); AtomicU64 has the
        // layout of u64; all concurrent accesses to this bitmap are atomic.
        unsafe { &*(self.map(DONE).add(w) as *const AtomicU64) }
    }

    /// The `mark` bitmap word `w`, atomically (concurrent marking: the marker, the write
    /// barrier and black allocation set bits at once).
    #[inline]
    pub(crate) fn mark_word(&self, w: usize) -> &AtomicU64 {
        // SAFETY: word `w` < nwords of the MARK bitmap; while marking runs concurrently every
        // access to it is atomic (plain accesses happen only with the world stopped).
        unsafe { &*(self.map(MARK).add(w) as *const AtomicU64) }
    }

    /// Sets mark bit `i` atomically; true if this call set it.
    #[inline]
    pub(crate) fn mark_atomic(&self, i: usize) -> bool {
        let bit = 1u64 << (i % 64);
        let w = self.mark_word(i / 64);
        if w.load(std::sync::atomic::Ordering::Relaxed) & bit != 0 {
            return false;
        }
        w.fetch_or(bit, std::sync::atomic::Ordering::AcqRel) & bit == 0
    }

    /// Tests bit `i` of bitmap `which`.
    ///
    /// # Safety
    /// No other thread writes that bitmap word now (module table).
    #[inline]
    pub(crate) unsafe fn test(&self, which: usize, i: usize) -> bool {
        // SAFETY: i < nelems so the word is in the bitmap; no concurrent writer (caller).
        unsafe { *self.map(which).add(i / 64) & (1 << (i % 64)) != 0 }
    }

    /// Sets bit `i` of bitmap `which`.
    ///
    /// # Safety
    /// The caller may write that bitmap word now (module table).
    #[inline]
    pub(crate) unsafe fn set(&self, which: usize, i: usize) {
        // SAFETY: as for `test`, and the caller is the word's only writer.
        unsafe { *self.map(which).add(i / 64) |= 1 << (i % 64) }
    }

    /// Takes the next free slot for the caching mutator, or `None` when the span is full.
    ///
    /// # Safety
    /// The caller's cache holds this span and it is inside a mutator guard.
    #[inline]
    pub(crate) unsafe fn next_free(&mut self) -> Option<usize> {
        loop {
            if self.bits != 0 {
                let b = self.bits.trailing_zeros() as usize;
                self.bits &= self.bits - 1;
                let i = self.word * 64 + b;
                if i >= self.nelems {
                    return None;
                }
                // SAFETY: the owner may write ALLOC (module table).
                unsafe { *self.map(ALLOC).add(self.word) |= 1 << b };
                return Some(i);
            }
            if self.word + 1 >= self.nwords {
                return None;
            }
            self.word += 1;
            // SAFETY: the owner may read ALLOC; only it and the stopped collector write it.
            self.bits = unsafe { !*self.map(ALLOC).add(self.word) };
        }
    }

    /// Resets the cursor to the first word (when a cache takes the span).
    ///
    /// # Safety
    /// The caller holds the heap lock and the span is not cached by anyone.
    pub(crate) unsafe fn reset_cursor(&mut self) {
        self.word = 0;
        // SAFETY: nobody else writes ALLOC now (not cached; heap lock or world stopped).
        self.bits = unsafe { !*self.map(ALLOC) };
    }

    /// Number of allocated slots (popcount of ALLOC).
    ///
    /// # Safety
    /// No concurrent writer of ALLOC.
    pub(crate) unsafe fn count_alloc(&self) -> usize {
        let a = self.map(ALLOC);
        // SAFETY: the bitmap has nwords words; no concurrent writer (caller).
        (0..self.nwords)
            .map(|w| unsafe { *a.add(w) }.count_ones() as usize)
            .sum()
    }

    /// Whether the rc of any object is being read: helper for tests.
    #[cfg(test)]
    pub(crate) fn rc_load(&self, i: usize) -> u32 {
        self.rc(i).load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Bitmap indices.
pub(crate) const ALLOC: usize = 0;
pub(crate) const MARK: usize = 1;
pub(crate) const NEEDS_DROP: usize = 2;
pub(crate) const FIN: usize = 3;
pub(crate) const DONE: usize = 4;
pub(crate) const CHECK: usize = 5;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gc::sizeclass::SIZES;

    #[test]
    fn layouts_fit_and_index_round_trips() {
        for &size in &SIZES[1..] {
            let size = size as usize;
            let l = small_layout(size);
            assert!(l.nelems >= 1, "class {size}");
            assert!(l.objs_off + l.nelems * size <= SPAN_BYTES);
            assert_eq!(l.objs_off % 64, 0);
            // Waste bounded: at most one object's worth plus metadata.
            let mut mem = vec![0u64; SPAN_BYTES / 8 * 2];
            let base = (mem.as_mut_ptr() as usize + SPAN_MASK) & !SPAN_MASK;
            // SAFETY: `base` is SPAN_BYTES aligned inside `mem`, which is 2 spans long.
            let s = unsafe { &*Span::init(base, 1, size, l, SPAN_BYTES, VTable::NONE) };
            for i in 0..l.nelems {
                assert_eq!(s.index_of(s.addr_of(i)), i);
                assert_eq!(Span::of(s.addr_of(i)) as usize, base);
                assert_eq!(s.rc_load(i), 0);
            }
        }
    }

    #[test]
    fn small_spans_hold_many_small_objects() {
        assert!(small_layout(24).nelems > 2200);
        assert_eq!(small_layout(32768).nelems, 1);
        let (l, bytes) = large_layout(100_000);
        assert_eq!(l.nelems, 1);
        assert!(bytes >= 100_000 + l.objs_off && bytes % 4096 == 0);
    }
}
