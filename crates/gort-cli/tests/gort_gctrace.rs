//! `gort gctrace` reads the gctrace lines the gort GC heap prints (`GODEBUG=gctrace=1`), as it
//! reads Go's: the lines come from this test binary re-run as a child process.

use std::process::Command;

use gort::gc::{Gc, Trace};

#[derive(Trace)]
struct Node {
    next: Option<Gc<Node>>,
    #[gc(skip)]
    _pad: [u64; 6],
}

const CHILD: &str = "GORT_CLI_GCTRACE_CHILD";

/// The child's work: enough allocation for a few paced cycles, then one forced cycle.
fn allocate_and_collect() {
    let mut keep = None;
    for i in 0..300_000u64 {
        let n = Gc::new(Node {
            next: None,
            _pad: [i; 6],
        });
        if i % 500 == 0 {
            keep = Some(Gc::new(Node {
                next: keep.take(),
                _pad: [0; 6],
            }));
        }
        drop(n);
    }
    gort::gc();
    drop(keep);
}

#[test]
fn gctrace_reads_lines_gort_wrote() {
    if std::env::var_os(CHILD).is_some() {
        allocate_and_collect();
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "gctrace_reads_lines_gort_wrote",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env("GODEBUG", "gctrace=1")
        .output()
        .unwrap();
    assert!(out.status.success(), "child failed: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("gc ")).collect();
    assert!(lines.len() >= 2, "too few gctrace lines:\n{stderr}");
    assert!(lines.last().unwrap().ends_with("(forced)"), "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("gctrace.txt");
    std::fs::write(&log, &stderr).unwrap();
    let report = Command::new(env!("CARGO_BIN_EXE_gort"))
        .arg("gctrace")
        .arg(&log)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&report.stdout).into_owned();
    assert!(
        report.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&report.stderr)
    );
    assert!(
        text.contains(&format!("GC cycles: {} (1 forced)", lines.len())),
        "the report counts every line gort wrote ({}):\n{text}",
        lines.len()
    );
    assert!(text.contains("STW pauses"), "{text}");
}
