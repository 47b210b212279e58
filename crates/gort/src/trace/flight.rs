//! The flight recorder (Go 1.25's `trace.FlightRecorder`): the execution trace kept running in
//! a bounded window of recent events, written out on demand, e.g. when a request was slow.
//!
//! ```
//! use gort::trace::{FlightRecorder, FlightRecorderConfig};
//! use std::time::Duration;
//!
//! let mut fr = FlightRecorder::new(FlightRecorderConfig {
//!     min_age: Duration::from_secs(5),
//!     max_bytes: 4 << 20,
//! });
//! fr.start().unwrap();
//! // ... serve; when something was slow:
//! let mut snapshot = Vec::new();
//! fr.write_to(&mut snapshot).unwrap(); // the last ~5 s (at most ~4 MiB of events), as JSON
//! fr.stop();
//! assert!(snapshot.starts_with(b"{"));
//! ```
//!
//! # How
//!
//! The recorder and [`start`](super::start)/[`stop`](super::stop) share one recording session
//! (`State` in `mod.rs`): the same per-thread chunks (`rt/exectrace/buf.rs`), which already
//! recycle their oldest chunk above a memory bound. A recorder alone sets that bound to
//! `max_bytes` and also recycles the oldest chunk once its newest event is older than
//! `min_age`, so memory stays near what the window needs; with a trace running beside it the
//! trace's bound applies and nothing is dropped by age. [`FlightRecorder::write_to`] takes a
//! snapshot while recording goes on: recycling is paused while it reads the chunks (so none
//! is rewritten under it), and the events are written as the trace's JSON, which
//! `gort trace`, Perfetto and chrome://tracing read. Cost while running: what a running trace
//! costs (the hooks record either way); a snapshot costs a read of the window.
//!
//! # Semantics (Go's)
//!
//! * The window holds at least the last `min_age` of events unless that would take more than
//!   `max_bytes`: `max_bytes` wins.
//! * One recorder at a time: a second `start` fails with [`TraceError::RecorderActive`].
//! * A snapshot begins where it is complete: a goroutine whose earlier events were recycled
//!   appears from its first event in the window.
//!
//! Rejected: a second, separate set of buffers for the recorder (every hook would write
//! twice when both run); copying chunks out at a fixed interval (a background thread, and a
//! window that lags by the interval).

use std::io::Write;
use std::time::Duration;

use super::{json, TraceError, SESSION};
use crate::rt::exectrace::{buf, clock};

/// The window a [`FlightRecorder`] keeps (Go's `FlightRecorderConfig`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlightRecorderConfig {
    /// Keep at least this much recent history (default 10 s).
    pub min_age: Duration,
    /// But at most about this many bytes of events (24-40 bytes each; default 16 MiB); this
    /// bound wins over `min_age`.
    pub max_bytes: usize,
}

impl Default for FlightRecorderConfig {
    fn default() -> Self {
        FlightRecorderConfig {
            min_age: Duration::from_secs(10),
            max_bytes: super::DEFAULT_BUFFER_LIMIT,
        }
    }
}

/// A flight recorder: the execution trace, kept running in a bounded window, snapshot on
/// demand with [`write_to`](FlightRecorder::write_to). See the module docs.
#[derive(Debug)]
pub struct FlightRecorder {
    cfg: FlightRecorderConfig,
    running: bool,
}

impl FlightRecorder {
    /// A recorder with this window; not running until [`start`](FlightRecorder::start).
    pub fn new(cfg: FlightRecorderConfig) -> FlightRecorder {
        FlightRecorder {
            cfg,
            running: false,
        }
    }

    /// Starts recording (beside a running trace, if any). Fails if another recorder runs.
    pub fn start(&mut self) -> Result<(), TraceError> {
        let mut s = SESSION.lock().unwrap_or_else(|e| e.into_inner());
        if s.recorder.is_some() {
            return Err(TraceError::RecorderActive);
        }
        let max_bytes = self.cfg.max_bytes.max(2 * buf::CHUNK_BYTES);
        s.begin(max_bytes);
        let us = u64::try_from(self.cfg.min_age.as_micros()).unwrap_or(u64::MAX);
        s.recorder = Some(super::Recorder {
            max_bytes,
            min_age_ticks: us.saturating_mul(clock::ticks_per_us()).max(1),
        });
        s.apply_limits();
        self.running = true;
        Ok(())
    }

    /// Stops recording; a trace running beside it goes on. Does nothing if not running.
    pub fn stop(&mut self) {
        if !self.running {
            return;
        }
        self.running = false;
        let mut s = SESSION.lock().unwrap_or_else(|e| e.into_inner());
        s.recorder = None;
        if s.end_if_unused().is_none() {
            s.apply_limits();
        }
    }

    /// True between [`start`](FlightRecorder::start) and [`stop`](FlightRecorder::stop).
    pub fn enabled(&self) -> bool {
        self.running
    }

    /// Writes the window recorded so far as trace JSON; returns the bytes written. Recording
    /// goes on. Fails if the recorder is not running.
    pub fn write_to<W: Write>(&self, w: W) -> Result<u64, TraceError> {
        if !self.running {
            return Err(TraceError::RecorderNotStarted);
        }
        snapshot(w)
    }

    /// The configuration.
    pub fn config(&self) -> FlightRecorderConfig {
        self.cfg
    }
}

impl Drop for FlightRecorder {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Writes a snapshot of the process's running flight recorder (the `/debug/flightrecorder`
/// endpoint of `prof::http`); fails if none runs.
pub fn write_snapshot<W: Write>(w: W) -> Result<u64, TraceError> {
    snapshot(w)
}

fn snapshot<W: Write>(w: W) -> Result<u64, TraceError> {
    let s = SESSION.lock().unwrap_or_else(|e| e.into_inner());
    if s.recorder.is_none() {
        return Err(TraceError::RecorderNotStarted);
    }
    let Some(start) = s.rec_start else {
        return Err(TraceError::RecorderNotStarted);
    };
    let collected = buf::snapshot(s.gen);
    let end = clock::Anchor::now();
    let conv = clock::Conv::new(start, end);
    let mut counted = Counting { w, n: 0 };
    json::write(&mut counted, &collected, &conv, end.ticks).map_err(TraceError::Io)?;
    Ok(counted.n)
}

struct Counting<W> {
    w: W,
    n: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let k = self.w.write(b)?;
        self.n += k as u64;
        Ok(k)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.w.flush()
    }
}
