//! What `gort::metrics` reads from the scheduler: goroutines by state, threads, stalls, and
//! the sampled scheduling-latency histogram (`/sched/latencies:seconds`).
//!
//! # Counts
//!
//! Every figure is a sum over the Ps' existing counters (`p::Counters`, `P::curg`,
//! `P::stalls`) plus a few runtime-wide ones, read with relaxed loads: O(GOMAXPROCS), no lock
//! but the blocking pool's (one uncontended mutex), no stop-the-world. The states are Go's
//! approximations: `running` counts Ps with a goroutine on them, `waiting` the parked
//! goroutines less those parked in `gort::blocking` (which are `not_in_go`, Go's goroutines
//! in a system call), and `runnable` the rest of the live ones (queued, or spawned and not
//! started). Read while goroutines change state, the four need not add up exactly, as in Go.
//!
//! # Scheduling latency
//!
//! Go's `/sched/latencies:seconds` is the time from a goroutine becoming runnable to its
//! running. gort samples it as Go does (Go times every 8th transition of each goroutine):
//! the waker of a wake-up whose per-P `readied` count is a multiple of [`SAMPLE_PERIOD`], and
//! the spawner of every goroutine whose id is, stamp `G::ready_at` with the clock; the M that
//! next runs the goroutine finds the stamp (one load of a word on a line it touches anyway)
//! and records the difference in [`LATENCY`]. So the waker pays a clock read (about 20 ns)
//! once per 64 wake-ups and the M an extra branch per run. Wake-ups from outside the
//! runtime's Ms (a plain thread unparking a goroutine) have no per-P count and are not
//! sampled; yields and preemptions (back to the queue without a wake-up) are not either.

use std::sync::atomic::Ordering::Relaxed;

use super::g::G;
use super::runtime::Shared;
use crate::rt::timehist::TimeHist;

/// One in this many wake-ups (per P) and spawns (by goroutine id) is timed.
pub(crate) const SAMPLE_PERIOD: u64 = 64;

/// Sampled runnable-to-running latencies, process-wide (all runtimes).
pub(crate) static LATENCY: TimeHist = TimeHist::new();

/// The scheduler's figures at one instant (see the module documentation).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SchedCounts {
    pub(crate) gomaxprocs: u64,
    pub(crate) goroutines: u64,
    pub(crate) running: u64,
    pub(crate) runnable: u64,
    pub(crate) waiting: u64,
    pub(crate) not_in_go: u64,
    /// Goroutines spawned since the runtime started.
    pub(crate) created: u64,
    /// Ms, sysmon and blocking-pool threads alive.
    pub(crate) threads: u64,
    /// Blocking-pool threads alive (included in `threads`).
    pub(crate) blocking_threads: u64,
    /// Time slices sysmon found a P stuck in, summed over the Ps (`P::stalls`).
    pub(crate) stalled_slices: u64,
    /// Stall episodes reported (`Shared::stall_reports`, what `debug::num_stalls` returns).
    pub(crate) stalls: u64,
    /// Goroutines parked on network I/O (included in `waiting`).
    pub(crate) net_waiting: u64,
    /// The runtime's goroutine stack size (usable bytes).
    pub(crate) stack_size: u64,
}

/// Reads `shared`'s counts.
pub(crate) fn counts(shared: &Shared) -> SchedCounts {
    let (bthreads, _) = shared.blocking.counts();
    let mut c = SchedCounts {
        gomaxprocs: shared.nprocs() as u64,
        goroutines: shared.ngoroutines() as u64,
        created: shared.ext_spawned.load(Relaxed),
        threads: (shared.threads.load(Relaxed) + bthreads) as u64,
        blocking_threads: bthreads as u64,
        not_in_go: shared.in_blocking.load(Relaxed) as u64,
        stack_size: shared.stacks.stack_size() as u64,
        stalls: shared.stall_reports.load(Relaxed),
        ..SchedCounts::default()
    };
    let mut parked = 0i64;
    for p in shared.ps.iter() {
        c.created += p.counters.spawned.load(Relaxed);
        c.stalled_slices += p.stalls.load(Relaxed);
        c.net_waiting += p.counters.io_waiters.load(Relaxed) as u64;
        parked += p.counters.parked.load(Relaxed);
        if p.curg.load(Relaxed) != 0 {
            c.running += 1;
        }
    }
    let parked = parked.max(0) as u64;
    c.not_in_go = c.not_in_go.min(parked);
    c.waiting = parked - c.not_in_go;
    c.running = c.running.min(c.goroutines);
    c.runnable = c.goroutines.saturating_sub(c.running + parked);
    c
}

/// Runs `f` on the current runtime (the process-wide one outside goroutines, started if it
/// has not been, as `gort::num_goroutine` does).
pub(crate) fn with_current<R>(f: impl FnOnce(&Shared) -> R) -> R {
    match super::park::ctx() {
        Some(c) => f(c.shared()),
        None => f(&super::runtime::default_runtime().shared),
    }
}

/// The waker or spawner of a sampled transition: stamps `g` before it is queued.
#[cold]
pub(crate) fn stamp(g: &G, shared: &Shared) {
    g.ready_at.store(shared.nanotime() + 1, Relaxed);
}

/// The M about to run `g`: records the latency of a sampled transition.
#[inline]
pub(crate) fn on_run(g: &G, shared: &Shared) {
    let t = g.ready_at.load(Relaxed);
    if t != 0 {
        record(g, shared, t);
    }
}

#[cold]
fn record(g: &G, shared: &Shared, t: u64) {
    g.ready_at.store(0, Relaxed);
    LATENCY.record((shared.nanotime() + 1).saturating_sub(t));
}
