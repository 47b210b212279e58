//! Shared mark work and its accounting (Go's gcWork buffers, work.full list, scan credit and
//! assist ratio).
//!
//! # The problem
//!
//! Several threads mark at once: the collecting thread (Go's fractional or dedicated worker),
//! extra dedicated workers when there are Ps enough (`mark_workers`), and *assists*:
//! goroutines that allocate while marking runs and pay for it with mark work in proportion to
//! what they allocate, so the mark finishes before the heap reaches its goal even when the
//! background worker is throttled to its CPU share.
//!
//! # How
//!
//! * The root scan (every object with a root count, span by span) is cut into jobs of
//!   [`ROOT_JOB`] spans that any marker claims, so assists and helper workers share it.
//! * Grey objects live on each marker's private stack; a marker that holds more than it can
//!   use hands half of it to the global pool ([`POOL`], batches of addresses) when some marker
//!   asked for work ([`WANTED`]) or the pool is empty. The write barrier's batches go to the
//!   same pool.
//! * [`BUSY`] counts markers holding work taken from the pool. It changes under the pool lock,
//!   together with the pop, so "pool empty and `BUSY` = 0" read under the lock means no marker
//!   holds grey objects it took from the pool (the collector's own stack aside): the
//!   concurrent mark is done up to what mutators shade later, which mark termination drains
//!   with the world stopped.
//! * Scan work is measured in bytes of objects traced. Background markers add theirs to
//!   [`BG_CREDIT`]; an assist first steals from that credit and only marks the rest itself.
//!   The assist ratio (scan bytes owed per byte allocated) is Go's: the scan work still expected
//!   (the last cycle's marked heap minus the work done) over the distance to the heap goal.
//!
//! # Rejected alternatives
//!
//! * *Lock-free work-stealing deques per marker* (Go's gcWork is per-P with lock-free full and
//!   empty lists): batches of 256 addresses make the pool lock rare (one acquisition per 256
//!   objects), and a mutex keeps the termination argument above simple.
//! * *Assists that wait for the cycle* (gort before this file): an allocating goroutine could
//!   stall for a whole mark (tens of milliseconds on a large heap).
//!
//! # Invariants and orderings
//!
//! 1. Every grey object (marked, not yet traced) is on a marker's stack, in the pool, or in a
//!    mutator's barrier buffer. Assists run inside a guard and return what they did not trace
//!    to the pool before leaving it, so with the world stopped no assist holds grey objects.
//! 2. Worker threads are not mutators: the collector waits for them to leave the mark phase
//!    (`workers_done`) before the final mark termination pause.
//! 3. The counters are statistics and pacing inputs (`Relaxed`); correctness rests on the mark
//!    bits (atomic) and on the pool lock.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex};

use super::mheap::SpanPtr;

/// Addresses per pool batch.
pub(crate) const BATCH: usize = 256;

/// Spans per root-scan job.
pub(crate) const ROOT_JOB: usize = 4;

/// The mark work to share: grey batches, and the root-scan jobs (Go's markroot jobs): the span
/// snapshot of this cycle and the next span to scan.
pub(crate) struct Pool {
    batches: Vec<Vec<usize>>,
    roots: Option<Arc<Vec<SpanPtr>>>,
    next_root: usize,
}

/// Grey batches and root jobs waiting for a marker.
pub(crate) static POOL: Mutex<Pool> = Mutex::new(Pool {
    batches: Vec::new(),
    roots: None,
    next_root: 0,
});
/// Batches in [`POOL`] (read without the lock as a hint).
pub(crate) static POOL_LEN: AtomicUsize = AtomicUsize::new(0);
/// Root-scan jobs not yet claimed (a hint read without the lock).
pub(crate) static ROOTS_LEFT: AtomicBool = AtomicBool::new(false);
/// Markers holding work taken from the pool (changed under the pool lock).
pub(crate) static BUSY: AtomicUsize = AtomicUsize::new(0);
/// A marker found the pool empty: the others should share.
pub(crate) static WANTED: AtomicBool = AtomicBool::new(false);
/// Bytes traced this cycle by every marker.
pub(crate) static SCAN_DONE: AtomicU64 = AtomicU64::new(0);
/// Scan work the background markers did that assists may claim instead of marking.
pub(crate) static BG_CREDIT: AtomicI64 = AtomicI64::new(0);
/// Scan bytes owed per allocated byte, in 1/1024ths (Go's assistWorkPerByte).
pub(crate) static ASSIST_RATIO: AtomicU64 = AtomicU64::new(0);
/// Scan work expected this cycle: the last cycle's marked bytes (Go's heapScan).
pub(crate) static SCAN_EXPECTED: AtomicU64 = AtomicU64::new(0);
/// Bytes newly marked by assists and helper workers this cycle (added to the live heap at mark
/// termination; the collector's own marker and the mutators' caches count theirs).
pub(crate) static MARKED: AtomicU64 = AtomicU64::new(0);
/// Nanoseconds spent in assists (all threads, this cycle), for gctrace and the CPU fraction.
pub(crate) static ASSIST_NS: AtomicU64 = AtomicU64::new(0);
/// Nanoseconds spent in assists since the start.
pub(crate) static ASSIST_TOTAL_NS: AtomicU64 = AtomicU64::new(0);

fn pool() -> std::sync::MutexGuard<'static, Pool> {
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Publishes this cycle's span snapshot as root-scan jobs.
pub(crate) fn set_roots(spans: Vec<SpanPtr>) {
    let root_work: u64 = spans
        .iter()
        // SAFETY: spans of the snapshot stay mapped while marking runs.
        .map(|s| super::mark::root_scan_bytes(unsafe { (*s.0).nelems }))
        .sum();
    SCAN_EXPECTED.fetch_add(root_work, Relaxed);
    let mut p = pool();
    ROOTS_LEFT.store(!spans.is_empty(), Relaxed);
    p.roots = Some(Arc::new(spans));
    p.next_root = 0;
}

/// Drops the span snapshot (mark termination: every job was claimed and finished).
pub(crate) fn clear_roots() {
    let mut p = pool();
    debug_assert!(p.roots.as_ref().is_none_or(|r| p.next_root >= r.len()));
    p.roots = None;
}

/// Claims the next root-scan job: the snapshot and the range of spans to scan. The caller is
/// counted busy until it calls [`idle`].
pub(crate) fn claim_roots() -> Option<(Arc<Vec<SpanPtr>>, std::ops::Range<usize>)> {
    if !ROOTS_LEFT.load(Relaxed) {
        return None;
    }
    let mut p = pool();
    let roots = p.roots.clone()?;
    let lo = p.next_root;
    if lo >= roots.len() {
        return None;
    }
    let hi = (lo + ROOT_JOB).min(roots.len());
    p.next_root = hi;
    if hi == roots.len() {
        ROOTS_LEFT.store(false, Relaxed);
    }
    BUSY.fetch_add(1, Relaxed);
    Some((roots, lo..hi))
}

/// Puts a batch of grey objects in the pool.
pub(crate) fn push(batch: Vec<usize>) {
    if batch.is_empty() {
        return;
    }
    let mut p = pool();
    p.batches.push(batch);
    POOL_LEN.store(p.batches.len(), Relaxed);
    WANTED.store(false, Relaxed);
}

/// Takes a batch and counts the caller as busy (it must call [`idle`] once it has traced or
/// returned everything it took).
pub(crate) fn pop_busy() -> Option<Vec<usize>> {
    if POOL_LEN.load(Relaxed) == 0 {
        WANTED.store(true, Relaxed);
        return None;
    }
    let mut p = pool();
    let b = p.batches.pop();
    POOL_LEN.store(p.batches.len(), Relaxed);
    match b {
        Some(b) => {
            BUSY.fetch_add(1, Relaxed);
            Some(b)
        }
        None => {
            WANTED.store(true, Relaxed);
            None
        }
    }
}

/// Ends a [`pop_busy`].
pub(crate) fn idle() {
    let _p = pool();
    BUSY.fetch_sub(1, Relaxed);
}

/// Takes every batch (mark termination, world stopped, or the collector draining).
pub(crate) fn take_all() -> Vec<Vec<usize>> {
    let mut p = pool();
    POOL_LEN.store(0, Relaxed);
    std::mem::take(&mut p.batches)
}

/// No grey object is in the pool or held by a marker that took it from there, and every
/// root-scan job is done.
pub(crate) fn quiescent() -> bool {
    if BUSY.load(Relaxed) != 0 || POOL_LEN.load(Relaxed) != 0 || ROOTS_LEFT.load(Relaxed) {
        return false;
    }
    let p = pool();
    p.batches.is_empty()
        && BUSY.load(Relaxed) == 0
        && p.roots.as_ref().is_none_or(|r| p.next_root >= r.len())
}

/// Resets the per-cycle counters and computes the first assist ratio (STW1).
pub(crate) fn start_cycle(expected_scan: u64, live: u64, goal: u64) {
    SCAN_DONE.store(0, Relaxed);
    BG_CREDIT.store(0, Relaxed);
    ASSIST_NS.store(0, Relaxed);
    MARKED.store(0, Relaxed);
    WANTED.store(false, Relaxed);
    SCAN_EXPECTED.store(expected_scan, Relaxed);
    update_ratio(live, goal);
}

/// Recomputes the assist ratio from the work left and the heap distance left (Go's
/// revise): expected work over the distance to the hard goal; once the work done exceeds what was
/// expected, the whole live heap is the bound on the work and the hard goal (10% over the goal)
/// the bound on the heap, so an allocator past it owes a lot and waits for credit.
pub(crate) fn update_ratio(live: u64, goal: u64) {
    let done = SCAN_DONE.load(Relaxed);
    let expected = SCAN_EXPECTED.load(Relaxed);
    // The distance runs to the hard goal from the start: assists then pay only what the
    // background workers' credit does not cover once the heap heads past the goal, rather than
    // racing the worker for the same work whenever the mark runs close to the goal (measured on
    // binary-trees: 1.6 ms of assists per 4.7 ms mark against the soft goal, the program 12%
    // slower; the heap stays under the hard goal either way).
    let hard = super::pacer::hard_goal(goal);
    let (left, goal) = if done < expected {
        (expected - done, hard)
    } else {
        (live.saturating_sub(done).max(1 << 20), hard)
    };
    let dist = goal.saturating_sub(live).max(64 << 10);
    let ratio = (left as u128 * 1024 / dist as u128).min(1 << 20) as u64;
    ASSIST_RATIO.store(ratio, Relaxed);
}

/// Scan bytes owed for allocating `bytes` now.
#[inline]
pub(crate) fn debt_for(bytes: u64) -> i64 {
    ((bytes as u128 * ASSIST_RATIO.load(Relaxed) as u128) >> 10) as i64
}

/// Claims up to `want` bytes of background credit; returns what was claimed.
pub(crate) fn steal_credit(want: i64) -> i64 {
    let mut c = BG_CREDIT.load(Relaxed);
    loop {
        if c <= 0 {
            return 0;
        }
        let take = c.min(want);
        match BG_CREDIT.compare_exchange_weak(c, c - take, Relaxed, Relaxed) {
            Ok(_) => return take,
            Err(x) => c = x,
        }
    }
}

/// Go's worker split for `procs` Ps: (dedicated workers, fractional utilization goal per P).
/// The collector marks with a utilization of 25% of the Ps: whole Ps when that rounds well,
/// otherwise a fractional worker (on 2 Ps: none dedicated, 0.25 of each P).
pub(crate) fn worker_split(procs: usize) -> (usize, f64) {
    let goal = procs as f64 * 0.25;
    let mut dedicated = (goal + 0.5) as usize;
    let err = dedicated as f64 / goal - 1.0;
    if !(-0.3..=0.3).contains(&err) {
        if dedicated as f64 > goal {
            dedicated = dedicated.saturating_sub(1);
        }
        let frac = (goal - dedicated as f64) / procs as f64;
        return (dedicated, frac);
    }
    (dedicated, 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_split_matches_go() {
        // Go's gcControllerState.startCycle.
        assert_eq!(worker_split(1), (0, 0.25));
        assert_eq!(worker_split(2), (0, 0.25));
        assert_eq!(worker_split(3), (0, 0.25));
        assert_eq!(worker_split(4), (1, 0.0));
        assert_eq!(worker_split(8), (2, 0.0));
        let (d, f) = worker_split(6);
        assert_eq!(d, 1);
        assert!((f - 0.5 / 6.0).abs() < 1e-9, "{f}");
        assert_eq!(worker_split(16), (4, 0.0));
    }

    #[test]
    fn ratio_and_credit() {
        let _g = crate::gc::collect::COLLECT
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        start_cycle(100 << 20, 50 << 20, 100 << 20);
        // 100 MiB to scan over 60 MiB of distance (to the hard goal, 110 MiB).
        assert_eq!(debt_for(1000), 1666);
        BG_CREDIT.store(500, Relaxed);
        assert_eq!(steal_credit(300), 300);
        assert_eq!(steal_credit(300), 200);
        assert_eq!(steal_credit(300), 0);
        // Work beyond what was expected: the live heap bounds the work, the hard goal the heap.
        start_cycle(0, 0, 4 << 20);
        let d = debt_for(1000);
        assert!(d > 0 && d < 1000, "{d}");
        // Past the hard goal: 5 MiB left over 64 KiB of distance, 80 bytes per byte.
        update_ratio(5 << 20, 4 << 20);
        assert_eq!(debt_for(1000), 80_000);
    }
}
