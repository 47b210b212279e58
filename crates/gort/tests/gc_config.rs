//! The collector's GODEBUG keys given to a `Builder` (issue 17): the GC heap is one per process,
//! so `Builder::godebug("gctrace=1")` turns gctrace on for the process when the runtime is
//! built (the runtime built last wins; keys the string does not name keep their value), and
//! the `N P` of a gctrace line is the runtime's GOMAXPROCS whichever thread collects (several
//! runtimes: their Ps summed, capped at the CPU count unless one alone has more). Each
//! scenario runs in a child process (this test binary run again with `GORT_GC_CONFIG_CHILD`
//! naming it) with no GODEBUG in its environment: the settings are process-wide, and the
//! parent reads the child's stderr.

use std::process::Command;

use gort::gc::Gc;

const CHILD: &str = "GORT_GC_CONFIG_CHILD";

/// Allocates `mib` MiB of 64-byte garbage objects while keeping a few alive, from the calling
/// goroutine or thread: several cycles at the default GOGC (the goal is at least 4 MiB).
fn churn(mib: usize) {
    let mut keep: Vec<Gc<[u64; 8]>> = Vec::new();
    for i in 0..(mib << 20) / 64 {
        let g = Gc::new([i as u64; 8]);
        if i % 4096 == 0 {
            keep.push(g);
        }
    }
    assert!(keep
        .iter()
        .enumerate()
        .all(|(j, g)| g[0] == (j * 4096) as u64));
}

/// Runs this binary's test `name` as a child with `CHILD=name` and neither GODEBUG, GOGC nor
/// GOMEMLIMIT set; returns its stderr. Panics, with the output, if the child failed.
fn run_child(name: &str) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD, name)
        .env_remove("GODEBUG")
        .env_remove("GOGC")
        .env_remove("GOMEMLIMIT")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child {name} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert!(
        stderr.contains(&format!("CHILD-DONE {name}")),
        "child {name} did not run its scenario:\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    stderr
}

fn is_child(name: &str) -> bool {
    std::env::var(CHILD).is_ok_and(|v| v == name)
}

/// Checks `line` field by field against Go's gctrace format (`gc/gctrace.rs`):
/// `gc N @T.TTTs P%: A+B+C ms clock, D+E/F/G+H ms cpu, X->Y->Z MB, W MB goal, S MB stacks,
/// L MB globals, K P` and an optional ` (forced)`. Returns (N, K, forced).
fn parse_gctrace(line: &str) -> (u64, usize, bool) {
    let bad = |why: &str| -> ! { panic!("not a gctrace line ({why}): {line:?}") };
    let num = |s: &str| s.parse::<u64>().unwrap_or_else(|_| bad(s));
    let ms = |s: &str| {
        if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit() || c == '.') {
            bad(s)
        }
    };
    let (line, forced) = match line.strip_suffix(" (forced)") {
        Some(l) => (l, true),
        None => (line, false),
    };
    let rest = line.strip_prefix("gc ").unwrap_or_else(|| bad("prefix"));
    let (n, rest) = rest.split_once(" @").unwrap_or_else(|| bad("@"));
    let (t, rest) = rest.split_once("s ").unwrap_or_else(|| bad("start time"));
    let (secs, frac) = t.split_once('.').unwrap_or_else(|| bad("seconds"));
    num(secs);
    if frac.len() != 3 {
        bad("milliseconds");
    }
    num(frac);
    let (pct, rest) = rest.split_once("%: ").unwrap_or_else(|| bad("percent"));
    num(pct);
    let (clock, rest) = rest
        .split_once(" ms clock, ")
        .unwrap_or_else(|| bad("clock"));
    let clock: Vec<&str> = clock.split('+').collect();
    if clock.len() != 3 {
        bad("clock fields");
    }
    clock.iter().for_each(|c| ms(c));
    let (cpu, rest) = rest.split_once(" ms cpu, ").unwrap_or_else(|| bad("cpu"));
    let cpu: Vec<&str> = cpu.split(['+', '/']).collect();
    if cpu.len() != 5 {
        bad("cpu fields");
    }
    cpu.iter().for_each(|c| ms(c));
    let (heap, rest) = rest.split_once(" MB, ").unwrap_or_else(|| bad("heap"));
    let heap: Vec<&str> = heap.split("->").collect();
    if heap.len() != 3 {
        bad("heap fields");
    }
    heap.iter().for_each(|h| {
        num(h);
    });
    let (goal, rest) = rest.split_once(" MB goal, ").unwrap_or_else(|| bad("goal"));
    num(goal);
    let (stacks, rest) = rest
        .split_once(" MB stacks, ")
        .unwrap_or_else(|| bad("stacks"));
    num(stacks);
    let (globals, rest) = rest
        .split_once(" MB globals, ")
        .unwrap_or_else(|| bad("globals"));
    num(globals);
    let procs = rest.strip_suffix(" P").unwrap_or_else(|| bad("P"));
    (num(n), num(procs) as usize, forced)
}

/// The gctrace lines of `stderr` between the markers `PHASE i-1` and `PHASE i` (from the
/// start for the first).
fn phase_lines(stderr: &str, phase: usize) -> Vec<(u64, usize, bool)> {
    let mut cur = 0;
    let mut v = Vec::new();
    for l in stderr.lines() {
        if let Some(p) = l.strip_prefix("PHASE ") {
            cur = p.trim().parse::<usize>().unwrap() + 1;
        } else if cur == phase && l.starts_with("gc ") {
            v.push(parse_gctrace(l));
        }
    }
    v
}

/// The child of [`builder_gctrace_prints_go_format_lines_with_the_runtimes_gomaxprocs`].
#[test]
fn gctrace_child() {
    if !is_child("gctrace_child") {
        return;
    }
    assert!(std::env::var_os("GODEBUG").is_none());
    // Phase 0: a runtime of 3 Ps names gctrace=1. Cycles triggered by allocation (run by the
    // background worker, a plain thread) and forced ones, from a goroutine and from this
    // plain thread, all print a line with 3 P.
    let rt1 = gort::Builder::new()
        .gomaxprocs(3)
        .godebug("gctrace=1")
        .unwrap()
        .build()
        .unwrap();
    rt1.block_on(|| {
        churn(64);
        gort::gc::gc();
    });
    gort::gc::gc();
    eprintln!("PHASE 0");
    // Phase 1: a second runtime (2 Ps) whose GODEBUG does not name gctrace: still on, and the
    // collector's GOMAXPROCS is both runtimes' Ps, capped at the CPUs unless one has more.
    let rt2 = gort::Builder::new()
        .gomaxprocs(2)
        .godebug("schedtrace=0")
        .unwrap()
        .build()
        .unwrap();
    rt2.block_on(gort::gc::gc);
    eprintln!("PHASE 1");
    // Phase 2: both dropped; two runtimes of one P each: 2 P (within any CPU count).
    drop((rt1, rt2));
    let one = || gort::Builder::new().gomaxprocs(1).build().unwrap();
    let (rt_a, rt_b) = (one(), one());
    rt_b.block_on(gort::gc::gc);
    drop((rt_a, rt_b));
    eprintln!("PHASE 2");
    // Phase 3: a runtime that names gctrace=0 turns it off for the process.
    let rt3 = gort::Builder::new()
        .gomaxprocs(1)
        .godebug("gctrace=0")
        .unwrap()
        .build()
        .unwrap();
    rt3.block_on(|| {
        churn(16);
        gort::gc::gc();
    });
    eprintln!("PHASE 3");
    eprintln!("CHILD-DONE gctrace_child");
}

#[test]
fn builder_gctrace_prints_go_format_lines_with_the_runtimes_gomaxprocs() {
    let stderr = run_child("gctrace_child");
    let p0 = phase_lines(&stderr, 0);
    assert!(
        p0.len() >= 4,
        "Builder::godebug(\"gctrace=1\") printed {} gctrace lines, expected several cycles \
         and two forced ones; stderr:\n{stderr}",
        p0.len()
    );
    assert!(
        p0.iter().filter(|l| l.2).count() >= 2 && p0.iter().any(|l| !l.2),
        "expected cycles triggered by allocation and 2 forced ones: {p0:?}\n{stderr}"
    );
    for (i, l) in p0.iter().enumerate() {
        assert_eq!(l.0, i as u64 + 1, "cycle numbers: {p0:?}");
        assert_eq!(
            l.1, 3,
            "gctrace's P field must be the runtime's GOMAXPROCS (3): {p0:?}\n{stderr}"
        );
    }
    let p1 = phase_lines(&stderr, 1);
    assert_eq!(
        p1.len(),
        1,
        "a builder whose GODEBUG does not name gctrace left it on: {stderr}"
    );
    assert!(p1[0].2, "{p1:?}");
    // Both runtimes' Ps, capped at the CPU count unless one runtime alone has more.
    let want = 5.min(gort::env::ncpu().max(3));
    assert_eq!(p1[0].1, want, "two live runtimes of 3 and 2 Ps: {stderr}");
    let p2 = phase_lines(&stderr, 2);
    assert_eq!(p2.len(), 1, "{stderr}");
    assert_eq!(p2[0].1, 2, "two live runtimes of 1 P each: {stderr}");
    let p3 = phase_lines(&stderr, 3);
    assert!(
        p3.is_empty(),
        "a builder naming gctrace=0 turns it off: {p3:?}\n{stderr}"
    );
}

/// The child of [`builder_gctorture_applies_to_the_process_heap`].
#[test]
fn gctorture_child() {
    if !is_child("gctorture_child") {
        return;
    }
    let n0 = gort::gc::num_gc();
    let rt = gort::Builder::new()
        .gomaxprocs(1)
        .godebug("gctorture=100")
        .unwrap()
        .build()
        .unwrap();
    // 2,000 small allocations: far below the 4 MiB minimum goal, so only torture collects.
    let alloc = || {
        let v: Vec<Gc<u64>> = (0..2000u64).map(Gc::new).collect();
        assert_eq!(v.iter().map(|g| **g).sum::<u64>(), 1999 * 2000 / 2);
    };
    rt.block_on(alloc);
    let tortured = gort::gc::num_gc() - n0;
    drop(rt);
    let rt = gort::Builder::new()
        .godebug("gctorture=0")
        .unwrap()
        .build()
        .unwrap();
    gort::gc::gc(); // a cycle the last tortured allocation may have left due
    let n1 = gort::gc::num_gc();
    rt.block_on(alloc);
    let after = gort::gc::num_gc() - n1;
    eprintln!("TORTURE {tortured} {after}");
    eprintln!("CHILD-DONE gctorture_child");
}

#[test]
fn builder_gctorture_applies_to_the_process_heap() {
    let stderr = run_child("gctorture_child");
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix("TORTURE "))
        .unwrap_or_else(|| panic!("no TORTURE line: {stderr}"));
    let v: Vec<u64> = line.split(' ').map(|x| x.parse().unwrap()).collect();
    assert!(
        v[0] >= 15,
        "gctorture=100 from the builder: {} cycles for 2,000 allocations",
        v[0]
    );
    assert_eq!(v[1], 0, "gctorture=0 from a later builder turns it off");
}

#[test]
fn builder_allocfreetrace_file_that_cannot_be_created_is_refused_at_build() {
    let path = "/nonexistent-gort-dir/allocfree.txt";
    let b = gort::Builder::new()
        .godebug(&format!("allocfreetrace={path}"))
        .unwrap();
    let e = match b.build() {
        Err(gort::Error::Config(e)) => e,
        other => panic!("expected a config error, got {other:?}"),
    };
    assert_eq!(e.name, "GODEBUG=allocfreetrace");
    let msg = e.to_string();
    assert!(
        msg.contains("allocfreetrace") && msg.contains(path) && msg.contains("created"),
        "{msg}"
    );
}
