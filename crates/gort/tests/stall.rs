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
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gort-stall-check"));
    cmd.arg(mode).env("GODEBUG", godebug);
    first_report_of(cmd, limit)
}

/// [`first_report`] for any command.
fn first_report_of(mut cmd: Command, limit: Duration) -> (Vec<String>, Duration) {
    let mut child = cmd
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
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gort-stall-check"));
    cmd.arg("mutex");
    let at = format!("gort-stall-check.rs:{}", line_of("STALL-LINE"));
    let report = futex_stall_named_within_two_seconds(cmd, &at);
    assert!(report.contains("has blocked P0's thread"), "{report}");
}

/// Runs `cmd` and returns its first stall report, checked to come within 2 s, to name a
/// futex wait at `at`, and to count the goroutines that cannot run.
fn futex_stall_named_within_two_seconds(cmd: Command, at: &str) -> String {
    let (lines, took) = first_report_of(cmd, Duration::from_secs(10));
    let report = lines
        .iter()
        .find(|l| l.contains("has blocked"))
        .unwrap_or_else(|| panic!("no stall report within 10 s; stderr: {lines:#?}"))
        .clone();
    assert!(
        took < Duration::from_secs(2),
        "report after {took:?}: {report}"
    );
    assert!(report.contains("futex wait"), "{report}");
    assert!(report.contains(at), "expected {at} in: {report}");
    assert!(report.contains("cannot run"), "{report}");
    report
}

/// The child of [`a_crossbeam_recv_that_blocks_the_p_is_named_within_two_seconds`] (this
/// test binary run again with `GORT_STALL_CHILD` set; crossbeam is a dev-dependency, which
/// the helper binary cannot use): a `crossbeam_channel` receive in a goroutine whose sender
/// is a goroutine of the same P, parked on a timer: the receive blocks the thread the sender
/// needs, for ever. Does nothing in a normal run.
#[test]
fn crossbeam_recv_child() {
    if std::env::var_os("GORT_STALL_CHILD").is_none() {
        return;
    }
    let rt = gort::Builder::new().gomaxprocs(1).build().unwrap();
    rt.block_on(|| {
        let (tx, rx) = crossbeam_channel::bounded::<u32>(0);
        let b = gort::go(move || {
            gort::time::sleep(Duration::from_millis(20));
            tx.send(1).unwrap();
        });
        gort::yield_now(); // the sender starts and parks on the P's timer heap
        let a = gort::go(move || rx.recv().unwrap()); // CROSSBEAM-LINE
        a.join().unwrap();
        b.join().unwrap();
    });
}

#[test]
fn a_crossbeam_recv_that_blocks_the_p_is_named_within_two_seconds() {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "crossbeam_recv_child",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("GORT_STALL_CHILD", "1");
    let src = include_str!("stall.rs");
    let line = src
        .lines()
        .position(|l| l.contains("// CROSSBEAM-LINE"))
        .unwrap()
        + 1;
    futex_stall_named_within_two_seconds(cmd, &format!("stall.rs:{line}"));
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

/// Runs the helper to its exit (killed after `limit`): (exit success, stdout, stderr).
fn run_to_end(args: &[&str], godebug: &str, limit: Duration) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gort-stall-check"))
        .args(args)
        .env("GODEBUG", godebug)
        .env_remove("RUST_BACKTRACE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = child.wait_with_output().unwrap();
    (
        status.is_some_and(|s| s.success()),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The value after `key` on the line that starts with it.
fn field<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key:?} line in:\n{text}"))
        .trim()
}

#[test]
fn stall_is_error_makes_try_block_on_return_the_report() {
    let (ok, out, err) = run_to_end(&["error"], "", Duration::from_secs(20));
    eprintln!("--- stdout:\n{out}\n--- stderr:\n{err}");
    assert!(ok, "the helper did not exit cleanly");
    let took: u64 = field(&out, "STALL-ERROR after ")
        .trim_end_matches(" ms")
        .parse()
        .unwrap();
    // The default stalldump threshold is 1000 ms.
    assert!((1000..2000).contains(&took), "Err(Stall) after {took} ms");
    let report = out
        .split_once("STALL-ERROR")
        .unwrap()
        .1
        .split_once("\nAGAIN:")
        .unwrap()
        .0;
    assert!(report.contains("has blocked P0's thread"), "{report}");
    assert!(report.contains("futex wait"), "{report}");
    let at = format!("gort-stall-check.rs:{}", line_of("STALL-LINE"));
    assert!(report.contains(&at), "expected {at} in: {report}");
    // The goroutine list, as a deadlock report has it: the holder parked in its sleep, the
    // culprit created at its `go` line.
    assert!(report.contains("goroutines of the runtime:"), "{report}");
    assert!(
        report.contains("[running, blocking P0's thread]:\ngort.stall(futex wait)"),
        "{report}"
    );
    assert!(report.contains("[sleep]"), "{report}");
    let created = format!("gort-stall-check.rs:{}", line_of("GO-STALL"));
    assert!(report.contains(&created), "expected {created} in: {report}");
    assert_eq!(
        field(&out, "AGAIN:"),
        "true",
        "a poisoned runtime repeats the error"
    );
    let dropped: u64 = field(&out, "DROPPED in ")
        .trim_end_matches(" ms")
        .parse()
        .unwrap();
    assert!(
        dropped < 3000,
        "dropping the stalled runtime took {dropped} ms"
    );
    assert_eq!(
        field(&out, "AFTER:"),
        "42",
        "a new runtime runs after the stalled one"
    );
}

#[test]
fn the_stall_profile_and_counters_list_each_episode() {
    let file = std::env::temp_dir().join(format!("gort-stall-{}.pprof", std::process::id()));
    let (ok, out, err) = run_to_end(
        &["profile", file.to_str().unwrap()],
        "",
        Duration::from_secs(30),
    );
    eprintln!("--- stdout:\n{out}\n--- stderr:\n{err}");
    assert!(ok, "the helper failed");
    // Two reports on stderr, one per episode.
    assert_eq!(err.matches("has blocked P0's thread").count(), 2, "{err}");
    // The counter, and schedtrace's trailing field only once it is non-zero.
    assert_eq!(field(&out, "NUM-BEFORE:"), "0");
    assert_eq!(field(&out, "NUM:"), "2");
    assert_eq!(field(&out, "RUNTIME-NUM:"), "2");
    let before = field(&out, "BEFORE:");
    assert!(
        before.starts_with("SCHED ") && before.ends_with(']'),
        "{before}"
    );
    let after = field(&out, "AFTER:");
    assert!(after.ends_with("] stalls=2"), "{after}");
    // The profile's text: a futex group (the 400 ms one) and a CPU group.
    let text = out.split_once("stall profile:").map(|(_, t)| t).unwrap();
    let header = text.lines().next().unwrap();
    assert!(header.starts_with(" total 2 ("), "{header}");
    let groups: Vec<&str> = text.split("\n\n").filter(|g| g.contains('@')).collect();
    assert_eq!(groups.len(), 2, "{text}");
    let futex = groups
        .iter()
        .copied()
        .find(|g| g.contains("#\tgort.stall(futex wait)"))
        .unwrap_or_else(|| panic!("no futex group in {text}"));
    let cpu = groups
        .iter()
        .copied()
        .find(|g| g.contains("#\tgort.stall(cpu)"))
        .unwrap_or_else(|| panic!("no cpu group in {text}"));
    let values = |g: &str| -> (u64, u64) {
        let l = g.lines().find(|l| l.contains(" @ ")).unwrap();
        let mut v = l.split_whitespace().map(|x| x.parse::<u64>().unwrap_or(0));
        (v.next().unwrap(), v.next().unwrap())
    };
    let (n, ns) = values(futex);
    assert_eq!(n, 1, "{futex}");
    assert!(
        (300_000_000..2_000_000_000).contains(&ns),
        "futex stall of {ns} ns: {futex}"
    );
    let (n, ns) = values(cpu);
    assert_eq!(n, 1, "{cpu}");
    assert!(
        (200_000_000..2_000_000_000).contains(&ns),
        "cpu stall of {ns} ns: {cpu}"
    );
    // Culprit frames and creation sites.
    let at = format!("gort-stall-check.rs:{}", line_of("FUTEX-LINE"));
    assert!(
        futex.contains("lock_held_elsewhere") && futex.contains(&at),
        "{futex}"
    );
    let created = format!("gort-stall-check.rs:{}", line_of("GO-FUTEX"));
    assert!(
        futex.contains("#\tgort.go\t") && futex.contains(&created),
        "{futex}"
    );
    let created = format!("gort-stall-check.rs:{}", line_of("GO-HOG"));
    assert!(cpu.contains(&created), "{cpu}");
    assert!(cpu.contains("hog"), "{cpu}");
    // The protobuf: gzip, and (where Go is installed) `go tool pprof` reads it.
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "not gzip");
    match Command::new("go")
        .args(["tool", "pprof", "-top", "-sample_index=stalled"])
        .arg(&file)
        .output()
    {
        Ok(o) if o.status.success() => {
            let top = String::from_utf8_lossy(&o.stdout);
            eprintln!("go tool pprof -top:\n{top}");
            for f in [
                "gort.stall(futex wait)",
                "gort.stall(cpu)",
                "lock_held_elsewhere",
            ] {
                assert!(top.contains(f), "no {f} in:\n{top}");
            }
            assert!(top.contains("Type: stalled"), "{top}");
        }
        Ok(o) => panic!(
            "go tool pprof failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(_) => eprintln!("SKIP go tool pprof: `go` is not on PATH"),
    }
    let _ = std::fs::remove_file(&file);
}
