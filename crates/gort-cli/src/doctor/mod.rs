//! `gort doctor`: run a benchmark under the playbook and name the bottleneck.
//!
//! Evidence comes from three places: the CPU profile (which class of
//! runtime work the samples fall in, see [`classify`]), the benchmark
//! output (allocs/op, B/op) and the GC trace (GC CPU %, cycles). The
//! verdict is the class with the largest share of CPU samples if it holds
//! at least 15% (allocation and GC count together, since one causes the
//! other); otherwise the program is CPU-bound in its own code. Each
//! candidate fix from the playbook is printed with the numbers that point
//! to it, so a reader can check the reasoning rather than trust it.

pub mod classify;
pub mod escape;
pub mod run;

use crate::cli::DoctorArgs;
use crate::pprof::{graph, proto};
use anyhow::{Context, Result};
use classify::{classify, Breakdown, Class};
use std::fmt::Write as _;

/// Share of CPU samples at which a class is called the bottleneck.
pub const VERDICT_SHARE: f64 = 15.0;

/// Inputs for the analysis (all optional but the CPU profile).
#[derive(Default)]
pub struct Evidence {
    pub cpu: Option<proto::Profile>,
    pub mem: Option<proto::Profile>,
    pub bench: Option<String>,
    pub gctrace: Option<String>,
    /// The program's own warnings about its build (missing frame pointers or debug info),
    /// repeated in the report.
    pub build_notes: Vec<String>,
    /// For `go test` runs: the compiler's escape diagnostics for the tested packages
    /// (`go test -c -gcflags=-m`), joined with the heap profile's hottest sites; `Err`: why
    /// they could not be had.
    pub escapes: Option<std::result::Result<Vec<escape::Escape>, String>>,
}

/// The build-settings warnings gort's profiler printed (a `gort: profiles ` line and the
/// indented lines after it), one string each.
pub fn build_notes(stderr: &str) -> Vec<String> {
    let mut notes: Vec<String> = Vec::new();
    let mut open = false;
    for line in stderr.lines() {
        if line.starts_with("gort: profiles ") {
            if !notes.iter().any(|n| n.lines().next() == Some(line)) {
                notes.push(line.to_string());
                open = true;
            } else {
                open = false;
            }
        } else if open && line.starts_with("    ") {
            let last = notes.last_mut().expect("open");
            last.push('\n');
            last.push_str(line);
        } else {
            open = false;
        }
    }
    notes
}

/// Entry point: returns the exit code.
pub fn main(a: DoctorArgs) -> Result<i32> {
    let mut ev = Evidence::default();
    let mut exit = 0;
    if !a.command.is_empty() {
        let (dir, cleanup) = match &a.keep {
            Some(d) => {
                std::fs::create_dir_all(d)
                    .with_context(|| format!("cannot create {}", d.display()))?;
                (std::path::PathBuf::from(d), false)
            }
            None => {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos());
                let d = std::env::temp_dir()
                    .join(format!("gort-doctor-{}-{nanos}", std::process::id()));
                std::fs::create_dir_all(&d)
                    .with_context(|| format!("cannot create {}", d.display()))?;
                (d, true)
            }
        };
        let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
        let out = run::run(&a.command, &dir);
        let result = (|| -> Result<()> {
            let out = out?;
            if !out.status.success() {
                eprintln!("gort doctor: the command exited with {}", out.status);
                exit = 1;
            }
            ev.build_notes = build_notes(&out.stderr);
            ev.cpu = Some(proto::load(out.cpu.display().to_string())?);
            ev.mem = proto::load(out.mem.display().to_string()).ok();
            // `go test` writes the test binary's output (results and its
            // gctrace) to stdout; the go command's own GC lines go to stderr.
            let go_test = a.command.get(1).map(String::as_str) == Some("test");
            ev.bench = Some(crate::benchfmt::untangle_gctrace(&format!(
                "{}\n{}",
                out.stdout, out.stderr
            )));
            ev.gctrace = Some(if go_test {
                out.stdout.clone()
            } else {
                format!("{}\n{}", out.stderr, out.stdout)
            });
            if go_test && ev.mem.is_some() {
                ev.escapes = Some(escapes_of(&a.command, &dir));
            }
            Ok(())
        })();
        if cleanup {
            let _ = std::fs::remove_dir_all(&dir);
        } else {
            eprintln!("gort doctor: profiles kept in {}", dir.display());
        }
        result?;
    } else {
        let Some(p) = &a.profile else {
            eprintln!("gort doctor: give a command after `--`, or --profile FILE (see gort doctor --help)");
            return Ok(2);
        };
        ev.cpu = Some(proto::load(p)?);
    }
    if let Some(m) = &a.memprofile {
        ev.mem = Some(proto::load(m)?);
    }
    if let Some(b) = &a.bench {
        ev.bench = Some(crate::input::read_text(b)?);
    }
    if let Some(g) = &a.gctrace {
        ev.gctrace = Some(crate::input::read_text(g)?);
    }
    let report = analyze(&ev)?;
    let mut out = std::io::stdout().lock();
    let _ = std::io::Write::write_all(&mut out, report.as_bytes());
    Ok(exit)
}

/// The escape diagnostics of the packages `go test` ran (see [`escape`]).
fn escapes_of(
    cmd: &[String],
    dir: &std::path::Path,
) -> std::result::Result<Vec<escape::Escape>, String> {
    let bins = dir.join("escape-bins");
    std::fs::create_dir_all(&bins).map_err(|e| format!("cannot create {}: {e}", bins.display()))?;
    let argv = escape::compile_command(cmd, &bins).ok_or("not a go test command")?;
    eprintln!("gort doctor: escape analysis: {}", argv.join(" "));
    let out = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", argv[0]))?;
    let text = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let first = text.lines().find(|l| !l.starts_with('#')).unwrap_or("");
        return Err(format!(
            "{} exited with {}: {first}",
            argv.join(" "),
            out.status
        ));
    }
    Ok(escape::parse(&text))
}

/// The verdict: the class named and its share.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub label: String,
    pub classes: Vec<Class>,
    pub share: f64,
}

/// Picks the bottleneck from a breakdown.
pub fn verdict(b: &Breakdown) -> Verdict {
    let candidates: Vec<(String, Vec<Class>)> = vec![
        ("allocation/GC".into(), vec![Class::Alloc, Class::Gc]),
        ("lock contention".into(), vec![Class::Lock]),
        ("system calls".into(), vec![Class::Syscall]),
        ("network poller".into(), vec![Class::Poller]),
        ("scheduler/channels".into(), vec![Class::Sched, Class::Chan]),
    ];
    let mut best = Verdict {
        label: "CPU-bound in user code".into(),
        classes: vec![Class::User],
        share: b.share(Class::User),
    };
    let mut best_share = 0.0;
    for (label, classes) in candidates {
        let share: f64 = classes.iter().map(|c| b.share(*c)).sum();
        if share > best_share && share >= VERDICT_SHARE {
            best_share = share;
            best = Verdict {
                label,
                classes,
                share,
            };
        }
    }
    best
}

struct BenchRow {
    name: String,
    ns: Option<f64>,
    bytes: Option<f64>,
    allocs: Option<f64>,
}

fn bench_rows(text: &str) -> Vec<BenchRow> {
    let results = crate::benchfmt::parse(text);
    let mut names: Vec<String> = Vec::new();
    for r in &results {
        if !names.contains(&r.name) {
            names.push(r.name.clone());
        }
    }
    let med = |name: &str, unit: &str| {
        let v: Vec<f64> = results
            .iter()
            .filter(|r| r.name == name)
            .flat_map(|r| r.values.iter().filter(|(_, u)| u == unit).map(|(v, _)| *v))
            .collect();
        if v.is_empty() {
            None
        } else {
            Some(crate::benchstat::stats::summarize(&v).center)
        }
    };
    names
        .iter()
        .map(|n| BenchRow {
            name: n.clone(),
            ns: med(n, "ns/op"),
            bytes: med(n, "B/op"),
            allocs: med(n, "allocs/op"),
        })
        .collect()
}

fn pct_of(v: i64, total: i64) -> f64 {
    if total == 0 {
        0.0
    } else {
        100.0 * v as f64 / total as f64
    }
}

/// Produces the doctor's report.
pub fn analyze(ev: &Evidence) -> Result<String> {
    let cpu = ev.cpu.as_ref().context("no CPU profile to analyse")?;
    let idx = graph::sample_index(cpu, None)?;
    let st = graph::stacks(cpu, idx)?;
    let b = classify(&st);
    let v = verdict(&b);
    let mut o = String::new();
    let unit = &st.sample_unit;
    let fmt = |x: i64| crate::pprof::units::label(x, unit, "auto");
    let _ = writeln!(
        o,
        "Bottleneck: {} ({:.1}% of {} {} samples)",
        v.label,
        v.share,
        fmt(b.total),
        st.sample_type
    );
    let _ = writeln!(
        o,
        "\nCPU by class (each sample charged to the outermost runtime frame that matches):"
    );
    let mut classes: Vec<(Class, i64)> = b.by_class.iter().map(|(c, v)| (*c, *v)).collect();
    classes.sort_by_key(|x| std::cmp::Reverse(x.1));
    for (c, val) in &classes {
        let _ = writeln!(
            o,
            "  {:>6.1}%  {:>10}  {}",
            pct_of(*val, b.total),
            fmt(*val),
            c.name()
        );
    }
    let _ = writeln!(o, "\nEvidence:");
    for c in &v.classes {
        for (name, val) in b.top(*c, 5) {
            let _ = writeln!(
                o,
                "  {:>6.1}%  {}  ({})",
                pct_of(val, b.total),
                name,
                c.name()
            );
        }
    }
    // Flat top-5 from the profile for context.
    let g = graph::graph(&st, 0.0);
    let _ = writeln!(o, "  top functions by flat CPU:");
    for n in g.nodes.iter().take(5) {
        let _ = writeln!(
            o,
            "    {:>6.1}% flat {:>6.1}% cum  {}",
            pct_of(n.flat, g.total),
            pct_of(n.cum, g.total),
            n.name
        );
    }
    let benches = ev.bench.as_deref().map(bench_rows).unwrap_or_default();
    let gc = ev
        .gctrace
        .as_deref()
        .map(crate::gctrace::parse::parse)
        .filter(|t| !t.cycles.is_empty());
    if !benches.is_empty() {
        let _ = writeln!(o, "  benchmarks (median): ");
        for r in &benches {
            let f = |x: Option<f64>, u: &str| x.map_or(String::new(), |x| format!("{x} {u}"));
            let _ = writeln!(
                o,
                "    {:<28} {:>14} {:>12} {:>14}",
                r.name,
                f(r.ns, "ns/op"),
                f(r.bytes, "B/op"),
                f(r.allocs, "allocs/op")
            );
        }
    }
    if let Some(t) = &gc {
        let s = crate::gctrace::report::stats(t);
        let _ = writeln!(
            o,
            "  GC: {} cycles in {:.2}s ({:.1}/s), GC CPU {}% (runtime) / {:.1}% (computed), max STW pause {:.3} ms",
            s.cycles,
            s.seconds,
            if s.seconds > 0.0 { s.cycles as f64 / s.seconds } else { 0.0 },
            s.printed_pct,
            s.computed_pct,
            s.pauses.last().copied().unwrap_or(0.0)
        );
    }
    if let Some(m) = &ev.mem {
        if let Some(st) = graph::sample_index(m, Some("alloc_space"))
            .ok()
            .and_then(|i| graph::stacks(m, i).ok())
        {
            let mg = graph::graph(&st, 0.0);
            let _ = writeln!(o, "  allocation profile (alloc_space, flat):");
            for n in mg.nodes.iter().take(3).filter(|n| n.flat > 0) {
                let _ = writeln!(
                    o,
                    "    {:>10}  {:>5.1}%  {}",
                    crate::pprof::units::label(n.flat, "bytes", "auto"),
                    pct_of(n.flat, mg.total),
                    n.name
                );
            }
        }
    }
    let mut escape_fix = None;
    if let (Some(m), Some(esc)) = (&ev.mem, &ev.escapes) {
        match esc {
            Ok(esc) => {
                let sites = escape::hot_sites(m, 5);
                let joined = escape::join(&sites, esc);
                let _ = writeln!(
                    o,
                    "  why the hottest sites allocate (go test -c -gcflags=-m, {} heap escapes reported):",
                    esc.len()
                );
                for (s, e) in sites.iter().zip(&joined) {
                    let file = s.file.rsplit('/').next().unwrap_or(&s.file);
                    let why = if e.is_empty()
                        && !esc.iter().any(|x| escape::same_file(&s.file, &x.file))
                    {
                        "outside the packages compiled with -m".to_string()
                    } else if e.is_empty() {
                        "no escape reported for this line: on the heap by nature (a make of non-constant size, a map, append's growth)".to_string()
                    } else {
                        e.iter()
                            .map(|e| e.what.as_str())
                            .collect::<Vec<_>>()
                            .join("; ")
                    };
                    let _ = writeln!(
                        o,
                        "    {:>5.1}%  {:>10}  {}  {file}:{}: {why}",
                        s.share,
                        crate::pprof::units::label(s.bytes, "bytes", "auto"),
                        s.func,
                        s.line
                    );
                    if escape_fix.is_none() {
                        if let Some(first) = e.first() {
                            escape_fix = Some(format!(
                                "{file}:{} ({}, {:.1}% of allocated bytes): {}",
                                s.line, s.func, s.share, first.what
                            ));
                        }
                    }
                }
            }
            Err(why) => {
                let _ = writeln!(o, "  escape analysis unavailable: {why}");
            }
        }
    }
    let _ = writeln!(o, "\nCandidate fixes:");
    for line in advice(&v, &b, &benches, gc.as_ref(), escape_fix.as_deref()) {
        let _ = writeln!(o, "  - {line}");
    }
    if !ev.build_notes.is_empty() {
        let _ = writeln!(
            o,
            "\nBuild settings (the evidence above is incomplete until fixed):"
        );
        for n in &ev.build_notes {
            let _ = writeln!(o, "  - {}", n.replace('\n', "\n    "));
        }
    }
    Ok(o)
}

fn advice(
    v: &Verdict,
    b: &Breakdown,
    benches: &[BenchRow],
    gc: Option<&crate::gctrace::parse::Trace>,
    escape_fix: Option<&str>,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut allocating: Vec<&BenchRow> = benches
        .iter()
        .filter(|r| r.allocs.unwrap_or(0.0) > 0.0)
        .collect();
    allocating.sort_by(|x, y| y.allocs.unwrap_or(0.0).total_cmp(&x.allocs.unwrap_or(0.0)));
    let alloc_list = allocating
        .iter()
        .take(3)
        .map(|r| {
            format!(
                "{} {} allocs/op, {} B/op",
                r.name,
                r.allocs.unwrap_or(0.0),
                r.bytes.unwrap_or(0.0)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let primary = v.classes.first().copied().unwrap_or(Class::User);
    match primary {
        Class::Alloc | Class::Gc => {
            // Go's growth entry points, and Rust's Vec/String growth (RawVec's grow paths).
            let is_growth = |f: &str| {
                ["runtime.growslice", "runtime.makeslice", "runtime.makemap"].contains(&f)
                    || (f.contains("raw_vec") && (f.contains("grow") || f.contains("reserve")))
            };
            let growth: i64 = b
                .by_func
                .get(&Class::Alloc)
                .map(|m| m.iter().filter(|(f, _)| is_growth(f)).map(|(_, v)| *v).sum())
                .unwrap_or(0);
            out.push(format!(
                "Preallocate: size slices, maps and builders up front (Go: make(T, 0, n), strings.Builder.Grow; Rust: Vec/String::with_capacity); allocation holds {:.1}% of CPU, slice/map growth {:.1}%{}",
                b.share(Class::Alloc),
                pct_of(growth, b.total),
                if alloc_list.is_empty() { String::new() } else { format!("; {alloc_list}") }
            ));
            if let Some(site) = escape_fix {
                out.push(format!(
                    "Keep values on the stack where the compiler moved them to the heap: {site}; return values rather than pointers, keep pointers out of interfaces, globals and closures that outlive the call, pass a buffer in (go build -gcflags=-m=2 explains each escape)"
                ));
            }
            out.push(format!(
                "Reuse buffers (Go: buf = buf[:0], sync.Pool; Rust: buf.clear() on a buffer kept across calls, gort::sync::Pool) so fewer objects reach the allocator and GC; GC work holds {:.1}% of CPU",
                b.share(Class::Gc)
            ));
            if b.fmt_alloc > 0 {
                out.push(format!(
                    "Avoid formatting into fresh strings on hot paths (Go: strconv.AppendInt, direct byte appends; Rust: write! into a reused String instead of format!/to_string): formatting stacks hold {:.1}% of CPU inside allocation",
                    pct_of(b.fmt_alloc, b.total)
                ));
            }
            let gc_line = match gc {
                Some(t) => {
                    let s = crate::gctrace::report::stats(t);
                    let o = crate::gctrace::whatif::observe(t);
                    let p = crate::gctrace::whatif::predict(
                        &o,
                        &crate::gctrace::whatif::Setting {
                            gogc: Some(o.gogc_estimate * 2.0),
                            memlimit: None,
                            text: String::new(),
                        },
                    );
                    format!(
                        "GC CPU {:.1}% over {} cycles; doubling GOGC (≈{:.0} → {:.0}) models {:.0} cycles and a {:.1} MiB peak heap (see gort gctrace --what-if)",
                        s.computed_pct,
                        s.cycles,
                        o.gogc_estimate,
                        o.gogc_estimate * 2.0,
                        p.cycles.unwrap_or(f64::NAN),
                        p.peak
                    )
                }
                None => "run with GODEBUG=gctrace=1 (or pass --gctrace) to size it".into(),
            };
            out.push(format!(
                "Tune GOGC/GOMEMLIMIT: a higher GOGC trades heap for fewer cycles, GOMEMLIMIT bounds the heap; {gc_line}"
            ));
        }
        Class::Lock => {
            let top = b.top(Class::Lock, 1).first().map(|x| x.0.clone()).unwrap_or_default();
            out.push(format!(
                "Shard the lock (one per CPU or per key) or batch work under it; lock slow paths hold {:.1}% of CPU (top: {top})",
                b.share(Class::Lock)
            ));
            out.push("Shorten critical sections; use sync/atomic for counters and RWMutex for read-mostly data".into());
        }
        Class::Syscall => {
            out.push(format!(
                "Batch system calls (Go: bufio.Writer/Reader; Rust: std::io::BufWriter/BufReader around the socket, flushed once per reply): syscalls hold {:.1}% of CPU",
                b.share(Class::Syscall)
            ));
            out.push("Fewer round trips: gather a reply's parts into one write (writev, Write::write_vectored) instead of one send per line".into());
        }
        Class::Poller => out.push(format!(
            "Fewer, larger network reads and writes and fewer idle wake-ups: the poller holds {:.1}% of CPU",
            b.share(Class::Poller)
        )),
        Class::Sched | Class::Chan => out.push(format!(
            "Use a worker pool instead of a goroutine per item, and batch items per channel operation: scheduler {:.1}%, channels {:.1}% of CPU",
            b.share(Class::Sched),
            b.share(Class::Chan)
        )),
        Class::User => {
            out.push("No runtime bottleneck stands out: optimise the hottest user functions listed above (algorithm, data layout)".into());
            if !alloc_list.is_empty() {
                out.push(format!("Allocation is still visible in the benchmarks: {alloc_list}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pprof::proto::synthetic;

    fn verdict_of(stacks: &[(&[&str], i64)]) -> String {
        let p = synthetic("cpu", "nanoseconds", stacks);
        let st = graph::stacks(&p, 0).expect("stacks");
        verdict(&classify(&st)).label
    }

    #[test]
    fn verdicts() {
        let lock: &[&str] = &[
            "runtime.futex",
            "runtime.lock2",
            "sync.(*Mutex).lockSlow",
            "main.work",
        ];
        let user: &[&str] = &["main.hash", "main.work"];
        let sys: &[&str] = &["syscall.Syscall", "os.(*File).Write", "main.work"];
        let sched: &[&str] = &["runtime.findRunnable", "runtime.schedule", "runtime.mcall"];
        let gc: &[&str] = &["gort::gc::mark::drain", "gort::gc::worker"];
        assert_eq!(verdict_of(&[(lock, 60), (user, 40)]), "lock contention");
        assert_eq!(verdict_of(&[(sys, 30), (user, 70)]), "system calls");
        assert_eq!(verdict_of(&[(sched, 50), (user, 50)]), "scheduler/channels");
        assert_eq!(verdict_of(&[(gc, 20), (user, 80)]), "allocation/GC");
        assert_eq!(
            verdict_of(&[(lock, 5), (user, 95)]),
            "CPU-bound in user code"
        );
    }

    #[test]
    fn analysis_names_fixes_for_locks() {
        let lock: &[&str] = &["sync.(*Mutex).lockSlow", "main.work"];
        let p = synthetic("cpu", "nanoseconds", &[(lock, 80), (&["main.work"], 20)]);
        let text = analyze(&Evidence {
            cpu: Some(p),
            ..Default::default()
        })
        .expect("analyze");
        assert!(
            text.starts_with("Bottleneck: lock contention (80.0%"),
            "{text}"
        );
        assert!(text.contains("Shard the lock"), "{text}");
    }
}

#[cfg(test)]
mod build_note_tests {
    #[test]
    fn build_notes_are_collected_once_each_with_their_fix() {
        let err = "x\ngort: profiles will lack callers: no frame pointers. Add:\n    [build]\n    rustflags = [\"-C\", \"force-frame-pointers=yes\"]\nother\ngort: profiles will lack callers: no frame pointers. Add:\n";
        let n = super::build_notes(err);
        assert_eq!(n.len(), 1);
        assert!(n[0].ends_with("force-frame-pointers=yes\"]"), "{n:?}");
    }
}
