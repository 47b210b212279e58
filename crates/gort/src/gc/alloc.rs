//! The allocation path (Go's mallocgc): a thread's cached span per size class, refilled from
//! the heap under its lock, large objects on their own spans, and the trigger check.
//!
//! Spans are typed (span.rs), so the cache's span for a class serves one type at a time. When
//! a thread allocates another type of the same class, the current span moves to a short list
//! of alternates (`Cache::alt`, `ALT_SPANS` spans) and a span of the new type comes from there
//! or from the heap; the oldest alternate goes back to the heap's partial list for its type.
//! Programs that interleave a few types per class stay off the heap lock.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};

use super::barrier::MARKING;
use super::handle::VTable;
use super::mheap::{HeapInner, SpanPtr};
use super::mutator::{Cache, Mutator};
use super::span::NEEDS_DROP;
use super::HEAP;

/// Bytes in allocated slots plus the free slots of cached spans (Go's heapLive): what the
/// trigger compares against the goal.
pub(crate) static HEAP_LIVE: AtomicU64 = AtomicU64::new(0);
/// When `HEAP_LIVE` crosses it, a cycle starts (the background worker is woken).
pub(crate) static TRIGGER: AtomicU64 = AtomicU64::new(4 << 20);
/// The heap goal: an allocation outside a guard that finds `HEAP_LIVE` above it while a cycle
/// is due or running waits for (or runs) the cycle: gort's mark assist.
pub(crate) static GOAL: AtomicU64 = AtomicU64::new(4 << 20);
/// A collection is due.
pub(crate) static GC_NEEDED: AtomicBool = AtomicBool::new(false);
/// Cumulative objects and bytes allocated (flushed from caches).
pub(crate) static MALLOCS: AtomicU64 = AtomicU64::new(0);
pub(crate) static TOTAL_ALLOC: AtomicU64 = AtomicU64::new(0);
/// `gctorture=N`: collect every N allocations (0 = off).
pub(crate) static TORTURE: AtomicU64 = AtomicU64::new(0);
static TORTURE_COUNT: AtomicU64 = AtomicU64::new(0);

fn add_live(bytes: u64) {
    let live = HEAP_LIVE.fetch_add(bytes, Relaxed) + bytes;
    if live >= TRIGGER.load(Relaxed) {
        GC_NEEDED.store(true, Relaxed);
    }
}

/// Flushes a cache's counters into the globals.
pub(crate) fn flush_counts(c: &mut Cache) {
    MALLOCS.fetch_add(std::mem::take(&mut c.nmalloc), Relaxed);
    TOTAL_ALLOC.fetch_add(std::mem::take(&mut c.bytes), Relaxed);
}

/// Spans of other types a cache keeps beside its current one per class.
pub(crate) const ALT_SPANS: usize = 8;

/// Allocates a slot of at least `size` bytes aligned to `align` for an object of type `vt`
/// (`class`: its size class from `class_for`, `None` for a large object), root count 0: the
/// caller counts its new handle in its root cache (`RootCache::add`, rootcache.rs) inside the
/// same guard.
///
/// # Safety
/// Called inside a guard, with `m` this thread's record; the caller writes an object of the
/// type `vt` describes into the slot before the guard ends.
#[inline]
pub(crate) unsafe fn alloc(
    m: &Mutator,
    class: Option<usize>,
    size: usize,
    align: usize,
    needs_drop: bool,
    vt: &'static VTable,
) -> usize {
    let t = TORTURE.load(Relaxed);
    if t != 0 && TORTURE_COUNT.fetch_add(1, Relaxed) % t == t - 1 {
        GC_NEEDED.store(true, Relaxed);
    }
    // SAFETY: inside a guard on the owner thread (caller).
    let cache = unsafe { m.cache() };
    let Some(class) = class else {
        // SAFETY: as above.
        return unsafe { alloc_large(cache, size, align, needs_drop, vt) };
    };
    loop {
        let s = cache.spans[class].0;
        // SAFETY: the cache holds `s`; we are its owner inside a guard (span.rs rules).
        if !s.is_null() && std::ptr::eq(unsafe { (*s).vt }, vt) {
            // SAFETY: as above.
            let span = unsafe { &mut *s };
            // SAFETY: as above.
            if let Some(i) = unsafe { span.next_free() } {
                if MARKING.load(Relaxed) {
                    // Allocate black. The new handle's +1 goes to this thread's root cache
                    // (the caller's), not to `rc`: a concurrent root scan that sees it in
                    // `rc` (an eviction's Release, rootcache.rs) sees the mark bit too and
                    // never traces the uninitialised value.
                    span.mark_atomic(i);
                    cache.marked_bytes += span.elemsize as u64;
                }
                if needs_drop {
                    // SAFETY: the owner writes NEEDS_DROP of its cached span.
                    unsafe { span.set(NEEDS_DROP, i) };
                }
                cache.nmalloc += 1;
                cache.bytes += span.elemsize as u64;
                return span.addr_of(i);
            }
        }
        refill(cache, class, vt);
    }
}

#[cold]
fn refill(cache: &mut Cache, class: usize, vt: &'static VTable) {
    let old = cache.spans[class];
    // SAFETY (closure): spans in the cache are ours (owner inside a guard).
    let is_vt = |s: SpanPtr| unsafe { std::ptr::eq((*s.0).vt, vt) };
    if !old.0.is_null() && !is_vt(old) {
        // A type switch: the current span (not full) becomes an alternate; take one of this
        // type from the alternates if there is one.
        let found = cache.alt.iter().position(|&s| {
            // SAFETY: as above.
            let same_class = unsafe { (*s.0).class == class };
            same_class && is_vt(s)
        });
        if let Some(j) = found {
            cache.spans[class] = std::mem::replace(&mut cache.alt[j], old);
            return;
        }
        if cache.alt.len() == ALT_SPANS {
            let evicted = cache.alt.remove(0);
            let mut h = HEAP.lock();
            uncache(&mut h, evicted);
        }
        cache.alt.push(old);
        cache.spans[class] = SpanPtr(std::ptr::null_mut());
    }
    let mut h = HEAP.lock();
    let old = cache.spans[class];
    if !old.0.is_null() {
        // Full: the next sweep counts it.
        // SAFETY: the span is ours; the heap lock orders this with other refills.
        unsafe {
            (*old.0).cached = false;
            (*old.0).nalloc = (*old.0).nelems;
        }
    }
    let s = h.span_for_cache(class, vt);
    drop(h);
    // SAFETY: a span just taken off the lists: no one else caches it.
    let free = unsafe {
        let span = &mut *s.0;
        span.cached = true;
        span.reset_cursor();
        (span.nelems - span.count_alloc()) * span.elemsize
    };
    cache.spans[class] = s;
    flush_counts(cache);
    add_live(free as u64);
}

/// Gives a cached span that may have free slots back to the heap (its type's partial list),
/// taking its unused slots out of the live heap (Go's uncacheSpan).
fn uncache(h: &mut HeapInner, s: SpanPtr) {
    // SAFETY: the caller's cache held `s` (owner inside a guard) and the heap lock is held:
    // nobody else reads or writes its cursor and ALLOC bitmap now.
    let (nalloc, nelems, elemsize) = unsafe {
        let span = &mut *s.0;
        span.cached = false;
        span.nalloc = span.count_alloc();
        (span.nalloc, span.nelems, span.elemsize)
    };
    if nalloc < nelems {
        HEAP_LIVE.fetch_sub(((nelems - nalloc) * elemsize) as u64, Relaxed);
        h.push_partial(s);
    }
}

/// Allocates a large object on a span of its own (`alloc`'s slow path).
///
/// # Safety
/// As `alloc`: called inside a guard, with `cache` this thread's cache, so the collector
/// cannot run while the fresh span is set up.
#[cold]
unsafe fn alloc_large(
    cache: &mut Cache,
    size: usize,
    align: usize,
    needs_drop: bool,
    vt: &'static VTable,
) -> usize {
    assert!(
        align <= 64,
        "gort gc: objects aligned to more than 64 bytes are not supported"
    );
    let s: SpanPtr = HEAP.lock().alloc_large(size, vt);
    // SAFETY: a fresh span that only we know of (the heap lock was released after it was
    // listed, but the collector cannot run while we are inside a guard).
    let span = unsafe { &mut *s.0 };
    // SAFETY: as above: we are the only writer of its bitmaps now.
    unsafe {
        span.set(super::span::ALLOC, 0);
        if needs_drop {
            span.set(NEEDS_DROP, 0);
        }
    }
    span.nalloc = 1;
    if MARKING.load(Relaxed) {
        span.mark_atomic(0);
        cache.marked_bytes += span.elemsize as u64;
    }
    cache.nmalloc += 1;
    cache.bytes += span.elemsize as u64;
    add_live(span.elemsize as u64);
    span.addr_of(0)
}
