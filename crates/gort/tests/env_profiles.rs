//! The playbook on any gort program (issue 18 item 3): a plain `#[gort::main]` binary writes a
//! CPU profile, a heap profile and an execution trace when `GORT_CPUPROFILE`,
//! `GORT_MEMPROFILE` and `GORT_TRACE` name files; nothing when they are unset.

use std::path::PathBuf;
use std::process::Command;

/// A fresh empty directory under the system's temp dir.
fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gort-env-profiles-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn a_plain_main_program_writes_its_profiles_from_the_environment() {
    let dir = temp_dir("files");
    let (cpu, mem, trace) = (
        dir.join("cpu.pprof"),
        dir.join("mem.pprof"),
        dir.join("trace.json"),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_gort-profile-check"))
        .env("GORT_CPUPROFILE", &cpu)
        .env("GORT_MEMPROFILE", &mem)
        .env("GORT_TRACE", &trace)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("done"));
    for p in [&cpu, &mem] {
        let b = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(
            b.len() > 20 && b[..2] == [0x1f, 0x8b],
            "{}: not a gzipped pprof",
            p.display()
        );
    }
    let t = std::fs::read_to_string(&trace).unwrap();
    assert!(t.len() > 100, "trace: {t}");
    // Unset: no file, no message.
    let quiet = temp_dir("quiet");
    let out = Command::new(env!("CARGO_BIN_EXE_gort-profile-check"))
        .current_dir(&quiet)
        .env_remove("GORT_CPUPROFILE")
        .env_remove("GORT_MEMPROFILE")
        .env_remove("GORT_TRACE")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(std::fs::read_dir(&quiet).unwrap().next().is_none());
    let _ = std::fs::remove_dir_all(&quiet);
    let _ = std::fs::remove_dir_all(&dir);
    // A file that cannot be created is one line on stderr, and the program runs on.
    let out = Command::new(env!("CARGO_BIN_EXE_gort-profile-check"))
        .env("GORT_CPUPROFILE", "/nonexistent-dir/cpu.pprof")
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("gort: GORT_CPUPROFILE=/nonexistent-dir/cpu.pprof:"),
        "{err}"
    );
}
