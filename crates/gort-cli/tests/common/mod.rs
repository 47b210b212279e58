//! Shared helpers for the integration tests: where the fixtures are,
//! and running the built `gort` binary.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// The Go 1.19 fixtures folder (`shared/fixtures/go1.19` beside the repo).
pub fn fixtures() -> PathBuf {
    let near = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/go1.19");
    if near.join("README.md").exists() {
        return near;
    }
    PathBuf::from("/work/shared/fixtures/go1.19")
}

/// Path of one fixture file, as a string.
pub fn fixture(name: &str) -> String {
    let p = fixtures().join(name);
    assert!(p.exists(), "fixture {} is missing", p.display());
    p.display().to_string()
}

/// Runs gort with arguments.
pub fn gort(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gort"))
        .args(args)
        .output()
        .expect("run gort")
}

/// Runs gort and returns stdout, asserting success.
pub fn gort_ok(args: &[&str]) -> String {
    let out = gort(args);
    assert!(
        out.status.success(),
        "gort {:?} failed: {}\n{}",
        args,
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Finds a Go tool: PATH first, then `$(go env GOPATH)/bin`.
pub fn find_go_tool(name: &str) -> Option<PathBuf> {
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    let gopath = Command::new("go").args(["env", "GOPATH"]).output().ok()?;
    let gopath = String::from_utf8_lossy(&gopath.stdout).trim().to_string();
    for dir in gopath.split(':').filter(|d| !d.is_empty()) {
        let p = PathBuf::from(dir).join("bin").join(name);
        if p.is_file() {
            return Some(p);
        }
    }
    None
}

/// The address-space bound the parsers must stay within for an input of
/// `n` bytes: 64 bytes per input byte plus 64 MiB (the binary's own
/// mappings, about 10 MiB, included).
pub fn memory_bound(n: usize) -> u64 {
    64 * n as u64 + (64 << 20)
}

/// Runs gort with `RLIMIT_AS` set to `limit` bytes (through `sh -c
/// 'ulimit -v'`), returning its output and how long it ran. An allocation
/// past the limit makes gort abort, which [`assert_bounded`] reports.
pub fn gort_limited(args: &[&std::ffi::OsStr], limit: u64) -> (Output, std::time::Duration) {
    let start = std::time::Instant::now();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {}; exec \"$0\" \"$@\"", limit / 1024))
        .arg(env!("CARGO_BIN_EXE_gort"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run gort under a memory limit");
    (out, start.elapsed())
}

/// Asserts gort finished by itself (exit 0, or 1 with a one-line error)
/// rather than being killed or aborting on a failed allocation.
pub fn assert_bounded(out: &Output, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{what}: gort ended with {} (memory limit hit?): {}",
        out.status,
        stderr.chars().take(500).collect::<String>()
    );
    if out.status.code() == Some(1) {
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("gort:")).collect();
        assert_eq!(errors.len(), 1, "{what}: want one error line, got {stderr}");
    }
}
