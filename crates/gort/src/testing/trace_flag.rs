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

#[cfg(test)]
mod tests {
    use super::super::output::Output;
    use super::super::runner::run_main;
    use super::super::B;

    fn bench_spawn(b: &mut B) {
        for _ in b.iter() {
            crate::go(|| ()).join().unwrap();
        }
    }

    #[test]
    fn trace_flag_writes_the_trace_at_exit() {
        let _l = crate::trace::tests::LOCK
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let dir = std::env::temp_dir().join(format!("gort-trace-flag-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("trace.json");
        let args = format!("-benchtime 50x -trace {} --bench", path.display());
        let (code, _) = run_main(
            "gort",
            &[("Spawn", bench_spawn)],
            args.split_whitespace().map(String::from),
            Output::capturing,
        );
        assert_eq!(code, 0);
        assert!(!crate::trace::is_enabled(), "stopped at exit");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(text.starts_with("{\"displayTimeUnit\""));
        assert!(
            text.contains("\"name\":\"running\""),
            "goroutines ran in the trace"
        );
        assert!(text.trim_end().ends_with("]}"));
    }
}
