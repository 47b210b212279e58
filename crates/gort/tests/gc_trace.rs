//! `GODEBUG=gctrace=1` prints Go's line (checked in a child process), and bad GOGC /
//! GOMEMLIMIT values are refused with clear errors.

use std::process::Command;

use gort::gc::{self, Gc, Trace};

#[derive(Trace)]
struct Blob {
    next: Option<Gc<Blob>>,
    #[gc(skip)]
    _pad: [u64; 4],
}

fn child(test: &str, env: &[(&str, &str)]) -> std::process::Output {
    let mut c = Command::new(std::env::current_exe().unwrap());
    // The children measure the collector's own output and pacing: a parent's torture or
    // checkmark settings (CI runs some suites under them) would make them take hours.
    c.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env("GC_TRACE_CHILD", "1")
        .env_remove("GODEBUG")
        .env_remove("GOGC")
        .env_remove("GOMEMLIMIT");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// Run by `gctrace_prints_go_lines` in a child process.
#[test]
fn child_allocates_and_forces() {
    if std::env::var_os("GC_TRACE_CHILD").is_none() {
        return;
    }
    let mut keep = None;
    for i in 0..200_000 {
        let b = Gc::new(Blob {
            next: None,
            _pad: [i; 4],
        });
        if i % 1000 == 0 {
            keep = Some(Gc::new(Blob {
                next: keep.take(),
                _pad: [0; 4],
            }));
        }
        drop(b);
    }
    gc::gc();
    assert!(keep.is_some());
}

#[test]
fn gctrace_prints_go_lines() {
    let out = child("child_allocates_and_forces", &[("GODEBUG", "gctrace=1")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let re = regex_lite(&err);
    assert!(re.0 >= 2, "expected several cycles:\n{err}");
    assert!(re.1, "the last line should be forced:\n{err}");
}

/// gctrace into a pipe whose reader is gone (`prog 2>&1 | head -3`): the collector's writes fail
/// and are ignored, and the program finishes. `eprintln!` there panicked the collector thread
/// mid-cycle, and the allocating thread then assisted forever without a word.
#[test]
fn gctrace_into_a_closed_pipe_does_not_hang() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "child_allocates_and_forces",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("GC_TRACE_CHILD", "1")
    .env("GODEBUG", "gctrace=1")
    .env_remove("GOGC")
    .env_remove("GOMEMLIMIT")
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    let mut ch = c.spawn().unwrap();
    drop(ch.stderr.take()); // the reader goes away before the first gctrace line
    let t = Instant::now();
    let status = loop {
        if let Some(st) = ch.try_wait().unwrap() {
            break st;
        }
        if t.elapsed() > Duration::from_secs(120) {
            ch.kill().unwrap();
            panic!("the child still runs after 120 s with its stderr closed: hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "the child failed: {status}");
}

/// Run by `gctrace_2_repeats_each_collection`: forced cycles while another thread builds and
/// checks lists (so the repeated, stop-the-world mark runs against a heap that changed during
/// the concurrent one); every kept object must survive both marks.
#[test]
fn child_repeats() {
    if std::env::var_os("GC_TRACE_CHILD").is_none() {
        return;
    }
    fn list(n: u64) -> Option<Gc<Blob>> {
        let mut head = None;
        for i in 0..n {
            head = Some(Gc::new(Blob {
                next: head.take(),
                _pad: [i; 4],
            }));
        }
        head
    }
    fn check(head: &Option<Gc<Blob>>, n: u64) {
        let mut at = head.clone();
        for i in (0..n).rev() {
            let b = at.expect("a kept object was freed");
            assert_eq!(b._pad, [i; 4], "a kept object was overwritten");
            at = b.next.clone();
        }
        assert!(at.is_none());
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = stop.clone();
    let busy = std::thread::spawn(move || {
        while !s2.load(std::sync::atomic::Ordering::Relaxed) {
            let l = list(2000);
            drop(list(2000)); // garbage, some of it allocated black during a mark
            check(&l, 2000);
        }
    });
    let keep = list(5000);
    for _ in 0..5 {
        drop(list(20_000));
        gc::gc();
        check(&keep, 5000);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    busy.join().unwrap();
    gc::gc();
    check(&keep, 5000);
    println!(
        "num_gc={} repeated={}",
        gc::num_gc(),
        gc::repeated_collections()
    );
}

/// `GODEBUG=gctrace=2` prints the same line per cycle and repeats each collection (Go's
/// runtime documentation: "Setting gctrace=2 emits the same summary but also repeats each
/// collection"); `gctrace=1` repeats none.
#[test]
fn gctrace_2_repeats_each_collection() {
    for level in ["2", "1"] {
        let out = child("child_repeats", &[("GODEBUG", &format!("gctrace={level}"))]);
        let err = String::from_utf8_lossy(&out.stderr);
        let so = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "gctrace={level}:\n{so}\n{err}");
        let (lines, forced) = regex_lite(&err);
        assert!(forced, "{err}");
        let counts = so
            .lines()
            .find_map(|l| l.split_once("num_gc=").map(|(_, c)| c))
            .expect("the child's counts");
        let (n, repeated) = counts.split_once(" repeated=").unwrap();
        let (n, repeated): (usize, usize) = (n.parse().unwrap(), repeated.parse().unwrap());
        assert!(n >= 6, "{so}");
        assert_eq!(lines, n, "one line per cycle:\n{err}");
        let want = if level == "2" { n } else { 0 };
        assert_eq!(repeated, want, "gctrace={level}:\n{so}");
    }
}

#[derive(Trace)]
struct Traced {
    next: Option<Gc<Traced>>,
    #[gc(skip)]
    _v: [u64; 3],
}

/// Run by `allocfreetrace_records_each_allocation_and_free`: 100 objects of a known type,
/// dropped, then a forced cycle.
#[test]
fn child_allocfreetrace() {
    if std::env::var_os("GC_TRACE_CHILD").is_none() {
        return;
    }
    let objs: Vec<Gc<Traced>> = (0..100)
        .map(|i| {
            Gc::new(Traced {
                next: None,
                _v: [i; 3],
            })
        })
        .collect();
    drop(objs);
    gc::gc();
}

/// (address, size, type) of a tracealloc record.
type AllocRecord = (String, String, String);

/// Go's tracealloc/tracefree records: `tracealloc(0xADDR, 0xSIZE, TYPE)` and
/// `tracefree(0xADDR, 0xSIZE)`, each followed by `goroutine N [running]:`, a short stack and a
/// blank line.
fn trace_records(text: &str) -> (Vec<AllocRecord>, Vec<(String, String)>) {
    let (mut allocs, mut frees) = (Vec::new(), Vec::new());
    for rec in text.split("\n\n") {
        let mut lines = rec.lines().skip_while(|l| !l.starts_with("trace"));
        let Some(head) = lines.next() else { continue };
        let header = lines.next().unwrap_or("");
        assert!(
            header.starts_with("goroutine ") && header.ends_with(" [running]:"),
            "{rec}"
        );
        if let Some(args) = head.strip_prefix("tracealloc(") {
            let v: Vec<&str> = args.trim_end_matches(')').split(", ").collect();
            assert_eq!(v.len(), 3, "{head}");
            assert!(rec.contains("child_allocfreetrace"), "a short stack: {rec}");
            allocs.push((v[0].into(), v[1].into(), v[2].into()));
        } else if let Some(args) = head.strip_prefix("tracefree(") {
            let v: Vec<&str> = args.trim_end_matches(')').split(", ").collect();
            assert_eq!(v.len(), 2, "{head}");
            frees.push((v[0].into(), v[1].into()));
        }
    }
    (allocs, frees)
}

fn check_trace(text: &str) {
    let (allocs, frees) = trace_records(text);
    let ours: Vec<_> = allocs
        .iter()
        .filter(|a| a.2 == "gc_trace::Traced")
        .collect();
    assert_eq!(ours.len(), 100, "{text}");
    for (addr, size, _) in &ours {
        assert!(
            addr.starts_with("0x") && size.starts_with("0x"),
            "{addr} {size}"
        );
        // A Traced is 32 bytes: size class 32.
        assert_eq!(size, "0x20");
        assert!(
            frees.iter().any(|(a, s)| a == addr && s == size),
            "no tracefree({addr}, {size}):\n{text}"
        );
    }
}

#[test]
fn allocfreetrace_records_each_allocation_and_free() {
    let out = child("child_allocfreetrace", &[("GODEBUG", "allocfreetrace=1")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    check_trace(&err);

    let path = std::env::temp_dir().join(format!("gort-allocfreetrace-{}.txt", std::process::id()));
    let godebug = format!("allocfreetrace={}", path.display());
    let out = child("child_allocfreetrace", &[("GODEBUG", &godebug)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        !err.contains("tracealloc("),
        "records went to the file: {err}"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    check_trace(&text);

    let out = child("child_allocfreetrace", &[]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("tracealloc("));
}

/// (number of well-formed gc lines, whether the last one ends in " (forced)")
fn regex_lite(err: &str) -> (usize, bool) {
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("gc ")).collect();
    for (i, l) in lines.iter().enumerate() {
        // gc N @T.TTTs P%: A+B+C ms clock, D+E/F/G+H ms cpu, X->Y->Z MB, W MB goal, S MB stacks, L MB globals, K P
        let rest = l.strip_prefix(&format!("gc {} @", i + 1)).expect(l);
        let (t, rest) = rest.split_once("s ").expect(l);
        assert_eq!(t.split_once('.').expect(l).1.len(), 3, "{l}");
        let (_pct, rest) = rest.split_once("%: ").expect(l);
        let (clock, rest) = rest.split_once(" ms clock, ").expect(l);
        assert_eq!(clock.split('+').count(), 3, "{l}");
        let (cpu, rest) = rest.split_once(" ms cpu, ").expect(l);
        assert_eq!(cpu.split(['+', '/']).count(), 5, "{l}");
        let (heap, rest) = rest.split_once(" MB, ").expect(l);
        assert_eq!(heap.split("->").count(), 3, "{l}");
        let (_goal, rest) = rest.split_once(" MB goal, ").expect(l);
        let (_s, rest) = rest.split_once(" MB stacks, ").expect(l);
        let (_g, rest) = rest.split_once(" MB globals, ").expect(l);
        let rest = rest.strip_suffix(" (forced)").unwrap_or(rest);
        assert!(rest.ends_with(" P"), "{l}");
    }
    let forced = lines.last().is_some_and(|l| l.ends_with(" (forced)"));
    (lines.len(), forced)
}

/// Run by `small_gogc_collects_about_once_per_mib`: 48 MiB of short-lived objects at the
/// GOGC the parent sets; the cycle count must be within 2x of Go's pacer's. Go's goal after a
/// cycle is at least the live heap plus its sweep distance (1 MiB, `sweepMinHeapDistance`),
/// whatever GOGC, so with an almost empty live heap Go collects once per MiB allocated: 48
/// cycles (`GOGC=1 go run ./cmd/binarytrees 14`, 50 MiB allocated, runs 47-49).
#[test]
fn child_small_gogc_loop() {
    if std::env::var_os("GC_TRACE_CHILD").is_none() {
        return;
    }
    const N: u64 = 1 << 20;
    // A Blob is 40 bytes: size class 48, in Go as in gort.
    let allocated = N * 48;
    let predicted = allocated.div_ceil(1 << 20);
    let before = gc::num_gc();
    let mut keep = Vec::new();
    for i in 0..N {
        let b = Gc::new(Blob {
            next: None,
            _pad: [i; 4],
        });
        if i % 65536 == 0 {
            keep.push(b);
        }
        // Bail out early rather than run the (old) cycle-per-allocation pace to the end.
        if i % 1024 == 0 && gc::num_gc() - before > 2 * predicted {
            break;
        }
    }
    let cycles = gc::num_gc() - before;
    assert!(
        cycles >= predicted / 2 && cycles <= 2 * predicted,
        "{cycles} cycles for {allocated} bytes allocated; Go's pacer: about {predicted}"
    );
}

#[test]
fn small_gogc_collects_about_once_per_mib() {
    for gogc in ["0", "1", "5"] {
        let out = child("child_small_gogc_loop", &[("GOGC", gogc)]);
        let err = String::from_utf8_lossy(&out.stderr);
        let so = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "GOGC={gogc}:\n{so}\n{err}");
    }
}

/// Run by `gctrace_goal_is_the_one_the_cycle_ran_against`: forced cycles over a live heap of
/// 16 MiB, then 4 MiB, then 12 MiB (GOGC=100).
#[test]
fn child_forced_goals() {
    if std::env::var_os("GC_TRACE_CHILD").is_none() {
        return;
    }
    // 48-byte slots: 16 MiB is 349,525 of them.
    let n = (16 << 20) / 48;
    let mut live: Vec<Gc<Blob>> = (0..n)
        .map(|i| {
            Gc::new(Blob {
                next: None,
                _pad: [i as u64; 4],
            })
        })
        .collect();
    eprintln!("phase: 16 MiB");
    gc::gc();
    gc::gc();
    live.truncate(n / 4);
    eprintln!("phase: 4 MiB");
    gc::gc();
    gc::gc();
    live.extend((0..n / 2).map(|i| {
        Gc::new(Blob {
            next: None,
            _pad: [i as u64; 4],
        })
    }));
    eprintln!("phase: 12 MiB");
    gc::gc();
    gc::gc();
    assert_eq!(live.len(), n / 4 + n / 2);
}

/// The `W MB goal` field of a gctrace line is the goal the cycle ran against (Go's
/// `lastHeapGoal`, read at the end of the mark, before the next cycle is paced; Go 1.19's
/// `work.heapGoal`), not the goal paced for the next cycle. For each forced cycle, the goal is
/// therefore Go's formula applied to the previous line's live heap `Z` (GOGC=100, no stacks or
/// globals): `max(2 * live, 4 MiB, live + 1 MiB)`, which in the line's truncated MiB is
/// `max(2Z, 4)` or one more. The old code printed the next goal: after the live heap shrank
/// from 16 to 4 MiB, `4->4->4 MB, 8 MB goal` where Go prints `32 MB goal`.
#[test]
fn gctrace_goal_is_the_one_the_cycle_ran_against() {
    let out = child("child_forced_goals", &[("GODEBUG", "gctrace=1")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let mut prev_live: Option<u64> = None;
    let mut forced_checked = 0;
    let mut in_phases = false;
    for l in err.lines() {
        in_phases |= l.starts_with("phase: ");
        if !l.starts_with("gc ") {
            continue;
        }
        let field = |after: &str, before: &str| -> String {
            let i = l.find(before).expect(l);
            let head = &l[..i];
            head[head.rfind(after).expect(l) + after.len()..].to_string()
        };
        let heap = field(" ms cpu, ", " MB, ");
        let live: u64 = heap.rsplit("->").next().unwrap().parse().expect(l);
        let goal: u64 = field(" MB, ", " MB goal").parse().expect(l);
        if in_phases && l.ends_with(" (forced)") {
            let z = prev_live.expect(l);
            let lo = (2 * z).max(4);
            assert!(
                goal == lo || goal == lo + 1,
                "{l}\nexpected the goal paced after the previous cycle (live {z} MB): {lo} MB\n{err}"
            );
            forced_checked += 1;
        }
        prev_live = Some(live);
    }
    assert_eq!(forced_checked, 6, "{err}");
}

/// GODEBUG is read as Go reads it: `gctrace = 1` names the key `gctrace ` (Go's parsegodebug
/// does not trim), so gctrace stays off, as in Go (`GODEBUG="gctrace = 1" go run
/// ./cmd/binarytrees` prints no gc line); a value Go would ignore is gort's clear error.
#[test]
fn godebug_with_spaces_is_read_as_go_reads_it() {
    for v in ["gctrace = 1", " gctrace=1", "http2client=0, gctrace=1"] {
        let out = child("child_allocates_and_forces", &[("GODEBUG", v)]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "GODEBUG={v:?}: {err}");
        assert!(
            !err.lines().any(|l| l.starts_with("gc ")),
            "GODEBUG={v:?} turned gctrace on:\n{err}"
        );
    }
    let out = child("child_allocates_and_forces", &[("GODEBUG", "gctrace=1 ")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("invalid GODEBUG=gctrace=\"1 \": expected 0, 1 or 2"),
        "{err}"
    );
}

#[test]
fn bad_gogc_is_a_clear_error() {
    let out = child("child_allocates_and_forces", &[("GOGC", "lots")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("invalid GOGC=\"lots\": expected a percentage such as 100, or off"),
        "{err}"
    );
    let out = child("child_allocates_and_forces", &[("GOMEMLIMIT", "12MB")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("invalid GOMEMLIMIT=\"12MB\""), "{err}");
}

#[test]
fn memory_limit_keeps_heap_near_limit_with_gogc_off() {
    let out = child("child_limit", &[("GOGC", "off"), ("GOMEMLIMIT", "24MiB")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
}

/// Run by `memory_limit_keeps_heap_near_limit_with_gogc_off`: 8 MiB live, 400 MiB allocated.
#[test]
fn child_limit() {
    if std::env::var_os("GC_TRACE_CHILD").is_none() {
        return;
    }
    let mut live: Vec<Gc<Blob>> = Vec::new();
    let mut peak = 0;
    for i in 0..10_000_000u64 {
        let b = Gc::new(Blob {
            next: None,
            _pad: [i; 4],
        });
        if live.len() < 200_000 {
            live.push(b);
        } else if i % 7 == 0 {
            let k = (i as usize / 7) % live.len();
            live[k] = b;
        }
        if i % 10_000 == 0 {
            peak = peak.max(gc::heap_inuse());
        }
    }
    let limit = 24u64 << 20;
    assert!(gc::num_gc() > 5);
    assert!(
        peak <= limit + limit / 10,
        "peak {peak} above limit {limit}"
    );
}
