//! `gort trace` on traces gort itself wrote: the numbers are consistent with the workload,
//! and bad input gives one-line errors and exit status 1.

mod common;

use std::time::Duration;

use gort_cli::trace::{model, report};

/// Traces a workload with channel ping-pong, a blocking call and a sleep; returns the file.
fn write_trace(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("trace.json");
    gort::trace::start(std::fs::File::create(&path).unwrap()).unwrap();
    let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
    rt.block_on(|| {
        let (tx, rx) = gort::chan::bounded::<u64>(0);
        let echo = gort::go(move || rx.iter().sum::<u64>());
        let blocker = gort::go(|| gort::blocking(|| std::thread::sleep(Duration::from_millis(10))));
        let sleeper = gort::go(|| gort::time::sleep(Duration::from_millis(2)));
        // Joined first, so this goroutine certainly blocks in join while the call runs.
        blocker.join().unwrap();
        for i in 0..500 {
            tx.send(i).unwrap();
        }
        tx.close().unwrap();
        assert_eq!(echo.join().unwrap(), 499 * 500 / 2);
        sleeper.join().unwrap();
    });
    gort::trace::stop().unwrap();
    path
}

#[test]
fn summary_of_a_gort_trace() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_trace(dir.path());
    let text = std::fs::read_to_string(&path).unwrap();
    let t = model::parse(&text).unwrap();
    let s = report::summarize(&t);
    assert!(
        s.duration_ns > 10e6,
        "the trace covers the 10 ms call: {}",
        s.duration_ns
    );
    assert!(s.goroutines.len() >= 4);
    for g in &s.goroutines {
        // State slices never overlap, so a goroutine's states add up to at most the trace.
        assert!(
            g.total() <= s.duration_ns + 1.0,
            "G{}: {} > {}",
            g.goid,
            g.total(),
            s.duration_ns
        );
    }
    assert!(
        s.blocking.contains_key("syscall"),
        "{:?}",
        s.blocking.keys()
    );
    assert!(s.blocking.contains_key("sleep"));
    assert!(s.blocking.contains_key("join"));
    assert!(s.blocking.contains_key("chan receive") || s.blocking.contains_key("chan send"));
    // The blocking call parked its goroutine for about 10 ms (less what a loaded machine
    // takes to switch the goroutine out: that counts as running).
    assert!(
        s.blocking["syscall"].1 >= 2e6,
        "{:?}",
        s.blocking["syscall"]
    );
    assert!(!s.latency.is_empty());
    assert!(s.latency.windows(2).all(|w| w[0] <= w[1]));
    assert!(s.latency.iter().all(|&l| l >= 0.0 && l <= s.duration_ns));
    assert!(!s.procs.is_empty());
    for (_, busy) in &s.procs {
        assert!(*busy <= s.duration_ns + 1.0);
    }
    assert_eq!(s.gc_count, 0);

    // The command prints the same summary.
    let out = common::gort_ok(&["trace", path.to_str().unwrap(), "--top", "3"]);
    for want in [
        "Goroutine time by state",
        "Scheduler latency (runnable -> running)",
        "syscall",
        "sleep",
        "Top 3 goroutines by running time",
        "GC: no GC events in this trace",
    ] {
        assert!(out.contains(want), "{want:?} not in\n{out}");
    }
}

#[test]
fn bad_input_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.json");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"traceEvents\":[{\"ph\":").unwrap();
    let notgort = dir.path().join("other.json");
    std::fs::write(&notgort, "{\"traceEvents\":[]}").unwrap();
    for (p, why) in [
        (&missing, "cannot read"),
        (&bad, "not a JSON trace"),
        (&notgort, "not a trace written by gort"),
    ] {
        let out = common::gort(&["trace", p.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("gort: ") && err.contains(why), "{err}");
    }
    let help = common::gort_ok(&["trace", "--help"]);
    assert!(help.contains("Examples:") && help.contains("gort trace trace.json"));
    assert_eq!(common::gort(&["trace"]).status.code(), Some(2));
}
