//! Stall reports (issue 16 item 2): a goroutine that blocks its P's thread is named, with
//! where and for how long, instead of a silent hang. Subprocesses (`gort-stall-check`).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Line number of the source line of the helper that carries `marker`.
fn line_of(marker: &str) -> usize {
    let src = include_str!("../src/bin/gort-stall-check.rs");
    src.lines()
        .position(|l| l.contains(marker))
        .expect("marker")
        + 1
}

/// Runs the helper in `mode` and returns its stderr lines up to the first stall report (or
/// what came before `limit`), killing it then.
fn first_report(mode: &str, godebug: &str, limit: Duration) -> (Vec<String>, Duration) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gort-stall-check"))
        .arg(mode)
        .env("GODEBUG", godebug)
        .env_remove("RUST_BACKTRACE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                return;
            }
        }
    });
    let t0 = Instant::now();
    let mut lines = Vec::new();
    while let Ok(l) = rx.recv_timeout(limit.saturating_sub(t0.elapsed())) {
        let done = l.contains("has blocked");
        lines.push(l);
        if done {
            break;
        }
    }
    let took = t0.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    (lines, took)
}

#[test]
fn a_std_mutex_that_blocks_the_p_is_named_within_two_seconds() {
    let (lines, took) = first_report("mutex", "", Duration::from_secs(10));
    let report = lines
        .iter()
        .find(|l| l.contains("has blocked"))
        .unwrap_or_else(|| panic!("no stall report within 10 s; stderr: {lines:#?}"));
    assert!(
        took < Duration::from_secs(2),
        "report after {took:?}: {report}"
    );
    assert!(report.contains("has blocked P0's thread"), "{report}");
    assert!(report.contains("futex wait"), "{report}");
    let at = format!("gort-stall-check.rs:{}", line_of("STALL-LINE"));
    assert!(report.contains(&at), "expected {at} in: {report}");
    assert!(report.contains("cannot run"), "{report}");
}

#[test]
fn a_cpu_hog_is_named_and_the_knob_silences_it() {
    let (lines, _) = first_report("hog", "", Duration::from_secs(10));
    let report = lines
        .iter()
        .find(|l| l.contains("has blocked"))
        .unwrap_or_else(|| panic!("no stall report; stderr: {lines:#?}"));
    assert!(report.contains("running"), "{report}");
    // The interrupted instruction is somewhere in the loop: its `while` line or its body.
    let lines_of_loop: Vec<String> = (line_of("HOG-LOOP") - 1..=line_of("HOG-LINE"))
        .map(|l| format!("gort-stall-check.rs:{l} "))
        .collect();
    assert!(
        lines_of_loop.iter().any(|at| report.contains(at.as_str())),
        "expected one of {lines_of_loop:?} in: {report}"
    );
    let (quiet, _) = first_report("hog", "stalltrace=0", Duration::from_secs(3));
    assert!(
        !quiet.iter().any(|l| l.contains("has blocked")),
        "stalltrace=0 still reported: {quiet:#?}"
    );
}
