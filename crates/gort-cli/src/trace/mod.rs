//! `gort trace`: summarise an execution trace written by `gort::trace` or `-trace FILE`.
//!
//! [`json`] reads the Chrome Trace Event JSON (a small reader with no dependencies, shared
//! with gort's own trace tests), [`model`] picks out the tracks gort writes (goroutine state
//! slices, GC and STW slices, P tracks) and skips anything else, and [`report`] computes
//! time per goroutine state, scheduler latency (runnable to running), blocking by wait
//! reason and GC time, and renders them as text.

pub mod json;
pub mod model;
pub mod report;

use anyhow::Result;

/// Reads `path` (`-` for stdin) and returns the text summary with the top `top` goroutines.
pub fn run(path: impl AsRef<std::path::Path>, top: usize) -> Result<String> {
    let path = path.as_ref();
    let text = crate::input::read_text(path)?;
    let trace =
        model::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", crate::input::display(path)))?;
    Ok(report::render(&report::summarize(&trace), top))
}
