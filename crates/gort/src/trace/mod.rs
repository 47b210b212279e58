//! Execution tracing: what every goroutine, P and blocking call did, over time (Go's
//! `runtime/trace`), written as Chrome Trace Event JSON for Perfetto UI or chrome://tracing.
//!
//! ```no_run
//! let f = std::fs::File::create("trace.json").unwrap();
//! gort::trace::start(f).unwrap();
//! // ... the workload ...
//! gort::trace::stop().unwrap(); // writes the JSON
//! ```
//!
//! # The problem
//!
//! A scheduler's behaviour (who ran where, who waited how long for a P, why goroutines
//! blocked) is invisible in profiles. Recording it means a hook at every scheduling event:
//! millions per second on a channel ping-pong. The hooks must cost nothing when tracing is
//! off and little when on, must not take locks (they run inside `park`/`ready`, under
//! channel locks), and the trace must be consistent even though events of one goroutine are
//! recorded by different threads (its waker, its M).
//!
//! # How
//!
//! * **Hooks** (`hooks.rs`) are single-line calls in `sched/`. Off: one `Relaxed` load of the
//!   session generation `GEN` (0 = off) and a predicted branch; behind it, the switch and
//!   wake-up recorders are inlined (a leaf fast path), the rest is out of line. On: a clock read outside dense stretches (`clock.rs`: the invariant TSC, else vDSO
//!   `CLOCK_MONOTONIC`; `buf.rs`: sampled timestamps) and
//!   an append of a record (`buf.rs`): a context switch in a dense stretch is a 24-byte
//!   record without a timestamp (the goroutine started, the one that left, the wake-up
//!   stamp), any other event a 40-byte one (`event.rs`: ticks, goid, kind and argument, a
//!   second argument); a wake-up writes none (it stamps the goroutine).
//! * **Buffers** (`buf.rs`) are per thread, so per M and so per P (gort's Ms are bound to
//!   their Ps for life), plus one per blocking-pool or outside thread that records: 32 KiB
//!   chunks appended to without atomics read-modify-write or locks; a full chunk goes to a
//!   global list under a mutex (once per 800-1365 events). Above the memory limit (16 MiB by
//!   default) the oldest chunks are recycled: the trace keeps its newest part and starts
//!   where it is complete.
//! * **Flight recorder** (`flight.rs`): the same recording session kept running in a bounded
//!   window (`min_age`, `max_bytes`) and snapshot on demand; it shares the session with
//!   `start`/`stop` (`State`), so both may run at once.
//! * **At stop** the buffers are collected and `json.rs` turns them into tracks: one per P
//!   (`G<id>` slices while a goroutine runs, `idle` while the M sleeps), one per goroutine
//!   (`runnable` / `running` / `blocked (reason)` slices), GC and STW slices, and
//!   heap and GC counters. The JSON exists only then; recording never formats.
//!
//! # Rejected alternatives
//!
//! * *One global lock-free queue*: every event would be a contended RMW on one cache line
//!   shared by all Ps; the per-thread buffers touch only the recording thread's memory.
//! * *Writing JSON (or Go's binary format) while running*: formatting costs ~100 ns per event
//!   and Go's format needs per-P sequence numbers and string tables; Chrome JSON at stop is
//!   what the viewers open directly.
//! * *A per-thread "writing" flag that `stop` waits for* (Go's per-M seqlock): needs a
//!   store-load fence on every event. Instead `stop` reads only published prefixes
//!   (`len`, Release/Acquire), and events that race with `stop` are simply not in the trace.
//! * *`Instant::now()` per event*: 30 ns a read on the 2-vCPU EPYC VM gort is developed on,
//!   against 13 ns for `rdtsc` (back to back; in the scheduler it overlaps other work).
//!
//! # Invariants and orderings
//!
//! * `GEN` is written only by `start`/`stop` under `SESSION`; `start` resets the buffers
//!   before publishing the new generation (`Release`), and a thread that sees a generation
//!   different from its chunk's retires the chunk after an `Acquire` fence, so no event of an
//!   old session reaches a new one (chunks are tagged with their generation as well).
//! * A chunk slot is written by its owner thread before `len` covers it (`Release`) and read
//!   by `stop` only below `len` (`Acquire`); chunk swaps and `stop`'s snapshot of the current
//!   chunks happen under one mutex, so every chunk is read once (`buf.rs`).
//! * A goroutine's leave (block) is taken before its park commits, so its wake-up stamp
//!   (taken by the waker after the commit) is later; the TSC is synchronised across cores.
//!   A context switch is recorded as one event and expanded at collection
//!   (`rt/exectrace/event.rs`); the wake-up's event then steps back in time on the starting
//!   track, which `json.rs` allows for. `json.rs` still tolerates reordering: state slices are
//!   built from sorted events and cannot overlap.
//! * Goroutine ids are per runtime: tracing two runtimes at once merges their goroutines'
//!   tracks by id.

mod flight;
mod json;
#[cfg(test)]
pub(crate) mod tests;

use std::io::Write;
use std::sync::atomic::Ordering::Release;
use std::sync::Mutex;

use crate::rt::exectrace::{buf, clock, GEN};

pub use flight::{
    write_snapshot as write_flight_recorder_snapshot, FlightRecorder, FlightRecorderConfig,
};

/// Default bound on the memory of recorded events.
pub const DEFAULT_BUFFER_LIMIT: usize = 16 << 20;

/// A running trace (`start` .. `stop`).
struct Session {
    writer: Box<dyn Write + Send>,
    start: clock::Anchor,
    limit: usize,
}

/// A running flight recorder's settings.
struct Recorder {
    max_bytes: usize,
    min_age_ticks: u64,
}

/// The recording state shared by the trace and the flight recorder: one recording session
/// (generation `gen`) serves both; it runs while either does.
struct State {
    trace: Option<Session>,
    recorder: Option<Recorder>,
    /// The generation being recorded (0: none); `next_gen` numbers them.
    gen: u64,
    next_gen: u64,
    /// When the recording session began (the clock anchor of flight-recorder snapshots).
    rec_start: Option<clock::Anchor>,
}

static SESSION: Mutex<State> = Mutex::new(State {
    trace: None,
    recorder: None,
    gen: 0,
    next_gen: 0,
    rec_start: None,
});

impl State {
    /// Starts a recording session if none runs.
    fn begin(&mut self, limit: usize) {
        if self.gen != 0 {
            return;
        }
        clock::init();
        buf::reset(limit);
        self.next_gen += 1;
        self.gen = self.next_gen;
        self.rec_start = Some(clock::Anchor::now());
        GEN.store(self.gen, Release);
    }

    /// The buffer bounds that serve whoever is recording: a trace keeps everything up to its
    /// limit; a recorder alone also drops what is older than its window.
    fn apply_limits(&self) {
        match (&self.trace, &self.recorder) {
            (Some(t), Some(r)) => buf::set_limits(t.limit.max(r.max_bytes), 0),
            (Some(t), None) => buf::set_limits(t.limit, 0),
            (None, Some(r)) => buf::set_limits(r.max_bytes, r.min_age_ticks),
            (None, None) => {}
        }
    }

    /// Ends the recording session if nobody needs it; returns its events when asked.
    fn end_if_unused(&mut self) -> Option<buf::Collected> {
        if self.trace.is_some() || self.recorder.is_some() || self.gen == 0 {
            return None;
        }
        GEN.store(0, Release);
        let c = buf::collect(self.gen);
        self.gen = 0;
        self.rec_start = None;
        Some(c)
    }
}

/// Errors of [`start`], [`stop`] and the [`FlightRecorder`].
#[derive(Debug)]
pub enum TraceError {
    /// `start` while a trace is running.
    AlreadyStarted,
    /// `stop` without a running trace.
    NotStarted,
    /// A second flight recorder while one runs (Go allows one at a time).
    RecorderActive,
    /// A snapshot of a flight recorder that is not running.
    RecorderNotStarted,
    /// Writing the trace failed.
    Io(std::io::Error),
}

impl std::fmt::Display for TraceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TraceError::AlreadyStarted => write!(f, "tracing is already enabled"),
            TraceError::NotStarted => write!(f, "tracing is not enabled"),
            TraceError::RecorderActive => write!(f, "a flight recorder is already running"),
            TraceError::RecorderNotStarted => write!(f, "the flight recorder is not running"),
            TraceError::Io(e) => write!(f, "writing the trace: {e}"),
        }
    }
}

impl std::error::Error for TraceError {}

/// Starts tracing the process's runtimes; [`stop`] writes the trace to `w` (Go's
/// `trace.Start`). At most 16 MiB of events are kept (the newest); see
/// [`start_with_limit`]. May run beside a [`FlightRecorder`].
pub fn start<W: Write + Send + 'static>(w: W) -> Result<(), TraceError> {
    start_with_limit(w, DEFAULT_BUFFER_LIMIT)
}

/// [`start`], keeping at most about `limit_bytes` of events (24 bytes per context switch in
/// a busy stretch, 40 for other events and for those with a timestamp): above it the
/// oldest are dropped and the trace begins where it is complete.
pub fn start_with_limit<W: Write + Send + 'static>(
    w: W,
    limit_bytes: usize,
) -> Result<(), TraceError> {
    let mut s = SESSION.lock().unwrap_or_else(|e| e.into_inner());
    if s.trace.is_some() {
        return Err(TraceError::AlreadyStarted);
    }
    s.begin(limit_bytes);
    s.trace = Some(Session {
        writer: Box::new(w),
        start: clock::Anchor::now(),
        limit: limit_bytes,
    });
    s.apply_limits();
    Ok(())
}

/// Stops tracing and writes the trace (Go's `trace.Stop`). Events that race with `stop` on
/// other threads may be left out. A flight recorder running beside it keeps recording.
pub fn stop() -> Result<(), TraceError> {
    let mut s = SESSION.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut session) = s.trace.take() else {
        return Err(TraceError::NotStarted);
    };
    let gen = s.gen;
    let end = clock::Anchor::now();
    let mut collected = match s.end_if_unused() {
        Some(c) => c,
        None => {
            s.apply_limits();
            buf::snapshot(gen)
        }
    };
    // A trace that began inside a recorder's session starts at its own start.
    collected.dropped_until = collected
        .dropped_until
        .max(session.start.ticks.saturating_sub(1));
    let conv = clock::Conv::new(session.start, end);
    json::write(&mut session.writer, &collected, &conv, end.ticks).map_err(TraceError::Io)
}

/// True while a trace (`start` .. `stop`) is being recorded.
pub fn is_enabled() -> bool {
    SESSION
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .trace
        .is_some()
}
