//! Comparisons with the real Go tools: x/perf benchstat and `go tool pprof`.
//!
//! These tests need Go on PATH and benchstat installed:
//!   go install golang.org/x/perf/cmd/benchstat@latest
//! (benchstat lands in $(go env GOPATH)/bin, which we search as well as PATH).
//! They fail, rather than skip, when a tool is missing, so CI cannot pass
//! without having compared.

mod common;
use common::{find_go_tool, fixture, gort_ok};
use std::process::Command;

const INSTALL: &str = "benchstat not found on PATH or in $(go env GOPATH)/bin; install it with:\n    go install golang.org/x/perf/cmd/benchstat@latest";

fn benchstat(args: &[&str]) -> String {
    let bin = find_go_tool("benchstat").unwrap_or_else(|| panic!("{INSTALL}"));
    let out = Command::new(&bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}\n{INSTALL}", bin.display()));
    assert!(
        out.status.success(),
        "benchstat {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Lines as whitespace-separated tokens, empty lines dropped: the layout
/// may differ in spacing, the content may not.
fn tokens(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Each benchmark row's (name, medians, delta-or-~ calls, p strings),
/// parsed robustly from text output.
/// (name, medians, delta calls, p strings) of one row.
type Row = (String, Vec<String>, Vec<String>, Vec<String>);

fn rows(text: &str) -> Vec<Row> {
    let mut out = Vec::new();
    for t in tokens(text) {
        if t.len() < 2
            || t[0].contains(':')
            || t[0] == "│"
            || t[0].starts_with(|c: char| "¹²³⁴⁵⁶⁷⁸⁹".contains(c))
        {
            continue;
        }
        let medians: Vec<String> = t
            .iter()
            .enumerate()
            .filter(|(i, s)| *s == "±" && *i > 0)
            .map(|(i, _)| t[i - 1].clone())
            .collect();
        let calls: Vec<String> = t
            .iter()
            .enumerate()
            .filter(|(i, s)| {
                (*s == "~" || (s.ends_with('%') && (s.starts_with('+') || s.starts_with('-'))))
                    && (*i == 0 || t[i - 1] != "±")
            })
            .map(|(_, s)| s.clone())
            .collect();
        let ps: Vec<String> = t
            .iter()
            .filter(|s| s.starts_with("(p=") || s.starts_with("(n="))
            .cloned()
            .collect();
        out.push((t[0].clone(), medians, calls, ps));
    }
    out
}

fn compare_benchstat(files: &[String]) {
    let args: Vec<&str> = files.iter().map(String::as_str).collect();
    let real = benchstat(&args);
    let mut ours_args = vec!["benchstat"];
    ours_args.extend(&args);
    let ours = gort_ok(&ours_args);
    let (r, o) = (rows(&real), rows(&ours));
    assert_eq!(
        r.len(),
        o.len(),
        "row count differs\nreal:\n{real}\nours:\n{ours}"
    );
    for (a, b) in r.iter().zip(&o) {
        assert_eq!(a, b, "row differs\nreal:\n{real}\nours:\n{ours}");
    }
    // Stronger: every line has the same tokens (only spacing may differ).
    assert_eq!(
        tokens(&real),
        tokens(&ours),
        "text differs\nreal:\n{real}\nours:\n{ours}"
    );
    // CSV: same fields (numbers compared with a relative tolerance).
    let mut csv_args = vec!["-format", "csv"];
    csv_args.extend(&args);
    let real_csv = benchstat(&csv_args);
    let mut ours_csv_args = vec!["benchstat", "--format", "csv"];
    ours_csv_args.extend(&args);
    let ours_csv = gort_ok(&ours_csv_args);
    let split = |t: &str| -> Vec<Vec<String>> {
        t.lines()
            .filter(|l| !l.is_empty())
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect()
    };
    let (rc, oc) = (split(&real_csv), split(&ours_csv));
    assert_eq!(
        rc.len(),
        oc.len(),
        "csv rows\nreal:\n{real_csv}\nours:\n{ours_csv}"
    );
    for (a, b) in rc.iter().zip(&oc) {
        assert_eq!(a.len(), b.len(), "csv fields: {a:?} vs {b:?}");
        for (x, y) in a.iter().zip(b) {
            match (x.parse::<f64>(), y.parse::<f64>()) {
                (Ok(p), Ok(q)) => assert!(
                    p == q || ((p - q) / p).abs() < 1e-12,
                    "csv value {x} vs {y}"
                ),
                _ => assert_eq!(x, y, "csv field in {a:?} vs {b:?}"),
            }
        }
    }
}

#[test]
fn benchstat_matches_real_benchstat_on_fixtures() {
    let base = fixture("bench-base.txt");
    let new = fixture("bench-gogc25.txt");
    compare_benchstat(std::slice::from_ref(&base));
    compare_benchstat(&[base.clone(), new.clone()]);
    compare_benchstat(&[new, base]);
}

/// Synthetic data that exercises finite CIs, ties (exact U with ties),
/// unequal sample sizes, and the normal approximations (n > 25 with ties,
/// n > 30 for the CI).
#[test]
fn benchstat_matches_real_benchstat_on_synthetic_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let mut rnd = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut files = Vec::new();
    for (fi, (shift, counts)) in [(1.0, [6, 12, 40]), (1.08, [6, 10, 40]), (0.97, [8, 12, 33])]
        .iter()
        .enumerate()
    {
        let mut text = String::from("goos: linux\ngoarch: amd64\npkg: synth\n");
        for (bi, (name, base, n)) in [
            ("Small", 120.0, counts[0]),
            ("Mid", 5400.0, counts[1]),
            ("Big", 2.5e6, counts[2]),
        ]
        .iter()
        .enumerate()
        {
            for _ in 0..*n {
                // Round to create ties.
                let v = ((base * shift * (1.0 + 0.05 * rnd())) * 10.0).round() / 10.0;
                let bytes = if bi == 0 { 0 } else { 64 * (bi + fi) };
                text.push_str(&format!(
                    "Benchmark{name}-4\t1000\t{v} ns/op\t{bytes} B/op\t{} allocs/op\n",
                    bi + (fi % 2)
                ));
            }
        }
        let p = dir.path().join(format!("f{fi}.txt"));
        std::fs::write(&p, text).expect("write");
        files.push(p.display().to_string());
    }
    compare_benchstat(&files[..1]);
    compare_benchstat(&files[..2]);
    compare_benchstat(&files);
}

fn go_tool_pprof_top(file: &str, sample_index: Option<&str>) -> String {
    let mut cmd = Command::new("go");
    cmd.args(["tool", "pprof", "-top"]);
    if let Some(si) = sample_index {
        cmd.arg(format!("-sample_index={si}"));
    }
    // pprof prints Time: in local time; gort prints UTC.
    cmd.env("TZ", "UTC");
    let out = cmd
        .arg(file)
        .output()
        .expect("running `go tool pprof` (is Go on PATH?)");
    assert!(
        out.status.success(),
        "go tool pprof failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn pprof_top_matches_go_tool_pprof() {
    for (file, indexes) in [
        ("cpu.pprof", vec![None, Some("samples"), Some("cpu")]),
        (
            "mem.pprof",
            vec![
                None,
                Some("alloc_objects"),
                Some("alloc_space"),
                Some("inuse_objects"),
                Some("inuse_space"),
            ],
        ),
    ] {
        let path = fixture(file);
        for si in indexes {
            let real = go_tool_pprof_top(&path, si);
            let mut args = vec!["pprof", "top", path.as_str()];
            if let Some(si) = si {
                args.extend(["--sample-index", si]);
            }
            let ours = gort_ok(&args);
            // Same top functions with the same flat values, in order.
            let table = |t: &str| -> Vec<String> {
                t.lines()
                    .skip_while(|l| !l.trim_start().starts_with("flat"))
                    .map(str::to_string)
                    .collect()
            };
            assert_eq!(
                table(&real),
                table(&ours),
                "{file} {si:?}\nreal:\n{real}\nours:\n{ours}"
            );
            // And the header lines too.
            assert_eq!(real, ours, "{file} {si:?} header");
        }
    }
}

/// `gort doctor -- go test -bench …` on the fixture benchmarks: the flags
/// are added, the run's profiles are read, and the verdict is allocation.
#[test]
fn doctor_runs_go_test() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(fixture("fix_test.go"), dir.path().join("fix_test.go")).expect("copy");
    std::fs::write(dir.path().join("go.mod"), "module fix\n\ngo 1.19\n").expect("go.mod");
    let out = Command::new(env!("CARGO_BIN_EXE_gort"))
        .current_dir(dir.path())
        .args([
            "doctor",
            "--",
            "go",
            "test",
            "-run",
            "none",
            "-bench",
            "AllocTree",
            "-benchtime",
            "200ms",
            ".",
        ])
        .output()
        .expect("run gort doctor (is Go on PATH?)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("BenchmarkAllocTree"), "{stdout}");
    assert!(stdout.contains("Bottleneck: allocation/GC"), "{stdout}");
    assert!(stdout.contains("2047 allocs/op"), "{stdout}");
    assert!(stdout.contains("GC CPU"), "{stdout}");
    // Escape analysis joined with the heap profile: both of build()'s allocation lines, with
    // the compiler's reason, and the fix that follows from it.
    assert!(
        stdout.contains("fix_test.go:64: &tree{} escapes to heap"),
        "{stdout}"
    );
    assert!(
        stdout.contains("fix_test.go:66: &tree{...} escapes to heap"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Keep values on the stack where the compiler moved them to the heap"),
        "{stdout}"
    );
}
