//! Diagnostics and crash behaviour, each checked in a child process (the test binary re-run
//! with GORT_DIAG_CHILD naming the scenario).

use std::process::Command;
use std::time::Duration;

fn child(scenario: &str, env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env("GORT_DIAG_CHILD", scenario)
        .env("RUST_BACKTRACE", "0");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// Entry point of the child processes (a no-op in the parent run).
#[test]
fn child_entry() {
    let Ok(scenario) = std::env::var("GORT_DIAG_CHILD") else {
        return;
    };
    match scenario.as_str() {
        "overflow" => {
            let rt = gort::Builder::new()
                .gomaxprocs(1)
                .stack_size(64 * 1024)
                .build()
                .unwrap();
            rt.block_on(|| {
                #[allow(unconditional_recursion)]
                fn recurse(n: u64) -> u64 {
                    let buf = std::hint::black_box([n as u8; 1024]);
                    recurse(n + 1) + buf[0] as u64
                }
                gort::go(|| recurse(0)).join().ok();
            });
        }
        "schedtrace" => {
            let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
            rt.block_on(|| {
                let t = std::time::Instant::now();
                let hs: Vec<_> = (0..4)
                    .map(|_| {
                        gort::go(move || {
                            while t.elapsed() < Duration::from_millis(350) {
                                gort::yield_now();
                            }
                        })
                    })
                    .collect();
                for h in hs {
                    h.join().unwrap();
                }
            });
        }
        "sigquit" => {
            let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
            rt.block_on(|| {
                let _parked = gort::go(|| gort::block_forever());
                let _sleeper = gort::go(|| {
                    gort::blocking(|| std::thread::sleep(Duration::from_secs(30)));
                });
                // Wait until both are parked, so the dump shows their wait reasons.
                loop {
                    let d = gort::debug::goroutine_dump();
                    if d.contains("[select (no cases)]") && d.contains("[syscall]") {
                        break;
                    }
                    gort::yield_now();
                }
                // SAFETY: raising a signal at ourselves.
                unsafe { libc::raise(libc::SIGQUIT) };
                std::thread::sleep(Duration::from_secs(10));
            });
        }
        "hog" => {
            // A goroutine that never calls into the runtime for 100 ms on a 1-P runtime: sysmon
            // must notice the P stuck and count it (scheddetail's syscalltick).
            let rt = gort::Builder::new().gomaxprocs(1).build().unwrap();
            rt.block_on(|| {
                gort::go(|| {
                    let t = std::time::Instant::now();
                    while t.elapsed() < Duration::from_millis(100) {
                        std::hint::spin_loop();
                    }
                })
                .join()
                .unwrap();
                print!("{}", gort::debug::sched_summary(true));
            });
        }
        "idle" => {
            // An idle runtime (4 Ps, one goroutine parked forever) must not burn CPU: measure
            // this process's CPU time over 500 ms of idleness.
            let rt = gort::Builder::new()
                .gomaxprocs(4)
                .detect_deadlock(false)
                .build()
                .unwrap();
            let _parked = rt.go(|| gort::block_forever());
            rt.block_on(|| {
                (0..1000).map(|i| gort::go(move || i)).for_each(|h| {
                    h.join().unwrap();
                })
            });
            std::thread::sleep(Duration::from_millis(100)); // let spinning Ms settle
            let cpu = || {
                // SAFETY: rusage is plain old data; all-zero is a valid value.
                let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
                // SAFETY: getrusage fills the struct we pass.
                unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
                let t = |tv: libc::timeval| tv.tv_sec as f64 * 1e3 + tv.tv_usec as f64 / 1e3;
                t(ru.ru_utime) + t(ru.ru_stime)
            };
            let before = cpu();
            std::thread::sleep(Duration::from_millis(500));
            println!("idle_cpu_ms={:.3}", cpu() - before);
        }
        other => panic!("unknown scenario {other}"),
    }
}

#[test]
fn stack_overflow_in_a_goroutine_aborts_with_its_id() {
    let out = child("overflow", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{stderr}");
    assert!(stderr.contains("goroutine 2 stack overflow"), "{stderr}");
    assert!(stderr.contains("64 KiB"), "{stderr}");
}

#[test]
fn schedtrace_lines_match_go_format() {
    let out = child("schedtrace", &[("GODEBUG", "schedtrace=100")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("SCHED ")).collect();
    assert!(lines.len() >= 2, "{stderr}");
    // Go 1.19: SCHED 107ms: gomaxprocs=2 idleprocs=0 threads=6 spinningthreads=0 idlethreads=1 runqueue=24183 [178 171]
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/go1.19/schedtrace-skynet.txt"
    ))
    .or_else(|_| std::fs::read_to_string("/work/shared/fixtures/go1.19/schedtrace-skynet.txt"));
    let shape = |l: &str| -> Vec<String> {
        l.split_whitespace()
            .map(|w| {
                w.split('=')
                    .next()
                    .unwrap()
                    .trim_matches(|c: char| c.is_ascii_digit() || c == '[' || c == ']')
                    .to_string()
            })
            .collect()
    };
    for l in &lines {
        let mut f = l.split_whitespace();
        assert_eq!(f.next(), Some("SCHED"));
        let t = f.next().unwrap();
        assert!(
            t.ends_with("ms:") && t[..t.len() - 3].parse::<u64>().is_ok(),
            "{l}"
        );
        let keys: Vec<&str> = f
            .clone()
            .take(6)
            .map(|kv| kv.split('=').next().unwrap())
            .collect();
        assert_eq!(
            keys,
            [
                "gomaxprocs",
                "idleprocs",
                "threads",
                "spinningthreads",
                "idlethreads",
                "runqueue"
            ],
            "{l}"
        );
        assert!(l.contains("gomaxprocs=2 "), "{l}");
        let lens = &l[l.find('[').unwrap()..];
        assert!(
            lens.ends_with(']') && lens[1..lens.len() - 1].split(' ').count() == 2,
            "{l}"
        );
        if let Ok(fx) = &fixture {
            assert_eq!(shape(l), shape(fx.lines().next().unwrap()), "{l}");
        }
    }
}

#[test]
fn sigquit_dumps_goroutines_and_exits_2() {
    let out = child("sigquit", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("SIGQUIT: quit"), "{stderr}");
    assert!(stderr.contains("[select (no cases)]"), "{stderr}");
    assert!(stderr.contains("[syscall]"), "{stderr}");
    assert!(
        stderr.contains("created by gort.go in goroutine 1"),
        "{stderr}"
    );
    assert!(stderr.contains("tests/diagnostics.rs"), "{stderr}");
}

#[test]
fn sysmon_counts_a_p_stuck_on_a_hog() {
    let out = child("hog", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p0 = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("P0:"))
        .unwrap();
    let stalls: u64 = p0
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("syscalltick="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(stalls >= 1, "{stdout}");
}

#[test]
fn bad_gomaxprocs_in_environment_is_a_clear_error() {
    let exe = env!("CARGO_BIN_EXE_gort-env-check");
    let out = Command::new(exe)
        .env("GOMAXPROCS", "many")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("invalid GOMAXPROCS=\"many\": expected a positive integer"),
        "{stderr}"
    );
    let out = Command::new(exe)
        .env("GODEBUG", "schedtrace=soon")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("GODEBUG=schedtrace"));
    let out = Command::new(exe).env("GOMAXPROCS", "3").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().next(),
        Some("gomaxprocs=3")
    );
}

/// `stack_bytes=` of a check program's output.
fn stack_bytes(out: &std::process::Output) -> usize {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("stack_bytes="))
        .unwrap_or_else(|| panic!("{stdout}"))
        .parse()
        .unwrap()
}

#[test]
fn stack_size_from_environment_and_main_arguments() {
    let exe = env!("CARGO_BIN_EXE_gort-env-check");
    // The default, then GORT_STACK_SIZE (the guard page comes on top of the usable size).
    let out = Command::new(exe)
        .env_remove("GORT_STACK_SIZE")
        .output()
        .unwrap();
    assert!(out.status.success());
    let b = stack_bytes(&out);
    assert!(
        (gort::DEFAULT_STACK_SIZE..gort::DEFAULT_STACK_SIZE + (64 << 10)).contains(&b),
        "{b}"
    );
    for (v, want) in [("1MiB", 1 << 20), ("65536", 64 << 10), ("4096KiB", 4 << 20)] {
        let out = Command::new(exe)
            .env("GORT_STACK_SIZE", v)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let b = stack_bytes(&out);
        assert!(
            (want..want + (64 << 10)).contains(&b),
            "GORT_STACK_SIZE={v}: {b}"
        );
    }
    for (v, says) in [
        (
            "huge",
            "expected a byte count such as 1MiB or 262144 (suffixes B, KiB, MiB, GiB)",
        ),
        ("4KiB", "expected at least 16KiB"),
        ("8GiB", "expected at most 1GiB"),
    ] {
        let out = Command::new(exe)
            .env("GORT_STACK_SIZE", v)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "GORT_STACK_SIZE={v}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("gort: invalid GORT_STACK_SIZE={v:?}: {says}")),
            "{stderr}"
        );
    }
    // `#[gort::main(gomaxprocs = 3, stack_size = 512 * 1024)]` wins over the environment
    // (which is then not read: a bad value there is not an error, as for Builder::gomaxprocs).
    let exe = env!("CARGO_BIN_EXE_gort-main-args-check");
    let out = Command::new(exe)
        .env("GOMAXPROCS", "1")
        .env("GORT_STACK_SIZE", "huge")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("gomaxprocs=3"));
    let b = stack_bytes(&out);
    assert!(((512 << 10)..(576 << 10)).contains(&b), "{b}");
}

#[test]
fn an_idle_runtime_burns_no_cpu() {
    let out = child("idle", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ms: f64 = stdout
        .lines()
        .find_map(|l| l.split("idle_cpu_ms=").nth(1))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Generous: sysmon and the Ms must be asleep, not polling (a spinning M would use ~500 ms).
    assert!(ms < 25.0, "idle runtime used {ms} ms of CPU in 500 ms");
}

/// `gort-panic-check SCENARIO`: its stdout (line and goroutine numbers) and stderr.
fn panic_check(scenario: &str, backtrace: &str) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gort-panic-check"))
        .arg(scenario)
        .env("RUST_BACKTRACE", backtrace)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("DONE"), "{stdout}\n{stderr}");
    (stdout, stderr)
}

fn field(stdout: &str, name: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} in {stdout}"))
        .to_string()
}

/// A panic in a goroutine names it and its creation site (Go's `created by`); a panic on a
/// plain thread still gets std's text; RUST_BACKTRACE still prints a backtrace.
#[test]
fn goroutine_panics_name_the_goroutine() {
    const FILE: &str = "crates/gort/src/bin/gort-panic-check.rs";
    let (stdout, stderr) = panic_check("plain", "0");
    let (child, parent) = (field(&stdout, "CHILD"), field(&stdout, "PARENT"));
    let (panic_line, spawn_line) = (field(&stdout, "PANIC"), field(&stdout, "SPAWN"));
    let want = format!(
        "goroutine {child} panicked at {FILE}:{panic_line}:17:\nboom 7\n\
         created by gort.go in goroutine {parent}\n\t{FILE}:{spawn_line}\n\
         note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n"
    );
    assert!(stderr.starts_with(&want), "want:\n{want}\ngot:\n{stderr}");
    assert!(!stderr.contains("thread 'gort-p"), "{stderr}");
    assert!(
        stderr.contains("thread 'plain' panicked at") || stderr.contains("thread 'plain' ("),
        "other panics go to std's hook: {stderr}"
    );
    assert!(stderr.contains("on a plain thread"), "{stderr}");

    let (_, stderr) = panic_check("plain", "1");
    assert!(
        stderr.contains(&format!("goroutine {child} panicked at {FILE}:")),
        "{stderr}"
    );
    assert!(stderr.contains("boom 7\ncreated by gort.go"), "{stderr}");
    assert!(stderr.contains("stack backtrace:\n"), "{stderr}");
    assert!(!stderr.contains("note: run with"), "{stderr}");
    // std's short style: the goroutine's own frames, not the hook's or the scheduler's.
    let ours = &stderr[..stderr.find("thread 'plain'").unwrap_or(stderr.len())];
    assert!(ours.contains("gort_panic_check::main::"), "{ours}");
    assert!(
        !ours.contains("panic_hook") && !ours.contains("corosensei"),
        "{ours}"
    );
    assert!(ours.contains("RUST_BACKTRACE=full"), "{ours}");

    let (_, stderr) = panic_check("plain", "full");
    let ours = &stderr[..stderr.find("thread 'plain'").unwrap_or(stderr.len())];
    assert!(
        ours.contains("gort_panic_check::main::") && ours.contains("corosensei"),
        "{ours}"
    );
}

/// A hook installed before the first runtime keeps the panics outside goroutines; one
/// installed after replaces gort's (std::panic::set_hook's contract).
#[test]
fn user_panic_hooks_are_kept() {
    let (stdout, stderr) = panic_check("hook-before", "0");
    let child = field(&stdout, "CHILD");
    assert!(
        stderr.contains(&format!("goroutine {child} panicked at ")),
        "{stderr}"
    );
    assert!(stderr.contains("user hook (installed before)"), "{stderr}");
    assert!(!stderr.contains("thread 'plain'"), "{stderr}");

    let (_, stderr) = panic_check("hook-after", "0");
    assert_eq!(
        stderr, "user hook (installed after)\nuser hook (installed after)\n",
        "the user's hook sees both panics"
    );
}

/// `GODEBUG=tracebackancestors=2`: a goroutine's dump record goes on with its creator's and
/// its creator's creator's creation sites, as Go prints them, and no further; off, none.
#[test]
fn tracebackancestors_shows_the_creation_chain() {
    use std::sync::{Arc, Mutex};
    let run = |godebug: &str| {
        let rt = gort::Builder::new()
            .gomaxprocs(1)
            .godebug(godebug)
            .unwrap()
            .build()
            .unwrap();
        rt.block_on(|| {
            // ids: [root, a, b, c]; lines: the `go` calls creating a, b, c.
            let ids = Arc::new(Mutex::new(vec![gort::goid()]));
            let lines = Arc::new(Mutex::new(Vec::new()));
            let (i2, l2) = (ids.clone(), lines.clone());
            let (la, _a) = go_at(move || {
                i2.lock().unwrap().push(gort::goid());
                let (i3, l3) = (i2.clone(), l2.clone());
                let (lb, _b) = go_at(move || {
                    i3.lock().unwrap().push(gort::goid());
                    let i4 = i3.clone();
                    let (lc, _c) = go_at(move || {
                        i4.lock().unwrap().push(gort::goid());
                        gort::block_forever()
                    });
                    l3.lock().unwrap().push(lc);
                });
                l2.lock().unwrap().push(lb);
            });
            lines.lock().unwrap().push(la);
            loop {
                let d = gort::debug::goroutine_dump();
                let ids = ids.lock().unwrap().clone();
                if ids.len() == 4
                    && lines.lock().unwrap().len() == 3
                    && d.contains(&format!("goroutine {} [select (no cases)]", ids[3]))
                {
                    let mut l = lines.lock().unwrap().clone();
                    l.sort(); // la < lb < lc
                    break (d, ids, l);
                }
                gort::yield_now();
            }
        })
    };
    let (d, ids, l) = run("tracebackancestors=2");
    let (r, a, b, c) = (ids[0], ids[1], ids[2], ids[3]);
    let file = "tests/diagnostics.rs";
    let rec = d
        .split("\n\n")
        .find(|r| r.starts_with(&format!("goroutine {c} [")))
        .expect("c's record");
    let at = |n: u32| format!("\t{}:{n}", file_in(rec, file));
    let want = [
        format!("created by gort.go in goroutine {b}"),
        at(l[2]),
        format!("[originating from goroutine {b}]:"),
        "gort.go(...)".into(),
        at(l[2]),
        format!("created by gort.go in goroutine {a}"),
        at(l[1]),
        format!("[originating from goroutine {a}]:"),
        "gort.go(...)".into(),
        at(l[1]),
        format!("created by gort.go in goroutine {r}"),
        at(l[0]),
    ]
    .join("\n");
    assert!(rec.contains(&want), "want:\n{want}\nin:\n{rec}");
    assert!(
        !rec.contains(&format!("[originating from goroutine {r}]")),
        "at most 2 ancestors:\n{rec}"
    );

    let (d, _, _) = run("tracebackancestors=0");
    assert!(!d.contains("[originating from"), "{d}");
}

/// `gort::go(f)` and the line of the caller's call, which is the creation site the dump
/// prints (`go` is `#[track_caller]`, and so is this).
#[track_caller]
fn go_at<F: FnOnce() + Send + 'static>(f: F) -> (u32, gort::JoinHandle<()>) {
    (std::panic::Location::caller().line(), gort::go(f))
}

/// The path the dump prints for `suffix` (Location paths are relative to the workspace or
/// to the crate, depending on how cargo was invoked).
fn file_in(rec: &str, suffix: &str) -> String {
    rec.lines()
        .filter_map(|l| l.strip_prefix('\t'))
        .filter_map(|l| l.rsplit_once(':').map(|(f, _)| f))
        .find(|f| f.ends_with(suffix))
        .expect("a frame in this file")
        .to_string()
}
