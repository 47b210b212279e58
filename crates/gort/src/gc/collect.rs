//! One collection cycle: STW1 (barrier on, snapshot the spans), concurrent mark, STW2 (finish
//! the mark, release the caches, checkmark, sweep the bitmaps, pace), scavenge, then run the
//! drops of dead objects that have drop glue.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::Mutex;
use std::time::Instant;

use super::alloc::{flush_counts, GC_NEEDED, GOAL, HEAP_LIVE, TRIGGER};
use super::barrier::MARKING;
use super::handle::VTable;
use super::heap::SpanPtr;
use super::mark::{checkmark, marker};
use super::mutator::{in_guard, prune_dead, start_world, stop_world, with_guard};
use super::pacer::{heap_goal, trigger_for, Inputs, GOGC, MEMLIMIT};
use super::span::{Span, ALLOC, FIN, MARK, NEEDS_DROP};
use super::stats;
use super::trace_line::Cycle;
use super::HEAP;

/// Held for a whole cycle (not while drops run): one collector at a time.
pub(crate) static COLLECT: Mutex<()> = Mutex::new(());
/// `gccheckmark=1`.
pub(crate) static CHECKMARK: AtomicBool = AtomicBool::new(false);
/// `gctrace=1`.
pub(crate) static GCTRACE: AtomicBool = AtomicBool::new(false);
/// Live bytes marked by the last cycle (for re-pacing when the knobs change).
static LAST_LIVE: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static IN_DROP: Cell<bool> = const { Cell::new(false) };
}

/// Starts a cycle if one is due: wakes the background worker, or, when the heap has reached
/// its goal (the worker is behind) or in torture mode, collects on this thread (gort's mark
/// assist: the allocating goroutine pays). Not inside a guard or a drop phase.
#[inline]
pub(crate) fn maybe_collect() {
    super::init();
    if GC_NEEDED.load(Relaxed) {
        maybe_collect_slow();
    }
}

#[cold]
fn maybe_collect_slow() {
    if in_guard() || IN_DROP.with(|d| d.get()) {
        return;
    }
    if HEAP_LIVE.load(Relaxed) >= GOAL.load(Relaxed)
        || super::alloc::TORTURE.load(Relaxed) != 0
        || !super::worker::kick()
    {
        collect(false);
    }
}

/// Recomputes the trigger after GOGC or the memory limit changed.
pub(crate) fn repace() {
    let goal = heap_goal(Inputs {
        live: LAST_LIVE.load(Relaxed),
        gogc: GOGC.load(Relaxed),
        limit: MEMLIMIT.load(Relaxed),
        ..Inputs::default()
    });
    TRIGGER.store(
        goal - (goal - goal.min(LAST_LIVE.load(Relaxed))) / 5,
        Relaxed,
    );
    GOAL.store(goal, Relaxed);
    stats::NEXT_GC.store(goal, Relaxed);
    if HEAP_LIVE.load(Relaxed) >= goal {
        GC_NEEDED.store(true, Relaxed);
    }
}

fn procs() -> usize {
    if crate::sched::park::in_goroutine() {
        crate::gomaxprocs()
    } else {
        crate::env::ncpu()
    }
}

/// Releases every mutator's span cache and moves its grey buffer to `grey`. World stopped.
fn release_caches(ms: &[std::sync::Arc<super::mutator::Mutator>], grey: &mut Vec<usize>) {
    for m in ms {
        // SAFETY: the world is stopped: the collector may access every cache.
        let c = unsafe { m.cache() };
        for s in c.spans.iter_mut() {
            if !s.0.is_null() {
                // SAFETY: a span of the heap; world stopped.
                unsafe { (*s.0).cached = false };
                *s = SpanPtr(std::ptr::null_mut());
            }
        }
        grey.append(&mut c.grey);
        flush_counts(c);
    }
}

/// Runs one full cycle (`forced`: Go's `runtime.GC`). Returns once the drops of the objects
/// it found dead have run.
///
/// Phases (Go's): STW1 (sweep termination: turn the barrier on, snapshot the span list),
/// concurrent mark on this thread while the world runs, STW2 (mark termination: drain what
/// the barrier shaded, checkmark, sweep the bitmaps, pace), then the drops.
pub(crate) fn collect(forced: bool) {
    super::init();
    assert!(!in_guard(), "gort gc: collect inside a heap operation");
    let lk = COLLECT.lock().unwrap_or_else(|e| e.into_inner());
    if !forced && !GC_NEEDED.load(Relaxed) {
        return; // another thread collected while we waited
    }
    GC_NEEDED.store(false, Relaxed);

    // STW1.
    let t0 = Instant::now();
    let ms = stop_world();
    let spans = HEAP.lock().all.clone();
    let heap0 = HEAP_LIVE.load(Relaxed);
    MARKING.store(true, Relaxed);
    start_world();
    drop(ms);
    let t1 = Instant::now();

    // Concurrent mark.
    let mut marker = marker();
    marker.scan_roots_concurrent(&spans);
    drop(spans);

    // STW2 (mark termination). Objects the barrier shaded into threads' local buffers may
    // root large unmarked subgraphs: collect the buffers with the world stopped, and if there
    // were any, restart and mark them concurrently (up to MAX_ROUNDS rounds, as Go's
    // gcMarkDone re-checks), so the final pause only drains what is left.
    const MAX_ROUNDS: u32 = 10;
    let mut round = 0;
    let ms = loop {
        let ms = stop_world();
        let mut grey = Vec::new();
        for m in &ms {
            // SAFETY: world stopped: the collector may access every cache.
            grey.append(&mut unsafe { m.cache() }.grey);
        }
        round += 1;
        if grey.is_empty() || round == MAX_ROUNDS {
            marker.push_grey(&mut grey);
            break ms;
        }
        start_world();
        drop(ms);
        marker.push_grey(&mut grey);
        marker.drain_all();
    };
    let t2 = Instant::now();
    let mut grey = Vec::new();
    release_caches(&ms, &mut grey);
    marker.push_grey(&mut grey);
    marker.drain_all();
    MARKING.store(false, Relaxed);
    prune_dead();
    let heap1 = HEAP_LIVE.load(Relaxed);
    let mut h = HEAP.lock();
    if CHECKMARK.load(Relaxed) {
        checkmark(&h);
    }

    // Sweep the bitmaps; collect the dead objects whose drops must run.
    let poison = super::alloc::TORTURE.load(Relaxed) != 0;
    let mut drops: Vec<usize> = Vec::new();
    let mut live_bytes = 0u64;
    let mut freed = 0u64;
    let all = std::mem::take(&mut h.all);
    let mut keep = Vec::with_capacity(all.len());
    for p in h.partial.iter_mut() {
        p.clear();
    }
    for sp in all {
        // SAFETY: world stopped and heap locked: we are the only user of every span.
        let s = unsafe { &mut *sp.0 };
        // SAFETY: world stopped, heap locked (sweep_span's contract).
        let (nalloc, nfreed) = unsafe { sweep_span(s, &mut drops, poison) };
        freed += nfreed;
        s.nalloc = nalloc;
        if nalloc == 0 {
            // SAFETY: empty, uncached, and no longer in `all`.
            unsafe { h.free_span(sp) };
        } else {
            live_bytes += (nalloc * s.elemsize) as u64;
            if s.class != 0 && nalloc < s.nelems {
                h.partial[s.class].push(sp);
            }
            keep.push(sp);
        }
    }
    h.all = keep;
    HEAP_LIVE.store(live_bytes, Relaxed);
    stats::FREES.fetch_add(freed, Relaxed);
    LAST_LIVE.store(live_bytes, Relaxed);

    // Pace the next cycle.
    let limit = MEMLIMIT.load(Relaxed);
    let since_last = stats::since_last_end_ns();
    let last_pause = stats::LAST_PAUSE.load(Relaxed);
    let last_gc_cpu = stats::LAST_CYCLE_CPU.load(Relaxed);
    let goal = heap_goal(Inputs {
        live: live_bytes,
        roots: 0,
        gogc: GOGC.load(Relaxed),
        limit,
        overhead: 0,
        limited: last_pause > 0 && last_gc_cpu >= since_last,
    });
    let mark_ns = (t2 - t1).as_nanos() as u64;
    let trigger = trigger_for(
        live_bytes,
        goal,
        heap1.saturating_sub(heap0),
        mark_ns,
        since_last,
    );
    GOAL.store(goal, Relaxed);
    TRIGGER.store(trigger, Relaxed);
    // Crossings of the old trigger during the mark do not call for another cycle.
    GC_NEEDED.store(live_bytes >= trigger, Relaxed);
    drop(h);
    start_world();
    let t3 = Instant::now();

    // Return memory to the OS outside the pause. Keep the free spans the heap will grow back
    // into before the next cycle (up to the goal plus 10%, Go's scavenger target), never above
    // the memory limit; release the rest.
    let mut h = HEAP.lock();
    let inuse = h.inuse_bytes() as u64;
    let target = if goal == u64::MAX {
        inuse + inuse / 10
    } else {
        goal + goal / 10
    }
    .min(limit);
    let keep_free = target.saturating_sub(inuse);
    h.scavenge(keep_free as usize);
    drop(h);

    let procs = procs();
    let stw1 = (t1 - t0).as_nanos() as u64;
    let stw2 = (t3 - t2).as_nanos() as u64;
    let n = stats::record(stw1, stw2, mark_ns, goal, forced, procs);
    if GCTRACE.load(Relaxed) {
        let c = Cycle {
            n,
            start_ns: stats::since_start_ns(t0),
            cpu_pct: (stats::cpu_fraction(procs) * 100.0) as u64,
            clock: [stw1, mark_ns, stw2],
            cpu: [stw1 * procs as u64, 0, mark_ns, 0, stw2 * procs as u64],
            heap0,
            heap1,
            heap2: live_bytes,
            goal,
            stacks: 0,
            globals: 0,
            procs,
            forced,
        };
        eprintln!("{}", c.line());
    }
    drop(lk);
    run_drops(drops);
}

/// Sweeps one span's bitmaps; returns (allocated slots now, slots freed).
///
/// # Safety
/// World stopped, heap locked.
unsafe fn sweep_span(s: &mut Span, drops: &mut Vec<usize>, poison: bool) -> (usize, u64) {
    let (a, m, nd, fin) = (
        s.words(ALLOC),
        s.words(MARK),
        s.words(NEEDS_DROP),
        s.words(FIN),
    );
    let mut nalloc = 0;
    let mut freed = 0;
    for w in 0..s.nwords {
        let done = s.done_word(w).swap(0, Relaxed);
        // SAFETY: world stopped: the collector is the only writer of every bitmap.
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
fn run_drops(drops: Vec<usize>) {
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
            let vt = *(addr as *const &'static VTable);
            (vt.drop)(addr)
        });
        if r.is_err() {
            eprintln!("fatal error: gort gc: a GC object's drop panicked");
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
