//! `-trace FILE`: the execution trace of the whole benchmark run, written at exit (Go's
//! testing semantics: the file is created before the first benchmark, the trace stopped and
//! written after the last).

use std::fs::File;

/// Creates `path` and starts tracing into it; `Err` is the message to print (exit status 2).
pub(crate) fn start(path: Option<&str>) -> Result<bool, String> {
    let Some(path) = path else {
        return Ok(false);
    };
    let f = File::create(path).map_err(|e| format!("testing: open {path}: {e}"))?;
    crate::trace::start(f).map_err(|e| format!("testing: can't start tracing: {e}"))?;
    Ok(true)
}

/// Stops the trace started by [`start`] and writes it; `Err` is the message to print.
pub(crate) fn stop(started: bool) -> Result<(), String> {
    if !started {
        return Ok(());
    }
    crate::trace::stop().map_err(|e| format!("testing: can't write trace: {e}"))
}
