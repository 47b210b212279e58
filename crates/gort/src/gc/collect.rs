//! One collection cycle: sweep termination, STW1 (barrier on, snapshot the spans), concurrent
//! mark, STW2 (finish the mark, release the caches, checkmark, queue the spans for sweeping,
//! pace), the background sweep and scavenge, then the drops of dead objects with drop glue.
//!
//! A cycle that comes due on an allocating thread begins there: that thread takes STW1
//! (`begin`) and the background worker (`worker.rs`) continues from the concurrent mark
//! (`finish`); see `begin_here` for why the worker does not take the first pause itself.

use crate::rt::exectrace::StwReason;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::*};
use std::sync::Mutex;
use std::time::Instant;

use super::alloc::{flush_counts, GC_NEEDED, GOAL, HEAP_LIVE, TRIGGER};
use super::barrier::MARKING;
use super::gctrace::Cycle;
use super::mark::{checkmark, marker};
use super::mheap::SpanPtr;
use super::mutator::{in_guard, prune_dead, start_world, stop_world};
use super::pacer::{
    heap_goal, note_goal, outside_heap, runway_for, trigger, Inputs, GOGC, MEMLIMIT, MIN_RUNWAY,
    SWEEP_MIN_HEAP_DISTANCE,
};
use super::stats;
use super::sweep::{finish_sweep, run_pending_drops, IN_DROP, SWEEP_WANTED};
use super::work;
use super::worker::{start_helpers, stop_helpers, thread_cpu_ns, Throttle};
use super::HEAP;

/// Held for a whole cycle (not while drops run): one collector at a time.
pub(crate) static COLLECT: Mutex<()> = Mutex::new(());
/// `gccheckmark=1`.
pub(crate) static CHECKMARK: AtomicBool = AtomicBool::new(false);
/// Testing knob: dedicated mark workers regardless of the Ps (0 = Go's split).
pub(crate) static MARK_WORKERS: AtomicU64 = AtomicU64::new(0);
/// `gctrace=N`: 1 prints a line per cycle, 2 also repeats each collection (`repeat`).
pub(crate) static GCTRACE: AtomicU32 = AtomicU32::new(0);
/// Collections repeated for `gctrace=2` since the process started.
pub(crate) static REPEATS: AtomicU64 = AtomicU64::new(0);
/// Live bytes marked by the last cycle (for re-pacing when the knobs change).
pub(crate) static LAST_LIVE: AtomicU64 = AtomicU64::new(0);
/// In-use span bytes beyond the live objects after the last sweep (span metadata, free slots
/// of partly used spans): memory the limit must cover that the heap goal does not count.
static LAST_OVERHEAD: AtomicU64 = AtomicU64::new(0);
/// The runway the last cycle's pacing asked for (bytes of allocation expected during a mark).
static LAST_RUNWAY: AtomicU64 = AtomicU64::new(0);
/// The heap at which the running cycle started (Go's `triggered`); `u64::MAX` between cycles.
static TRIGGERED: AtomicU64 = AtomicU64::new(u64::MAX);

/// Called before allocating `bytes`: while marking runs, charges the allocation to this
/// thread's assist debt (`assist.rs`); starts a cycle if one is due: wakes the background
/// worker, or, when the heap has reached its goal before a cycle could start, or in torture
/// mode, collects on this thread. Not inside a guard or a drop phase.
#[inline]
pub(crate) fn maybe_collect(bytes: usize) {
    super::init();
    if GC_NEEDED.load(Relaxed) || MARKING.load(Relaxed) || SWEEP_WANTED.load(Relaxed) {
        maybe_collect_slow(bytes);
    }
}

#[cold]
fn maybe_collect_slow(bytes: usize) {
    if in_guard() || IN_DROP.with(|d| d.get()) {
        return;
    }
    if SWEEP_WANTED.load(Relaxed) {
        super::sweep::help();
    }
    let torture = super::alloc::TORTURE.load(Relaxed) != 0;
    if MARKING.load(Relaxed) {
        super::assist::charge(bytes as u64, torture);
        if !torture {
            return;
        }
    }
    if !GC_NEEDED.load(Relaxed) {
        return;
    }
    if HEAP_LIVE.load(Relaxed) >= too_late() || torture {
        collect(false);
        return;
    }
    // The first pause on this thread, then the background worker marks (`begin_here`). The
    // begun cycle is handed over with a kick that cannot be lost: no other kick would come
    // (the cycle is no longer due).
    let kicked = if begin_here() {
        super::worker::kick_begun()
    } else {
        super::worker::kick()
    };
    if !kicked {
        collect(false);
    }
}

/// What the first pause of a cycle leaves for the rest of it.
struct Begun {
    t0: Instant,
    t1: Instant,
    /// The first pause, its given-up attempts included (`mutator::stop_world`).
    stw1: u64,
    heap0: u64,
}

/// A cycle whose first pause ran on an allocating thread (`begin_here`) and that the next
/// holder of `COLLECT` continues. Written and taken only under `COLLECT`.
static BEGUN: Mutex<Option<Begun>> = Mutex::new(None);

/// Starts a due cycle on this allocating thread: the first pause here, the mark on the
/// background worker (the caller kicks it). Why not all on the worker: waking it is what
/// puts a sleeping thread on a busy CPU, and the scheduler then often preempts the allocating
/// thread (wake-affine placement, or the displaced task migrating onto its CPU) at an
/// arbitrary point, inside a guard half the time; the worker's first pause then waited for
/// it for a whole time slice of whatever ran instead: 2-5 ms pauses in most cycles of
/// `gc_latency` beside two `nice -n 19` loops, against 0.1 ms with the pause taken here
/// (2026-12-03, 2-vCPU EPYC). Here the world stops with no thread just woken; the worker
/// wakes after the restart, during the mark, where a preemption costs nobody a pause. Does
/// nothing (false) if another thread holds `COLLECT` (it is collecting) or the cycle is no
/// longer due.
fn begin_here() -> bool {
    let lk = match COLLECT.try_lock() {
        Ok(l) => l,
        Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
        Err(std::sync::TryLockError::WouldBlock) => return false,
    };
    let mut begun = BEGUN.lock().unwrap_or_else(|e| e.into_inner());
    if begun.is_some() || !GC_NEEDED.load(Relaxed) {
        return false;
    }
    GC_NEEDED.store(false, Relaxed);
    *begun = Some(begin());
    drop(begun);
    drop(lk);
    true
}

/// Sweep termination and the first pause (STW1). Under `COLLECT`, outside any guard.
fn begin() -> Begun {
    crate::rt::exectrace::gc_start();
    // Sweep termination: the last cycle's sweep is finished (by its collector, under this
    // lock), but make sure: mark bits must be clear and no span freed while marking.
    finish_sweep(None);

    // STW1.
    let t0 = Instant::now();
    crate::rt::exectrace::stw_start(StwReason::GcSweepTermination);
    let stopped = stop_world();
    let ms = stopped.ms;
    // The root counts are exact from here (rootcache.rs): the root scan reads them.
    for m in &ms {
        // SAFETY: the world is stopped: the collector may access every cache.
        unsafe { m.cache() }.roots.flush();
    }
    let heap0 = HEAP_LIVE.load(Relaxed);
    // The cycle's goal is at least 64 KiB past where it started (Go's `triggered` and
    // `minRunway`), unless the memory limit set it.
    TRIGGERED.store(heap0, Relaxed);
    if !super::pacer::LIMIT_BOUND.load(Relaxed) {
        GOAL.fetch_max(heap0.saturating_add(MIN_RUNWAY), Relaxed);
    }
    work::start_cycle(LAST_LIVE.load(Relaxed), heap0, GOAL.load(Relaxed));
    MARKING.store(true, Relaxed);
    let t1 = start_world();
    let stw1 = (t1 - stopped.since).as_nanos() as u64 + stopped.aborted_ns;
    crate::rt::exectrace::stw_end();
    crate::rt::exectrace::heap_alloc(heap0);
    drop(ms);
    // The root scan's span list, taken after the restart: a superset of the spans that
    // existed at STW1 (nothing is freed while marking runs, and `all` only grows then); the
    // spans added since hold only black objects, so scanning them shades nothing new. Set
    // here, not when the worker starts marking: the assist ratio counts the root work, and
    // assists may scan roots, from the restart on. (Set by the worker, the allocations made
    // while it woke up were charged without it: under CPU contention the heap overshot a
    // 24 MiB memory limit by 17%, `tests/gc_trace.rs`.)
    let spans = HEAP.lock().all.clone();
    work::set_roots(spans);
    Begun {
        t0,
        t1,
        stw1,
        heap0,
    }
}

/// The heap at which a due cycle that has not started yet is run on the allocating thread
/// rather than left to the background worker: the goal, or, when the trigger is at the goal
/// (small heaps at small GOGC, where the sweep distance sets both), the 64 KiB past it that Go
/// gives a cycle started there (`MIN_RUNWAY`). Under a memory limit, the goal.
fn too_late() -> u64 {
    let goal = GOAL.load(Relaxed);
    if super::pacer::LIMIT_BOUND.load(Relaxed) {
        goal
    } else {
        goal.max(TRIGGER.load(Relaxed).saturating_add(MIN_RUNWAY))
    }
}

/// Recomputes the goal and trigger after GOGC or the memory limit changed (Go's
/// `commit(isSweepDone())`: gort's sweep is done outside a cycle, so there is no sweep
/// distance; during a mark the cycle keeps its 64 KiB of runway past its start).
pub(crate) fn repace() {
    let live = LAST_LIVE.load(Relaxed);
    let inputs = Inputs {
        live,
        gogc: GOGC.load(Relaxed),
        limit: MEMLIMIT.load(Relaxed),
        overhead: LAST_OVERHEAD.load(Relaxed),
        outside: outside_heap(),
        triggered: TRIGGERED.load(Relaxed),
        ..Inputs::default()
    };
    let pace = heap_goal(inputs);
    note_goal(pace);
    let trigger = trigger(live, pace, LAST_RUNWAY.load(Relaxed));
    TRIGGER.store(trigger, Relaxed);
    GOAL.store(pace.goal, Relaxed);
    stats::NEXT_GC.store(pace.goal, Relaxed);
    if HEAP_LIVE.load(Relaxed) >= trigger {
        GC_NEEDED.store(true, Relaxed);
    }
}

/// Releases every mutator's span cache and moves its grey buffer to `grey`. World stopped.
fn release_caches(ms: &[std::sync::Arc<super::mutator::Mutator>], grey: &mut Vec<usize>) -> u64 {
    let mut marked = 0;
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
        for s in c.alt.drain(..) {
            // SAFETY: as above.
            unsafe { (*s.0).cached = false };
        }
        grey.append(&mut c.grey);
        marked += std::mem::take(&mut c.marked_bytes);
        flush_counts(c);
        // Exact root counts for the checkmark and `gctrace=2`'s marks (rootcache.rs).
        c.roots.flush();
    }
    marked
}

/// `gctrace=2`: repeats the collection inside mark termination, with the world still stopped,
/// as Go's runtime documents it ("also repeats each collection"; Go 1.5's gcMarkTermination
/// did it with `finishsweep_m`, a stop-the-world `gcMark` and `gcSweep`): finishes this
/// cycle's sweep (freeing what the concurrent mark found dead), marks again from the roots
/// alone (stop-the-world, so precise: the floating garbage of the concurrent mark, such as
/// objects allocated black and dropped during it, is found dead), clears the weak handles of
/// what that mark left white and queues every span for sweeping again. Returns the bytes it
/// marked: the cycle's live heap from then on (gctrace's third heap figure, the pacer's input).
/// A debugging mode: the pause includes a whole sweep and a whole mark.
fn repeat() -> u64 {
    // The world is stopped and no span is cached: sweeping now is as after a restart, only
    // with nobody allocating.
    finish_sweep(None);
    let live = super::mark::stw_mark(&HEAP.lock());
    super::weak::clear_dead(); // before the sweep below, as after the first mark
    super::cleanup::queue_dead(); // likewise
    let mut h = HEAP.lock();
    h.queue_sweep();
    for l in h.partial.values_mut() {
        l.clear();
    }
    REPEATS.fetch_add(1, Relaxed);
    live
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
    run_pending_drops();
    let lk = COLLECT.lock().unwrap_or_else(|e| e.into_inner());
    let begun = BEGUN.lock().unwrap_or_else(|e| e.into_inner()).take();
    let b = match begun {
        // A cycle an allocating thread began: finish it. A forced collection then runs a
        // whole one of its own (as Go's runtime.GC waits for the running cycle first): the
        // begun cycle's snapshot predates the call.
        Some(b) => {
            finish(b, false);
            if !forced {
                drop(lk);
                run_pending_drops();
                return;
            }
            begin()
        }
        None => {
            if !forced && !GC_NEEDED.load(Relaxed) {
                return; // another thread collected while we waited
            }
            GC_NEEDED.store(false, Relaxed);
            begin()
        }
    };
    finish(b, forced);
    drop(lk);
    run_pending_drops();
}

/// The cycle after its first pause: concurrent mark, mark termination (STW2), pacing,
/// gctrace, sweep and scavenge. Under `COLLECT`.
fn finish(b: Begun, forced: bool) {
    let Begun {
        t0,
        t1,
        stw1,
        heap0,
    } = b;
    // Concurrent mark: this thread is the first dedicated worker or the fractional one;
    // helper threads are the other dedicated ones; assists help from allocating threads.
    let procs = super::procs();
    let (mut dedicated, frac) = work::worker_split(procs);
    let forced_workers = MARK_WORKERS.load(Relaxed) as usize;
    if forced_workers > 0 {
        dedicated = forced_workers;
    }
    let share = if dedicated == 0 {
        frac * procs as f64
    } else {
        0.0
    };
    start_helpers(dedicated.saturating_sub(1));
    let cpu_mark0 = thread_cpu_ns();
    let mut throttle = Throttle::new(share, procs);
    let mut marker = marker();
    loop {
        if marker.take_work() {
            marker.drain_shared(Some(&mut throttle));
            work::idle();
            throttle.check(&mut marker);
            continue;
        }
        if work::quiescent() {
            break;
        }
        std::thread::yield_now();
    }
    stop_helpers();
    let bg_cpu = thread_cpu_ns() - cpu_mark0;
    // Stacks and the malloc heap, for the limit (what it leaves the GC heap is the rest): read
    // here, before the pause, since it sums every thread's allocation counters.
    let outside = outside_heap();

    // STW2 (mark termination). Objects the barrier shaded into threads' local buffers may
    // root large unmarked subgraphs: collect the buffers with the world stopped, and if there
    // were any, restart and mark them concurrently (up to MAX_ROUNDS rounds, as Go's
    // gcMarkDone re-checks), so the final pause only drains what is left.
    // Every round's pause counts, the wait for guards to exit included (Go's STW time starts
    // when stopping starts).
    const MAX_ROUNDS: u32 = 10;
    let mut round = 0;
    let mut early_rounds_ns = 0u64;
    let mut t2;
    let mut final_stop;
    let ms = loop {
        crate::rt::exectrace::stw_start(StwReason::GcMarkTermination);
        t2 = Instant::now();
        let stopped = stop_world();
        final_stop = (stopped.since, stopped.aborted_ns);
        let ms = stopped.ms;
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
        let restarted = start_world();
        crate::rt::exectrace::stw_end();
        early_rounds_ns += (restarted - final_stop.0).as_nanos() as u64 + final_stop.1;
        drop(ms);
        marker.push_grey(&mut grey);
        marker.drain_all();
    };
    let mut grey = Vec::new();
    let mut live_bytes = release_caches(&ms, &mut grey) + work::MARKED.swap(0, Relaxed);
    marker.push_grey(&mut grey);
    marker.drain_all();
    live_bytes += marker.marked_bytes;
    MARKING.store(false, Relaxed);
    work::clear_roots();
    prune_dead();
    super::weak::clear_dead(); // weak handles to unmarked objects, before any sweep
    super::cleanup::queue_dead(); // cleanups of unmarked objects, same point
    let heap1 = HEAP_LIVE.load(Relaxed);
    let mut h = HEAP.lock();
    if CHECKMARK.load(Relaxed) {
        checkmark(&h);
    }
    // Every span that exists now must be swept before anyone allocates from it again: no
    // span is cached (released above), none stays listed as partial, and all are queued for
    // sweeping (a cursor per class, `HeapInner::unswept`).
    h.queue_sweep();
    for l in h.partial.values_mut() {
        l.clear();
    }
    if GCTRACE.load(Relaxed) >= 2 {
        drop(h);
        live_bytes = repeat();
        h = HEAP.lock();
    }
    HEAP_LIVE.store(live_bytes, Relaxed);
    LAST_LIVE.store(live_bytes, Relaxed);

    // The goal this cycle ran against, for gctrace (Go's `lastHeapGoal`, which `endCycle`
    // reads before the next cycle is paced): the one paced after the last cycle, or set by a
    // knob since, and at least 64 KiB past this cycle's start.
    let ran_goal = GOAL.load(Relaxed);
    TRIGGERED.store(u64::MAX, Relaxed);

    // Pace the next cycle (Go's `commit(false)`: the sweep is still to run, so the next
    // trigger is at least the sweep distance above the heap now, which is the live heap).
    let limit = MEMLIMIT.load(Relaxed);
    let since_last = stats::since_last_end_ns();
    let last_pause = stats::LAST_PAUSE.load(Relaxed);
    let last_gc_cpu = stats::LAST_CYCLE_CPU.load(Relaxed);
    let inputs = Inputs {
        live: live_bytes,
        roots: 0,
        gogc: GOGC.load(Relaxed),
        limit,
        overhead: LAST_OVERHEAD.load(Relaxed),
        outside,
        limited: last_pause > 0 && last_gc_cpu >= since_last,
        sweep_floor: live_bytes.saturating_add(SWEEP_MIN_HEAP_DISTANCE),
        triggered: u64::MAX,
    };
    let pace = heap_goal(inputs);
    note_goal(pace);
    let goal = pace.goal;
    let mark_ns = (t2 - t1).as_nanos() as u64;
    let runway = runway_for(heap1.saturating_sub(heap0));
    LAST_RUNWAY.store(runway, Relaxed);
    let trigger = trigger(live_bytes, pace, runway);
    GOAL.store(goal, Relaxed);
    TRIGGER.store(trigger, Relaxed);
    // Crossings of the old trigger during the mark do not call for another cycle.
    GC_NEEDED.store(live_bytes >= trigger, Relaxed);
    drop(h);
    let t3 = start_world();
    crate::rt::exectrace::stw_end();
    super::cleanup::wake();
    crate::rt::exectrace::heap_alloc(live_bytes);

    // Return memory to the OS after the sweep (below): keep the free spans the heap will grow
    // back into before the next cycle (up to the goal plus 10%, Go's scavenger target), never
    // above what the memory limit leaves the heap; release the rest.
    let scavenge_target = if goal == u64::MAX {
        live_bytes + live_bytes / 10
    } else {
        goal + goal / 10
    }
    .min(limit.saturating_sub(outside));

    // The final mark termination; the earlier rounds' pauses (gort's stand-in for Go's
    // gcMarkDone flushes, which do not stop the world) are within the mark's wall time in
    // gctrace, but count as pause time (MemStats.PauseNs).
    let stw2_final = (t3 - final_stop.0).as_nanos() as u64 + final_stop.1;
    let stw2 = stw2_final + early_rounds_ns;
    let assist_ns = work::ASSIST_NS.load(Relaxed);
    let idle_ns = throttle.idle_ns.min(bg_cpu);
    let n = stats::record(stw1, stw2, bg_cpu + assist_ns, goal, forced, procs);
    if GCTRACE.load(Relaxed) > 0 {
        // Go's work.stwprocs: the Ps a pause idles, at most the CPUs.
        let stwprocs = procs.min(crate::env::ncpu()) as u64;
        let c = Cycle {
            n,
            start_ns: stats::since_start_ns(t0),
            cpu_pct: (stats::cpu_fraction(procs) * 100.0) as u64,
            clock: [stw1, mark_ns, stw2_final],
            cpu: [
                stw1 * stwprocs,
                assist_ns,
                bg_cpu - idle_ns,
                idle_ns,
                stw2_final * stwprocs,
            ],
            heap0,
            heap1,
            heap2: live_bytes,
            goal: ran_goal,
            stacks: 0,
            globals: 0,
            procs,
            forced,
        };
        super::gctrace::gc_eprintln!("{}", c.line());
    }
    finish_sweep(Some(scavenge_target));
    let inuse = HEAP.lock().inuse_bytes() as u64;
    // Smoothed: it may rise at once but falls by at most half per cycle (a sweep right after
    // a burst of garbage would otherwise let the next goal jump and the heap overshoot).
    let over = inuse.saturating_sub(live_bytes);
    LAST_OVERHEAD.store(over.max(LAST_OVERHEAD.load(Relaxed) / 2), Relaxed);
    crate::rt::exectrace::gc_end();
}
