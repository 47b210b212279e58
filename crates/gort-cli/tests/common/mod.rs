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
