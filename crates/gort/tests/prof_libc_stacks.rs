//! CPU stacks through libc (issue 18 item 1): a syscall-bound program (one call of glibc's
//! `send` per byte, `gort-profile-check libc-send`) is profiled, and `go tool pprof -traces`
//! must show, for at least 90% of the time whose leaf is a libc system-call wrapper, the Rust
//! function that made the call as the wrapper's direct caller. glibc has no frame pointers and
//! its `__send` reuses `rbp`: before `alloc/cfi.rs` the walk ended at the wrapper (0% of the
//! time reached the caller). Skips (with a message) only when `go` is not on PATH.

use std::process::Command;

/// The libc wrappers a syscall-bound writer's samples land in.
fn is_libc_wrapper(f: &str) -> bool {
    let f = f.trim_end_matches(" (inline)");
    matches!(
        f,
        "syscall"
            | "send"
            | "sendto"
            | "write"
            | "writev"
            | "read"
            | "recv"
            | "recvfrom"
            | "__send"
            | "__write"
            | "__read"
    ) || f.starts_with("__libc_")
        || f.starts_with("__GI___libc_")
}

/// (leaf, frames) of each trace in `go tool pprof -traces` output, with its time in ms.
fn traces(text: &str) -> Vec<(f64, Vec<String>)> {
    let mut out = Vec::new();
    for block in text.split("-----------+-------------------------------------------------------") {
        let mut frames = Vec::new();
        let mut ms = None;
        for line in block.lines() {
            let t = line.trim();
            if t.is_empty() || t.contains(':') && !t.contains("::") && ms.is_none() {
                continue; // header lines and labels ("goroutine:  1")
            }
            if ms.is_none() {
                // "     250ms   syscall"
                let mut it = t.splitn(2, char::is_whitespace);
                let v = it.next().unwrap_or("");
                let Some(num) = v.strip_suffix("ms") else {
                    continue;
                };
                let (Ok(v), Some(f)) = (num.parse::<f64>(), it.next()) else {
                    continue;
                };
                ms = Some(v);
                frames.push(f.trim().to_string());
            } else {
                frames.push(t.to_string());
            }
        }
        if let Some(ms) = ms {
            out.push((ms, frames));
        }
    }
    out
}

#[test]
fn a_syscall_bound_programs_libc_leaves_keep_their_rust_callers() {
    if Command::new("go").arg("version").output().is_err() {
        eprintln!("skipped: no `go` on PATH to read the profile");
        return;
    }
    let dir = std::env::temp_dir().join(format!("gort-libc-stacks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cpu = dir.join("cpu.pprof");
    let out = Command::new(env!("CARGO_BIN_EXE_gort-profile-check"))
        .arg("libc-send")
        .env("GORT_CPUPROFILE", &cpu)
        .output()
        .expect("run gort-profile-check");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pp = Command::new("go")
        .args(["tool", "pprof", "-traces"])
        .arg(&cpu)
        .output()
        .expect("go tool pprof");
    let text = String::from_utf8_lossy(&pp.stdout).to_string();
    let _ = std::fs::remove_dir_all(&dir);
    let ts = traces(&text);
    let total: f64 = ts.iter().map(|t| t.0).sum();
    let libc: Vec<&(f64, Vec<String>)> = ts.iter().filter(|t| is_libc_wrapper(&t.1[0])).collect();
    let in_libc: f64 = libc.iter().map(|t| t.0).sum();
    let attributed: f64 = libc
        .iter()
        // The first frame past the libc ones is the function that called send.
        .filter(|t| {
            t.1.iter()
                .find(|f| !is_libc_wrapper(f))
                .is_some_and(|f| f.starts_with("gort_profile_check::libc_send_one"))
        })
        .map(|t| t.0)
        .sum();
    eprintln!(
        "{total} ms sampled, {in_libc} ms with a libc leaf, {attributed:.0} ms of it reaching \
         gort_profile_check::libc_send_one as the direct caller"
    );
    assert!(
        total > 0.0 && in_libc >= 0.3 * total,
        "the program should be bound by system calls:\n{text}"
    );
    assert!(
        attributed >= 0.9 * in_libc,
        "{attributed:.0} of {in_libc} ms in libc reach the calling Rust function:\n{text}"
    );
}
