//! Sweeping, lazily and in the background (Go's sweeper): after mark termination every span
//! is queued as *unswept* for its class; a thread that needs a span of that class sweeps
//! unswept ones until one has room (`HeapInner::span_for_cache`), and the collecting thread
//! sweeps the rest right after the cycle (`finish_sweep`), returns empty spans, scavenges, and
//! runs the drops of dead objects with drop glue. The next cycle first finishes any sweeping
//! left (sweep termination), so mark bits are clear before marking.
//!
//! Sweeping a span is bitmap work only: `alloc &= mark` for objects without drop glue, dead
//! objects with drop glue move to `fin` and are queued in `PENDING_DROPS`; the slots of
//! objects whose drop has run (`done`) are freed.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::Mutex;
use std::time::Instant;

use super::mheap::SpanPtr;
use super::mutator::with_guard;
use super::span::{Span, ALLOC, FIN, MARK, NEEDS_DROP};
use super::{stats, HEAP};

/// Dead objects with drop glue found by sweeps, waiting for their drops to run.
static PENDING_DROPS: Mutex<Vec<usize>> = Mutex::new(Vec::new());

thread_local! {
    pub(crate) static IN_DROP: Cell<bool> = const { Cell::new(false) };
}

/// Sweeps one unswept span; returns its allocated slots. Empty spans found here are left for
/// the caller (a refill reuses them; `finish_sweep` frees them).
///
/// # Safety
/// Heap lock held; the span was taken off an unswept list (so no cache holds it).
pub(crate) unsafe fn sweep_one(sp: SpanPtr) -> usize {
    // SAFETY: a span of the heap, exclusively ours (caller).
    let s = unsafe { &mut *sp.0 };
    let poison = super::alloc::TORTURE.load(Relaxed) != 0;
    let mut drops = Vec::new();
    // SAFETY: the caller's guarantees are sweep_span's.
    let (nalloc, freed) = unsafe { sweep_span(s, &mut drops, poison) };
    s.nalloc = nalloc;
    stats::FREES.fetch_add(freed, Relaxed);
    stats::FREED_BYTES.fetch_add(freed * s.elemsize as u64, Relaxed);
    if !drops.is_empty() {
        PENDING_DROPS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .append(&mut drops);
    }
    nalloc
}

/// An allocating thread found its class's unswept spans too many to sweep inside its guard
/// (`HeapInner::span_for_cache`'s budget): allocating threads sweep outside their guards until
/// the queue is empty (`help`), so refills find swept spans instead of growing the heap.
pub(crate) static SWEEP_WANTED: AtomicBool = AtomicBool::new(false);

/// Sweeps one unswept span (any class); false if none was left. Empty spans are flagged for
/// `finish_sweep` to free; others with room go to their type's partial list.
fn sweep_next(h: &mut super::mheap::HeapInner) -> bool {
    let Some(class) = h.unswept.iter().position(|&n| n > 0) else {
        return false;
    };
    let sp = h.pop_unswept(class).expect("a class with unswept spans");
    // SAFETY: heap lock held; taken off an unswept list.
    let nalloc = unsafe { sweep_one(sp) };
    // SAFETY: as above.
    let s = unsafe { &mut *sp.0 };
    if nalloc == 0 {
        s.empty = true;
    } else if class != 0 && nalloc < s.nelems {
        h.push_partial(sp);
    }
    true
}

/// Sweeps up to 256 spans for an allocating thread, outside any guard (see `SWEEP_WANTED`).
pub(crate) fn help() {
    let t = Instant::now();
    for _ in 0..256 {
        if !sweep_next(&mut HEAP.lock()) {
            SWEEP_WANTED.store(false, Relaxed);
            break;
        }
    }
    stats::add_gc_cpu(t.elapsed().as_nanos() as u64);
}

/// Sweeps every span still unswept, frees the empty ones, and scavenges so that in-use plus
/// pooled spans stay within `scavenge_target` bytes (None: leave the pool). Takes the heap lock
/// per span so allocating threads are not held up. The caller holds the collector lock
/// (`COLLECT`): spans are freed here, which must not happen while a mark runs.
pub(crate) fn finish_sweep(scavenge_target: Option<u64>) {
    let t = Instant::now();
    while sweep_next(&mut HEAP.lock()) {}
    SWEEP_WANTED.store(false, Relaxed);
    // Unlist the empty spans under the lock; return memory to the OS (munmap, madvise) after
    // releasing it: those system calls cost tens of microseconds each in a VM (TLB shootdowns),
    // and an allocating thread waiting for the heap lock inside its guard would hold up the
    // next stop-the-world.
    let (unmap, release) = {
        let mut h = HEAP.lock();
        // SAFETY (closure): spans in `all` are valid under the heap lock.
        let empty = |p: &SpanPtr| unsafe { (*p.0).empty && !(*p.0).cached };
        let dead: Vec<SpanPtr> = h.all.iter().copied().filter(|p| empty(p)).collect();
        let mut unmap = Vec::new();
        if !dead.is_empty() {
            h.all.retain(|p| !empty(p));
            for l in h.by_class.iter_mut() {
                l.retain(|p| !empty(p));
            }
            for sp in dead {
                // SAFETY: empty, uncached, off every list.
                unmap.extend(unsafe { h.free_span(sp) });
            }
        }
        let release = match scavenge_target {
            Some(t) => {
                let inuse = h.inuse_bytes() as u64;
                let limit = super::pacer::heap_limit();
                h.scavenge_take(
                    t.saturating_sub(inuse) as usize,
                    limit.saturating_sub(inuse).min(usize::MAX as u64) as usize,
                )
            }
            None => Vec::new(),
        };
        (unmap, release)
    };
    for (base, bytes) in unmap {
        // SAFETY: a dead large object's own mapping, off every list: nothing refers to it.
        unsafe { libc::munmap(base as *mut _, bytes) };
    }
    release_spans(&release);
    stats::add_gc_cpu(t.elapsed().as_nanos() as u64);
}

/// Returns the pages of spans taken with `scavenge_take` to the OS and hands the spans back
/// to the pool, released.
pub(crate) fn release_spans(release: &[usize]) {
    if release.is_empty() {
        return;
    }
    for &base in release {
        // SAFETY: empty spans taken off the free list: nobody uses them until they are
        // returned below.
        unsafe { libc::madvise(base as *mut _, super::span::SPAN_BYTES, libc::MADV_DONTNEED) };
    }
    HEAP.lock().scavenge_return(release);
}

/// Runs the drops the sweeps queued. No lock may be held (drops run user code).
pub(crate) fn run_pending_drops() {
    if IN_DROP.with(|d| d.get()) {
        return;
    }
    let d = std::mem::take(&mut *PENDING_DROPS.lock().unwrap_or_else(|e| e.into_inner()));
    run_drops(d);
}

/// Sweeps one span's bitmaps; returns (allocated slots now, slots freed).
///
/// # Safety
/// Heap locked, marking not running, and the span cached by no one: then nobody else writes
/// its bitmaps (`done` is atomic).
unsafe fn sweep_span(s: &mut Span, drops: &mut Vec<usize>, poison: bool) -> (usize, u64) {
    let (a, m, nd, fin) = (
        s.words(ALLOC),
        s.words(MARK),
        s.words(NEEDS_DROP),
        s.words(FIN),
    );
    let mut nalloc = 0;
    let mut freed = 0;
    let trace = super::allocfreetrace::ON.load(Relaxed);
    for w in 0..s.nwords {
        let dw = s.done_word(w);
        let done = if dw.load(Relaxed) != 0 {
            dw.swap(0, Relaxed)
        } else {
            0
        };
        // SAFETY: the span is uncached and the heap locked (caller): we are the only writer.
        unsafe {
            *a.add(w) &= !done;
            *fin.add(w) &= !done;
            *nd.add(w) &= !done;
            let dead = *a.add(w) & !*m.add(w) & !*fin.add(w);
            let dd = dead & *nd.add(w);
            let free = dead & !*nd.add(w);
            *a.add(w) &= !free;
            *fin.add(w) |= dd;
            *m.add(w) = 0;
            freed += (free | done).count_ones() as u64;
            if trace {
                let mut bits = free | done;
                while bits != 0 {
                    let addr = s.addr_of(w * 64 + bits.trailing_zeros() as usize);
                    super::allocfreetrace::free(addr, s.elemsize);
                    bits &= bits - 1;
                }
            }
            nalloc += (*a.add(w)).count_ones() as usize;
            let mut bits = dd;
            while bits != 0 {
                drops.push(s.addr_of(w * 64 + bits.trailing_zeros() as usize));
                bits &= bits - 1;
            }
            if poison {
                let mut bits = free;
                while bits != 0 {
                    let addr = s.addr_of(w * 64 + bits.trailing_zeros() as usize);
                    std::ptr::write_bytes(addr as *mut u8, 0xdb, s.elemsize);
                    bits &= bits - 1;
                }
            }
        }
    }
    (nalloc, freed)
}

/// Runs the drops of dead objects (world running, no lock held), then marks them done so the
/// next sweep frees their slots.
pub(crate) fn run_drops(drops: Vec<usize>) {
    if drops.is_empty() {
        return;
    }
    let t = Instant::now();
    IN_DROP.with(|d| d.set(true));
    for &addr in &drops {
        // SAFETY: `addr` is a dead object in the `fin` state: unreachable by anyone, dropped
        // exactly once (only the cycle that moved it to `fin` lists it), and its slot is not
        // reused before `done` is set below. Its drop cannot dereference another dead object:
        // see `Trace`'s contract and docs/DESIGN.md ("Destructors").
        let r = std::panic::catch_unwind(|| unsafe {
            let vt = (*Span::of(addr)).vt;
            (vt.drop)(addr)
        });
        if r.is_err() {
            super::gctrace::gc_eprintln!("fatal error: gort gc: a GC object's drop panicked");
            std::process::abort();
        }
    }
    IN_DROP.with(|d| d.set(false));
    with_guard(|_| {
        for &addr in &drops {
            let s = Span::of(addr);
            // SAFETY: the span holds `addr` in the fin state, so it stays mapped.
            let s = unsafe { &*s };
            let i = s.index_of(addr);
            s.done_word(i / 64).fetch_or(1 << (i % 64), Relaxed);
        }
    });
    stats::add_gc_cpu(t.elapsed().as_nanos() as u64);
}
