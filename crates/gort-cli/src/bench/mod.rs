//! `gort bench [--compare-go]`: run gort's benchmark suite and, side by side in the same run,
//! its Go equivalents (the Go module in `bench/go/`), then print one table with the ratios.
//!
//! Both sides print Go's benchmark data format, so one parser (`crate::benchfmt`) reads both;
//! benchmarks are matched by name without the `-GOMAXPROCS` suffix. Where a side ran a
//! benchmark several times (`-count`), the median is compared. The ratio is gort's time over
//! Go's (below 1 means gort is faster); the geometric mean summarises the ratios of every
//! benchmark both sides ran. This command installs nothing: without Go on PATH it says how to
//! get it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::benchfmt::{self, BenchResult};

/// Options of `gort bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Also run the Go equivalents (bench/go) and print a side-by-side table.
    #[arg(long)]
    pub compare_go: bool,
    /// Run only benchmarks matching this regular expression (Go's -bench).
    #[arg(long, default_value = ".")]
    pub bench: String,
    /// Run time per benchmark: a duration (1s, 500ms) or an iteration count (1000x).
    #[arg(long, default_value = "1s")]
    pub benchtime: String,
    /// Runs per benchmark (the median is compared).
    #[arg(long, default_value_t = 1)]
    pub count: u32,
    /// gort bench targets to run (crates/gort/benches/NAME.rs).
    #[arg(long = "target", default_values_t = ["runtime".to_string()])]
    pub targets: Vec<String>,
    /// Repository root (default: found from the current directory).
    #[arg(long)]
    pub repo: Option<PathBuf>,
    /// Also save the raw outputs as DIR/gort.txt and DIR/go.txt (for gort benchstat).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Finds the repository root: the nearest ancestor holding crates/gort and bench/go.
fn find_repo(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|d| d.join("crates/gort/Cargo.toml").is_file() && d.join("bench/go").is_dir())
        .map(Path::to_path_buf)
}

fn spinner(msg: String) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message(msg);
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// Runs a command in `dir`, returning its stdout; stderr passes through (progress, errors).
fn capture(mut cmd: Command, dir: &Path, what: &str) -> Result<String> {
    let pb = spinner(format!("running {what} ..."));
    let out = cmd
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {what}"))?;
    pb.finish_and_clear();
    if !out.status.success() {
        bail!("{what} failed ({})", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `Name-P` -> `Name`.
fn base_name(name: &str) -> &str {
    match name.rsplit_once('-') {
        Some((base, p)) if p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty() => base,
        _ => name,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// name -> unit -> median value.
type Table = BTreeMap<String, BTreeMap<String, f64>>;

fn medians(results: &[BenchResult]) -> Table {
    let mut raw: BTreeMap<String, BTreeMap<String, Vec<f64>>> = BTreeMap::new();
    for r in results {
        let e = raw.entry(base_name(&r.name).to_string()).or_default();
        for (v, unit) in &r.values {
            e.entry(unit.clone()).or_default().push(*v);
        }
    }
    raw.into_iter()
        .map(|(n, units)| (n, units.into_iter().map(|(u, v)| (u, median(v))).collect()))
        .collect()
}

fn fmt_num(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v >= 100.0 || v == v.trunc() => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
    }
}

/// The side-by-side table (pure: used by the tests on canned outputs).
pub fn render(gort: &[BenchResult], go: &[BenchResult]) -> String {
    let g = medians(gort);
    let o = medians(go);
    let names: Vec<&String> = g.keys().filter(|n| o.contains_key(*n)).collect();
    let mut s = String::new();
    s.push_str(&format!(
        "{:<28} {:>12} {:>12} {:>8}   {:>9} {:>9}   {:>11} {:>9}\n",
        "benchmark",
        "gort ns/op",
        "go ns/op",
        "ratio",
        "gort B/op",
        "go B/op",
        "gort allocs",
        "go allocs"
    ));
    let mut log_sum = 0.0;
    let mut n = 0usize;
    for name in &names {
        let (gu, ou) = (&g[*name], &o[*name]);
        let (gt, ot) = (gu.get("ns/op").copied(), ou.get("ns/op").copied());
        let ratio = match (gt, ot) {
            (Some(a), Some(b)) if a > 0.0 && b > 0.0 => {
                log_sum += (a / b).ln();
                n += 1;
                format!("{:.2}x", a / b)
            }
            _ => "-".into(),
        };
        s.push_str(&format!(
            "{:<28} {:>12} {:>12} {:>8}   {:>9} {:>9}   {:>11} {:>9}\n",
            name,
            fmt_num(gt),
            fmt_num(ot),
            ratio,
            fmt_num(gu.get("B/op").copied()),
            fmt_num(ou.get("B/op").copied()),
            fmt_num(gu.get("allocs/op").copied()),
            fmt_num(ou.get("allocs/op").copied()),
        ));
    }
    if n > 0 {
        s.push_str(&format!(
            "{:<28} {:>12} {:>12} {:>7.2}x\n",
            "geomean",
            "",
            "",
            (log_sum / n as f64).exp()
        ));
    }
    let only = |a: &Table, b: &Table| -> Vec<String> {
        a.keys().filter(|k| !b.contains_key(*k)).cloned().collect()
    };
    let (og, oo) = (only(&g, &o), only(&o, &g));
    if !og.is_empty() {
        s.push_str(&format!("only gort ran: {}\n", og.join(", ")));
    }
    if !oo.is_empty() {
        s.push_str(&format!("only Go ran: {}\n", oo.join(", ")));
    }
    s.push_str("ratio = gort time / Go time (below 1.00x: gort is faster)\n");
    s
}

/// Runs `gort bench`.
pub fn main(a: BenchArgs) -> Result<i32> {
    let cwd = std::env::current_dir()?;
    let repo = match &a.repo {
        Some(r) => r.clone(),
        None => find_repo(&cwd).context(
            "cannot find the gort repository (crates/gort and bench/go) above the current \
             directory; pass --repo",
        )?,
    };
    let go_missing = a.compare_go && Command::new("go").arg("version").output().is_err();
    if go_missing {
        bail!(
            "--compare-go needs Go on PATH (https://go.dev/dl, or `apt-get install golang`); \
             gort bench installs nothing"
        );
    }
    let flags = [
        "-bench".to_string(),
        a.bench.clone(),
        "-benchtime".into(),
        a.benchtime.clone(),
        "-count".into(),
        a.count.to_string(),
        "-benchmem".into(),
    ];
    let mut cargo = Command::new("cargo");
    cargo.args(["bench", "-q", "-p", "gort"]);
    for t in &a.targets {
        cargo.args(["--bench", t]);
    }
    cargo.arg("--").args(&flags);
    let gort_out = capture(cargo, &repo, "gort benchmarks (cargo bench)")?;
    print!("{gort_out}");
    let gort = benchfmt::parse(&gort_out);
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("gort.txt"), &gort_out)?;
    }
    if !a.compare_go {
        return Ok(0);
    }
    let mut go = Command::new("go");
    go.args(["test", "-run", "^$"]).args(&flags);
    let go_out = capture(go, &repo.join("bench/go"), "Go benchmarks (go test -bench)")?;
    print!("{go_out}");
    if let Some(dir) = &a.out {
        std::fs::write(dir.join("go.txt"), &go_out)?;
    }
    println!();
    print!("{}", render(&gort, &benchfmt::parse(&go_out)));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_by_name_and_computes_ratios() {
        let gort = benchfmt::parse(
            "goos: linux\nBenchmarkSpawn-2 \t 1000\t 200.0 ns/op\t 64 B/op\t 2 allocs/op\n\
             BenchmarkSpawn-2 \t 1000\t 220.0 ns/op\t 64 B/op\t 2 allocs/op\n\
             BenchmarkYield-2 \t 1000\t 20.0 ns/op\nBenchmarkOnlyGort 1 1 ns/op\n",
        );
        let go = benchfmt::parse(
            "BenchmarkSpawn-2 \t 1000\t 400.0 ns/op\t 0 B/op\t 0 allocs/op\n\
             BenchmarkYield-2 \t 1000\t 80.0 ns/op\nBenchmarkOnlyGo-2 1 1 ns/op\n",
        );
        let t = render(&gort, &go);
        let spawn = t.lines().find(|l| l.starts_with("Spawn ")).unwrap();
        assert!(
            spawn.contains(" 210 ") && spawn.contains(" 400 ") && spawn.contains("0.53x"),
            "{t}"
        );
        let yield_ = t.lines().find(|l| l.starts_with("Yield ")).unwrap();
        assert!(yield_.contains("0.25x"), "{t}");
        // geomean of 0.525 and 0.25 = 0.362
        assert!(
            t.lines()
                .any(|l| l.starts_with("geomean") && l.contains("0.36x")),
            "{t}"
        );
        assert!(t.contains("only gort ran: OnlyGort"), "{t}");
        assert!(t.contains("only Go ran: OnlyGo"), "{t}");
    }

    #[test]
    fn base_names() {
        assert_eq!(base_name("Spawn-2"), "Spawn");
        assert_eq!(base_name("Spawn"), "Spawn");
        assert_eq!(base_name("Sub/case-x-16"), "Sub/case-x");
    }
}
