//! Running a benchmark command with profiling and GC tracing on.
//!
//! `go test` gets `-cpuprofile`, `-memprofile` and `-benchmem` right after
//! `test`; any other command (a gort benchmark binary, `cargo bench`, or any gort
//! program) gets `GORT_CPUPROFILE` and `GORT_MEMPROFILE` in its environment, which
//! every `#[gort::main]` program and gort's bench harness honour, so no flag reaches a
//! program that does not parse flags. Both run with
//! `GODEBUG=gctrace=1` added to any GODEBUG already set. The child's
//! stdout and stderr are passed through line by line and also kept, so
//! benchmark lines and gctrace lines can be analysed afterwards; a
//! spinner on stderr (only on a terminal) shows progress.

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a run produced.
pub struct RunOutput {
    pub cpu: PathBuf,
    pub mem: PathBuf,
    pub stdout: String,
    pub stderr: String,
    pub status: std::process::ExitStatus,
}

/// Builds the argv with profiling flags for `cmd`.
pub fn instrument(cmd: &[String], cpu: &Path, mem: &Path) -> Vec<String> {
    let mut argv: Vec<String> = cmd.to_vec();
    if is_go_test(cmd) {
        let mut extra = vec![
            format!("-cpuprofile={}", cpu.display()),
            format!("-memprofile={}", mem.display()),
        ];
        if !cmd.iter().any(|a| a == "-benchmem" || a == "--benchmem") {
            extra.push("-benchmem".into());
        }
        argv.splice(2..2, extra);
    }
    argv
}

/// Whether `cmd` is `go test` (profiled by flags); anything else is profiled through the
/// environment (`profile_env`).
fn is_go_test(cmd: &[String]) -> bool {
    cmd.first()
        .map(|c| Path::new(c).file_name().is_some_and(|n| n == "go"))
        .unwrap_or(false)
        && cmd.get(1).map(String::as_str) == Some("test")
}

/// The environment that makes a gort program (or benchmark binary) write its profiles.
pub fn profile_env(cmd: &[String], cpu: &Path, mem: &Path) -> Vec<(&'static str, String)> {
    if is_go_test(cmd) {
        return Vec::new();
    }
    vec![
        ("GORT_CPUPROFILE", cpu.display().to_string()),
        ("GORT_MEMPROFILE", mem.display().to_string()),
    ]
}

/// GODEBUG with gctrace=1 added.
pub fn godebug(existing: Option<&str>) -> String {
    match existing {
        Some(e) if !e.is_empty() => format!("{e},gctrace=1"),
        _ => "gctrace=1".into(),
    }
}

/// Runs the command in `dir`'s files and passes its output through.
pub fn run(cmd: &[String], dir: &Path) -> Result<RunOutput> {
    let cpu = dir.join("cpu.pprof");
    let mem = dir.join("mem.pprof");
    let argv = instrument(cmd, &cpu, &mem);
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .env("GODEBUG", godebug(std::env::var("GODEBUG").ok().as_deref()))
        .envs(profile_env(cmd, &cpu, &mem))
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", argv[0]))?;
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.set_message(format!("gort doctor: running {}", argv.join(" ")));
    pb.enable_steady_tick(Duration::from_millis(120));
    let counts = Arc::new(Mutex::new((0usize, 0usize)));
    let pump = |stream: Box<dyn std::io::Read + Send>, is_out: bool| {
        let pb = pb.clone();
        let counts = counts.clone();
        std::thread::spawn(move || {
            let mut kept = String::new();
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                pb.suspend(|| {
                    if is_out {
                        let mut o = std::io::stdout().lock();
                        let _ = writeln!(o, "{line}");
                        let _ = o.flush();
                    } else {
                        eprintln!("{line}");
                    }
                });
                if let Ok(mut c) = counts.lock() {
                    if crate::benchfmt::result_line(&line).is_some() {
                        c.0 += 1;
                    }
                    if line.contains("gc ") && line.contains(" ms clock") {
                        c.1 += 1;
                    }
                    pb.set_message(format!(
                        "gort doctor: {} benchmark results, {} GC cycles so far",
                        c.0, c.1
                    ));
                }
                kept.push_str(&line);
                kept.push('\n');
            }
            kept
        })
    };
    let out_h = pump(
        Box::new(child.stdout.take().context("no stdout pipe")?),
        true,
    );
    let err_h = pump(
        Box::new(child.stderr.take().context("no stderr pipe")?),
        false,
    );
    let status = child.wait().context("waiting for the command")?;
    let stdout = out_h.join().unwrap_or_default();
    let stderr = err_h.join().unwrap_or_default();
    pb.finish_and_clear();
    if !cpu.exists() && !status.success() {
        bail!("{} failed ({status}) and wrote no CPU profile", argv[0]);
    }
    Ok(RunOutput {
        cpu,
        mem,
        stdout,
        stderr,
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_test_gets_flags_after_test() {
        let cmd: Vec<String> = ["go", "test", "-bench", "."]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let a = instrument(&cmd, Path::new("/t/c"), Path::new("/t/m"));
        assert_eq!(a[2], "-cpuprofile=/t/c");
        assert_eq!(a[3], "-memprofile=/t/m");
        assert_eq!(a[4], "-benchmem");
        assert_eq!(a[5], "-bench");
        assert!(profile_env(&cmd, Path::new("c"), Path::new("m")).is_empty());
        // Anything else: no flags (a plain program parses none), the environment instead.
        let other: Vec<String> = vec!["./prog".into()];
        let b = instrument(&other, Path::new("c"), Path::new("m"));
        assert_eq!(b, vec!["./prog"]);
        assert_eq!(
            profile_env(&other, Path::new("c"), Path::new("m")),
            vec![
                ("GORT_CPUPROFILE", "c".to_string()),
                ("GORT_MEMPROFILE", "m".to_string())
            ]
        );
        assert_eq!(godebug(Some("x=1")), "x=1,gctrace=1");
    }
}
