//! Runs the built `gort` binary on every Go 1.19 fixture.

mod common;
use common::{fixture, gort, gort_ok};

#[test]
fn benchstat_single_file() {
    let out = gort_ok(&["benchstat", &fixture("bench-base.txt")]);
    assert!(
        out.starts_with("goos: linux\ngoarch: amd64\npkg: fix\n"),
        "{out}"
    );
    assert!(out.contains("sec/op") && out.contains("B/op") && out.contains("allocs/op"));
    assert!(
        out.contains("Sprintf-2") && out.contains("156.0n ± ∞"),
        "{out}"
    );
    assert!(out.contains("need >= 6 samples for confidence interval at level 0.95"));
    assert!(out.contains("geomean"));
}

#[test]
fn benchstat_shows_what_gogc25_slowed() {
    let out = gort_ok(&[
        "benchstat",
        &fixture("bench-base.txt"),
        &fixture("bench-gogc25.txt"),
    ]);
    let line = |name: &str| {
        out.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} row in\n{out}"))
            .to_string()
    };
    // The sec/op table comes first: AllocTree is the significant slowdown.
    let alloc = line("AllocTree-2");
    assert!(
        alloc.contains("+18.72%") && alloc.contains("p=0.008 n=5"),
        "{alloc}"
    );
    let sprintf = line("Sprintf-2");
    assert!(
        sprintf.contains("~") && sprintf.contains("p=0.095"),
        "{sprintf}"
    );
    assert!(out.contains("+4.89%"), "geomean delta missing:\n{out}");
    assert!(out.contains("vs base"));
}

#[test]
fn benchstat_csv() {
    let out = gort_ok(&[
        "benchstat",
        "--format",
        "csv",
        &fixture("bench-base.txt"),
        &fixture("bench-gogc25.txt"),
    ]);
    assert!(out.contains(",sec/op,CI,sec/op,CI,vs base,P"), "{out}");
    assert!(
        out.contains("AllocTree-2,8.9782e-05,∞,0.000106587,∞,+18.72%,p=0.008 n=5"),
        "{out}"
    );
}

#[test]
fn benchstat_stdin_and_errors() {
    let out = gort(&["benchstat", "/nonexistent/bench.txt"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("gort: cannot read /nonexistent/bench.txt"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "one-line error: {err}");
    let out = gort(&["benchstat", &fixture("gctrace-binarytrees.txt")]);
    assert_eq!(out.status.code(), Some(1));
    let out = gort(&["benchstat"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn pprof_top_cpu_and_mem() {
    let out = gort_ok(&["pprof", "top", &fixture("cpu.pprof")]);
    assert!(out.contains("Type: cpu"), "{out}");
    let first = out
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("flat"))
        .nth(1)
        .expect("a row");
    assert!(
        first.contains("runtime.mallocgc") && first.contains("25.91%"),
        "{first}"
    );
    let out = gort_ok(&["pprof", "top", &fixture("mem.pprof")]);
    assert!(out.contains("Type: alloc_space"), "{out}");
    assert!(
        out.contains("711.01MB 78.90% 78.90%   711.01MB 78.90%  fix.build"),
        "{out}"
    );
    for si in ["0", "1", "2", "3", "inuse_space", "alloc_objects"] {
        let out = gort_ok(&["pprof", "top", "--sample-index", si, &fixture("mem.pprof")]);
        assert!(out.contains("flat%"));
    }
    let out = gort_ok(&["pprof", "top", "--nodecount", "3", &fixture("cpu.pprof")]);
    assert!(out.contains("Showing top 3 nodes out of"), "{out}");
}

#[test]
fn pprof_errors() {
    let out = gort(&["pprof", "top", &fixture("bench-base.txt")]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a pprof profile"), "{err}");
    let out = gort(&[
        "pprof",
        "top",
        "--sample-index",
        "nope",
        &fixture("cpu.pprof"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("samples, cpu"));
    let out = gort(&["pprof", "top", "--sample-index", "9", &fixture("cpu.pprof")]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn pprof_flame_writes_svg() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svg = dir.path().join("cpu.svg");
    let svg_s = svg.display().to_string();
    gort_ok(&["pprof", "flame", &fixture("cpu.pprof"), "-o", &svg_s]);
    let text = std::fs::read_to_string(&svg).expect("svg written");
    assert!(text.contains("<svg") && text.contains("runtime.mallocgc"));
    let mem_svg = dir.path().join("mem.svg").display().to_string();
    gort_ok(&[
        "pprof",
        "flame",
        "--sample-index",
        "alloc_space",
        &fixture("mem.pprof"),
        "-o",
        &mem_svg,
    ]);
    assert!(std::fs::read_to_string(&mem_svg)
        .expect("svg")
        .contains("fix.build"));
}

#[test]
fn pprof_diff() {
    // The same profile against itself: nothing changed.
    let out = gort_ok(&[
        "pprof",
        "diff",
        &fixture("cpu.pprof"),
        &fixture("cpu.pprof"),
    ]);
    assert!(out.contains("Showing 0 of 0 changed functions"), "{out}");
    // CPU vs heap profile: different sample types is an error.
    let out = gort(&[
        "pprof",
        "diff",
        &fixture("cpu.pprof"),
        &fixture("mem.pprof"),
    ]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn gctrace_report_whatif_svg() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svg = dir.path().join("gc.svg").display().to_string();
    let out = gort_ok(&[
        "gctrace",
        &fixture("gctrace-binarytrees.txt"),
        "--what-if",
        "GOGC=200",
        "--what-if",
        "GOGC=100,GOMEMLIMIT=8MiB",
        "--svg",
        &svg,
    ]);
    assert!(out.contains("GC cycles: 77 (0 forced)"), "{out}");
    assert!(out.contains("GC CPU: 8% as printed"), "{out}");
    assert!(out.contains("STW pauses (154"), "{out}");
    assert!(out.contains("max 0.180"), "{out}");
    assert!(out.contains("What if GOGC=200?"));
    assert!(out.contains("capped by GOMEMLIMIT"));
    assert!(out.contains("assumptions:"));
    let text = std::fs::read_to_string(&svg).expect("svg");
    assert!(text.starts_with("<svg") && text.contains("polyline"));
    let out = gort(&[
        "gctrace",
        &fixture("gctrace-binarytrees.txt"),
        "--what-if",
        "GOGC=x",
    ]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn gctrace_handles_forced_and_noise() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("t.txt");
    std::fs::write(
        &p,
        "hello\ngc 1 @0.010s 2%: 0.01+1.0+0.02 ms clock, 0.02+0.1/0.5/1.0+0.04 ms cpu, 4->4->2 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 4 P (forced)\nnoise gc 2 @\n",
    )
    .expect("write");
    let out = gort_ok(&["gctrace", &p.display().to_string()]);
    assert!(out.contains("GC cycles: 1 (1 forced)"), "{out}");
}

#[test]
fn doctor_names_allocation_on_fixture_profile() {
    let out = gort_ok(&[
        "doctor",
        "--profile",
        &fixture("cpu.pprof"),
        "--bench",
        &fixture("bench-base.txt"),
        "--gctrace",
        &fixture("gctrace-binarytrees.txt"),
        "--memprofile",
        &fixture("mem.pprof"),
    ]);
    assert!(out.starts_with("Bottleneck: allocation/GC"), "{out}");
    assert!(out.contains("Preallocate"), "{out}");
    assert!(
        out.contains("AllocTree-2 2047 allocs/op, 32752 B/op"),
        "{out}"
    );
    assert!(out.contains("Avoid formatting into fresh strings"), "{out}");
    assert!(
        out.contains("Tune GOGC/GOMEMLIMIT") && out.contains("GC CPU 8.1%"),
        "{out}"
    );
    let out = gort_ok(&["doctor", "--profile", &fixture("cpu.pprof")]);
    assert!(out.starts_with("Bottleneck: allocation/GC"), "{out}");
}

#[test]
fn doctor_usage_errors() {
    assert_eq!(gort(&["doctor"]).status.code(), Some(2));
    assert_eq!(
        gort(&["doctor", "--profile", "/nonexistent.pprof"])
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn schedtrace_fixture_is_not_a_gctrace() {
    let out = gort(&["gctrace", &fixture("schedtrace-skynet.txt")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no gctrace lines"));
}

#[test]
fn every_subcommand_has_help_with_examples() {
    for args in [
        vec!["--help"],
        vec!["benchstat", "--help"],
        vec!["pprof", "--help"],
        vec!["pprof", "top", "--help"],
        vec!["pprof", "flame", "--help"],
        vec!["pprof", "diff", "--help"],
        vec!["gctrace", "--help"],
        vec!["doctor", "--help"],
        vec!["env", "--help"],
    ] {
        let out = gort_ok(&args);
        assert!(out.contains("Examples:"), "{args:?}: {out}");
    }
    assert_eq!(gort(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn gctrace_reads_stdin() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let text = std::fs::read(fixture("gctrace-binarytrees.txt")).expect("fixture");
    let mut child = Command::new(env!("CARGO_BIN_EXE_gort"))
        .args(["gctrace", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&text)
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("GC cycles: 77"));
}

#[test]
fn pprof_reads_uncompressed_profiles() {
    let gz = std::fs::read(fixture("cpu.pprof")).expect("fixture");
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut raw)
        .expect("gunzip");
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("cpu.pb");
    std::fs::write(&p, raw).expect("write");
    let plain = gort_ok(&["pprof", "top", &p.display().to_string()]);
    let zipped = gort_ok(&["pprof", "top", &fixture("cpu.pprof")]);
    assert_eq!(plain, zipped);
}

/// The generic (non-`go test`) path: the command gets no flags (a plain program
/// parses none) but `GORT_CPUPROFILE`, `GORT_MEMPROFILE` (which every gort program and
/// gort's bench harness honour) and `GODEBUG=gctrace=1`; a shell script stands in for
/// the program.
#[test]
fn doctor_runs_a_command_with_profiling_settings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("bench.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             [ $# = 0 ] && [ -n \"$GORT_CPUPROFILE\" ] && [ -n \"$GORT_MEMPROFILE\" ] || exit 3\n\
             case \"$GODEBUG\" in *gctrace=1*) ;; *) exit 4;; esac\n\
             cp '{cpu}' \"$GORT_CPUPROFILE\"; cp '{mem}' \"$GORT_MEMPROFILE\"\n\
             echo 'BenchmarkAllocTree-2  1000  85694 ns/op  32752 B/op  2047 allocs/op'\n\
             cat '{gc}' >&2\n",
            cpu = fixture("cpu.pprof"),
            mem = fixture("mem.pprof"),
            gc = fixture("gctrace-binarytrees.txt"),
        ),
    )
    .expect("write script");
    let out = gort(&["doctor", "--", "sh", &script.display().to_string()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The command's own output is passed through...
    assert!(stdout.contains("BenchmarkAllocTree-2  1000"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("gc 77 @1.628s"));
    // ...and the analysis uses all three sources.
    assert!(stdout.contains("Bottleneck: allocation/GC"), "{stdout}");
    assert!(
        stdout.contains("AllocTree-2 2047 allocs/op, 32752 B/op"),
        "{stdout}"
    );
    assert!(stdout.contains("GC CPU 8.1% over 77 cycles"), "{stdout}");
    assert!(stdout.contains("fix.build"), "{stdout}");
}

#[test]
fn doctor_reports_a_failing_command() {
    let out = gort(&["doctor", "--", "/nonexistent/command"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot run /nonexistent/command"));
}

#[test]
fn pprof_diff_of_two_profiles() {
    use gort_cli::pprof::proto::{encode, synthetic};
    let dir = tempfile::tempdir().expect("tempdir");
    let a = synthetic(
        "cpu",
        "nanoseconds",
        &[
            (&["runtime.mallocgc", "main.work"], 600_000_000),
            (&["main.hash", "main.work"], 100_000_000),
        ],
    );
    let b = synthetic(
        "cpu",
        "nanoseconds",
        &[
            (&["runtime.mallocgc", "main.work"], 200_000_000),
            (&["main.hash", "main.work"], 150_000_000),
        ],
    );
    let (pa, pb) = (dir.path().join("a.pprof"), dir.path().join("b.pprof"));
    std::fs::write(&pa, encode(&a)).expect("write");
    std::fs::write(&pb, encode(&b)).expect("write");
    let out = gort_ok(&[
        "pprof",
        "diff",
        &pa.display().to_string(),
        &pb.display().to_string(),
    ]);
    let rows: Vec<&str> = out.lines().skip(3).collect();
    assert!(
        rows[0].contains("-400ms") && rows[0].contains("runtime.mallocgc (600ms -> 200ms)"),
        "{out}"
    );
    assert!(
        rows[1].contains("+50ms") && rows[1].contains("main.hash"),
        "{out}"
    );
    assert!(out.starts_with("Total: A 700ms, B 350ms (-350ms)"), "{out}");
}
