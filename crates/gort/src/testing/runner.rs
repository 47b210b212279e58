//! Entry points: the benchmark binary's `main`, and `benchmark` for use from tests.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use super::b::{Ctx, B};
use super::benchtime::BenchTime;
use super::flags::Config;
use super::matcher::Matcher;
use super::output::{Output, Progress};
use super::parallel;
use super::result::{benchmark_name, BenchmarkResult};

/// A benchmark function, as listed for [`main`].
pub type BenchFn = fn(&mut B);

/// Runs the benchmarks as `go test -bench` would, with flags from `std::env::args()`, and
/// exits the process (0 = all passed, 1 = a benchmark failed, 2 = bad flags).
///
/// Names are given without the `Benchmark` prefix (`("Spawn", bench_spawn)` prints
/// `BenchmarkSpawn`). The `pkg:` line names `$CARGO_PKG_NAME` (set by `cargo bench`), else the
/// executable's name.
pub fn main(benchmarks: &[(&str, BenchFn)]) -> ! {
    let pkg = std::env::var("CARGO_PKG_NAME").unwrap_or_else(|_| {
        std::env::args()
            .next()
            .and_then(|a| {
                std::path::Path::new(&a)
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
            })
            .unwrap_or_default()
    });
    main_with_pkg(&pkg, benchmarks)
}

/// [`main`] with an explicit `pkg:` name.
pub fn main_with_pkg(pkg: &str, benchmarks: &[(&str, BenchFn)]) -> ! {
    let (code, _) = run_main(pkg, benchmarks, std::env::args().skip(1), Output::new);
    std::process::exit(code)
}

/// Everything `main` does except exiting; `make_output(json, pkg)` chooses where text goes.
/// Returns the exit code and the captured text (empty unless the output captures).
pub(crate) fn run_main(
    pkg: &str,
    benchmarks: &[(&str, BenchFn)],
    args: impl IntoIterator<Item = String>,
    make_output: impl FnOnce(bool, &str) -> Output,
) -> (i32, String) {
    let start = Instant::now();
    let mut cfg = match Config::parse(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return (2, String::new());
        }
    };
    // The settings every gort program honours (`prof::EnvSession`), where no flag says
    // otherwise: `gort doctor` profiles a benchmark binary and a plain program the same way.
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    cfg.cpuprofile = cfg.cpuprofile.take().or_else(|| env("GORT_CPUPROFILE"));
    cfg.memprofile = cfg.memprofile.take().or_else(|| env("GORT_MEMPROFILE"));
    cfg.trace = cfg.trace.take().or_else(|| env("GORT_TRACE"));
    let tracing = match super::trace_flag::start(cfg.trace.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return (2, String::new());
        }
    };
    if cfg.benchmem && !crate::alloc::is_counting() {
        eprintln!(
            "gort: -benchmem: gort::alloc::CountingAlloc is not the global allocator; \
             B/op and allocs/op will read 0"
        );
    }
    if let Some(run) = &cfg.run {
        if let Err(e) = Matcher::for_flag(run, "-test.run") {
            eprintln!("testing: invalid regexp for -test.run: {e}");
            return (1, String::new());
        }
    }
    let mut matcher = match Matcher::new(&cfg.bench) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("testing: invalid regexp for -test.bench: {e}");
            return (1, String::new());
        }
    };
    let cpus = if cfg.cpu.is_empty() {
        vec![parallel::gomaxprocs()]
    } else {
        cfg.cpu.clone()
    };
    let maxprocs = cpus.iter().copied().max().unwrap_or(1).max(1);
    let ext_len = benchmark_name("", maxprocs).len();
    let mut max_len = 0;
    let mut selected = Vec::new();
    for &(name, f) in benchmarks {
        let full = if name.starts_with("Benchmark") {
            name.to_string()
        } else {
            format!("Benchmark{name}")
        };
        if matcher.full_name(None, &full).1 {
            max_len = max_len.max(benchmark_name(&full, maxprocs).len() + ext_len + 1);
            selected.push((full, f));
        }
    }
    let profiles = match super::profiles::Profiles::start(&cfg) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            let _ = super::trace_flag::stop(tracing);
            return (2, String::new());
        }
    };
    let mut out = make_output(cfg.json, pkg);
    out.start();
    let progress = Progress::new(cfg.verbose);
    let ctx = Rc::new(RefCell::new(Ctx {
        cfg,
        matcher,
        max_len,
        ext_len,
        pkg: pkg.to_string(),
        out,
        progress,
        labels_printed: false,
        failed: false,
        results: Vec::new(),
    }));
    let mut main = B::new(ctx.clone(), "Main".into(), 0);
    for (full, f) in &selected {
        main.run(full, f);
    }
    let mut c = ctx.borrow_mut();
    let mut ok = !c.failed;
    if let Err(e) = super::trace_flag::stop(tracing) {
        eprintln!("{e}");
        ok = false;
    }
    if let Err(e) = profiles.finish() {
        eprintln!("{e}");
        ok = false;
    }
    c.out.finish(ok, start.elapsed().as_secs_f64());
    (if ok { 0 } else { 1 }, c.out.captured().to_string())
}

/// Runs `f` as a benchmark for `benchtime` without printing anything, and returns its result
/// (Go's `testing.Benchmark`, with the duration as an argument). A failed (panicking)
/// benchmark returns the zero result.
pub fn benchmark(benchtime: BenchTime, mut f: impl FnMut(&mut B)) -> BenchmarkResult {
    let cfg = Config {
        benchtime,
        bench_mode: true,
        ..Config::default()
    };
    let ctx = Rc::new(RefCell::new(Ctx {
        matcher: Matcher::new(&cfg.bench).expect("`.` is a valid pattern"),
        cfg,
        max_len: 0,
        ext_len: 0,
        pkg: String::new(),
        out: Output::capturing(false, ""),
        progress: Progress::new(false),
        labels_printed: true,
        failed: false,
        results: Vec::new(),
    }));
    let mut main = B::new(ctx.clone(), "Main".into(), 0);
    main.run("Benchmark", &mut f);
    let mut c = ctx.borrow_mut();
    c.results.pop().map(|(_, r)| r).unwrap_or_default()
}

/// `bench_alloc_vec` -> `AllocVec`: the name [`benchmarks!`](crate::benchmarks) gives a
/// function (a leading `bench_` or `benchmark_` is dropped, words are capitalised).
pub fn name_from_fn(f: &str) -> String {
    let f = f
        .strip_prefix("benchmark_")
        .or_else(|| f.strip_prefix("bench_"))
        .unwrap_or(f);
    f.split('_')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(first) => first.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::black_box;

    fn run(args: &str, benches: &[(&str, BenchFn)]) -> (i32, String) {
        run_main(
            "gort",
            benches,
            args.split_whitespace().map(String::from),
            Output::capturing,
        )
    }

    fn bench_noop(b: &mut B) {
        for _ in b.iter() {
            std::hint::black_box(());
        }
    }

    fn bench_panics(_: &mut B) {
        panic!("boom");
    }

    fn bench_subs(b: &mut B) {
        b.run("small", |b| b.report_metric(1.5, "things/op"));
        b.run("large size", |b| b.set_bytes(1 << 20));
    }

    #[test]
    fn names_from_functions() {
        assert_eq!(name_from_fn("bench_alloc_vec"), "AllocVec");
        assert_eq!(name_from_fn("ping_pong"), "PingPong");
        assert_eq!(name_from_fn("benchmark_x"), "X");
    }

    #[inline(never)]
    fn bench_burn_for_profile(b: &mut B) {
        let mut x = 0u64;
        for _ in b.iter() {
            let until = Instant::now() + std::time::Duration::from_millis(20);
            while Instant::now() < until {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            std::hint::black_box(vec![0u8; 100_000]);
        }
    }

    #[test]
    fn profile_flags_write_profiles() {
        let _serial = crate::prof::TEST_LOCK
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let dir = std::env::temp_dir().join(format!("gort-harness-prof-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = |n: &str| dir.join(n).display().to_string();
        let args = format!(
            "-benchtime 10x -cpuprofile {} -memprofile {} -memprofilerate 4096 \
             -mutexprofile {} -blockprofile {} --bench",
            p("cpu.pprof"),
            p("mem.pprof"),
            p("mutex.pprof"),
            p("block.pprof")
        );
        let (code, _) = run(&args, &[("Burn", bench_burn_for_profile)]);
        assert_eq!(code, 0);
        for (name, needle) in [
            ("cpu.pprof", "samples"),
            ("mem.pprof", "alloc_space"),
            ("mutex.pprof", "contentions"),
            ("block.pprof", "delay"),
        ] {
            let gz = std::fs::read(p(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            let mut raw = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut raw)
                .unwrap_or_else(|e| panic!("{name} is not gzip: {e}"));
            let has = |s: &str| raw.windows(s.len()).any(|w| w == s.as_bytes());
            assert!(has(needle), "{name} lacks {needle}");
        }
        // The CPU profile covers the benchmark: 10 x 20 ms of spinning gives samples in it.
        let cpu = std::fs::read(p("cpu.pprof")).unwrap();
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&cpu[..]), &mut raw).unwrap();
        let name = b"bench_burn_for_profile";
        assert!(
            raw.windows(name.len()).any(|w| w == name),
            "no samples in the benchmark"
        );
        crate::alloc::set_mem_profile_rate(crate::alloc::DEFAULT_MEM_PROFILE_RATE);
        crate::prof::set_mutex_profile_fraction(0);
        crate::prof::set_block_profile_rate(0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn profile_flags_exit_2() {
        assert_eq!(
            run("-trace=/nonexistent/t.out", &[("Noop", bench_noop)]).0,
            2
        );
        assert_eq!(
            run("-cpuprofile=/nonexistent/c.out", &[("Noop", bench_noop)]).0,
            2
        );
        assert_eq!(run("-bogus", &[("Noop", bench_noop)]).0, 2);
    }

    #[test]
    fn prints_go_format() {
        let benches: &[(&str, BenchFn)] = &[("Noop", bench_noop), ("Subs", bench_subs)];
        let (code, out) = run("-benchtime 3x -benchmem -cpu 1,2 --bench", benches);
        assert_eq!(code, 0);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], format!("goos: {}", super::super::sysinfo::goos()));
        assert_eq!(
            lines[1],
            format!("goarch: {}", super::super::sysinfo::goarch())
        );
        assert_eq!(lines[2], "pkg: gort");
        let first = lines
            .iter()
            .position(|l| l.starts_with("Benchmark"))
            .unwrap();
        // Width: "BenchmarkNoop-2" (15) + len("-2") + 1 = 18; "BenchmarkSubs/small" (19)
        // then grows it to 19 + 2 + 1 + 8 slack = 30, as Go does.
        assert!(
            lines[first].starts_with("BenchmarkNoop     \t       3\t"),
            "{out}"
        );
        assert!(lines[first].ends_with(" B/op\t       0 allocs/op"));
        assert!(lines[first + 1].starts_with("BenchmarkNoop-2   "));
        let rest = &lines[first + 2..];
        assert!(
            rest[0].starts_with("BenchmarkSubs/small           \t"),
            "{out}"
        );
        assert!(rest[0].contains("\t         1.500 things/op\t"), "{out}");
        assert!(rest
            .iter()
            .any(|l| l.starts_with("BenchmarkSubs/large_size-2 ")));
        assert!(rest.iter().any(|l| l.contains(" MB/s")));
        assert_eq!(lines[lines.len() - 2], "PASS");
        assert!(lines[lines.len() - 1].starts_with("ok  \tgort\t"));
        assert!(lines[lines.len() - 1].ends_with('s'));
    }

    #[test]
    fn filters_and_fails() {
        let benches: &[(&str, BenchFn)] = &[("Noop", bench_noop), ("Panics", bench_panics)];
        let (code, out) = run("-bench Noop -benchtime 1x --bench", benches);
        assert_eq!(code, 0);
        assert!(!out.contains("Panics"));
        let (code, out) = run("-bench Panics --bench", benches);
        assert_eq!(code, 1);
        assert!(
            out.contains("--- FAIL: BenchmarkPanics\n    boom\n"),
            "{out}"
        );
        assert!(out.ends_with('s') || out.contains("FAIL\tgort\t"));
        let (code, out) = run("-bench Nothing --bench", benches);
        assert_eq!((code, out.lines().next()), (0, Some("PASS")));
    }

    /// Spins for `us` microseconds (sleeping would let a loaded machine stretch it further).
    fn spin_us(us: u64) {
        let until = Instant::now() + std::time::Duration::from_micros(us);
        while Instant::now() < until {
            std::hint::spin_loop();
        }
    }

    #[test]
    fn loop_times_only_the_loop() {
        use std::time::Duration;
        // A fixed count: the function is called once, the loop runs exactly N times, b.n()
        // reads 0 inside and N after.
        let (mut calls, mut iters, mut inside, mut after) = (0, 0, u64::MAX, 0);
        let r = benchmark(BenchTime::Count(7), |b| {
            calls += 1;
            while b.loop_() {
                iters += 1;
                inside = b.n();
            }
            after = b.n();
        });
        assert_eq!((calls, iters, r.n, inside, after), (1, 7, 7, 0, 7));

        // A duration: one call grows its own count until the loop lasts 20 ms; setup and
        // cleanup (100 ms each) are not timed.
        let (mut calls, mut iters) = (0, 0u64);
        let r = benchmark(BenchTime::Duration(Duration::from_millis(20)), |b| {
            calls += 1;
            spin_us(100_000);
            while b.loop_() {
                iters += 1;
                spin_us(100);
            }
            spin_us(100_000);
        });
        assert_eq!(calls, 1);
        assert_eq!(r.n, iters);
        assert!(r.n > 20, "{r:?}");
        assert!(r.t >= Duration::from_millis(20), "{r:?}");
        assert!(
            r.t < Duration::from_millis(100),
            "setup or cleanup was timed: {r:?}"
        );
    }

    static LOOP_CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    fn bench_loop(b: &mut B) {
        LOOP_CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        while b.loop_() {
            black_box(());
        }
    }

    fn bench_loop_breaks(b: &mut B) {
        let mut i = 0;
        while b.loop_() {
            i += 1;
            if i == 1 {
                break; // the mistake Go reports: leaving the loop before it returned false
            }
        }
    }

    fn bench_loop_timer_stopped(b: &mut B) {
        b.stop_timer();
        while b.loop_() {}
    }

    #[test]
    fn loop_in_the_harness() {
        // One call per measurement: -count 2 times -cpu 1,2 is 4 calls, 4 result lines of 5.
        let (code, out) = run(
            "-benchtime 5x -count 2 -cpu 1,2 --bench",
            &[("Loop", bench_loop)],
        );
        assert_eq!(code, 0, "{out}");
        assert_eq!(LOOP_CALLS.load(std::sync::atomic::Ordering::Relaxed), 4);
        let lines: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("BenchmarkLoop"))
            .collect();
        assert_eq!(lines.len(), 4, "{out}");
        assert!(lines.iter().all(|l| l.contains("\t       5\t")), "{out}");

        let (code, out) = run("--bench -benchtime 1x", &[("Breaks", bench_loop_breaks)]);
        assert_eq!(code, 1);
        assert!(
            out.contains(
                "--- FAIL: BenchmarkBreaks\n    benchmark function returned without \
                 B.Loop() == false (break or return in loop?)\n"
            ),
            "{out}"
        );
        let (code, out) = run("--bench", &[("Stopped", bench_loop_timer_stopped)]);
        assert_eq!(code, 1);
        assert!(out.contains("B.Loop called with timer stopped"), "{out}");
        // Under `cargo test` (no --bench), one iteration, as for b.n() benchmarks.
        let r = benchmark(BenchTime::Count(1), bench_loop);
        assert_eq!(r.n, 1);
    }

    #[test]
    fn run_and_bench_take_go_regexps() {
        let benches: &[(&str, BenchFn)] = &[("PingPong", bench_noop), ("Spawn", bench_noop)];
        let (code, out) = run("-bench (?i)pingpong -benchtime 1x --bench", benches);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("BenchmarkPingPong") && !out.contains("BenchmarkSpawn"));
        let (code, out) = run(
            r"-bench ^\pLenchmark\p{Lu}[[:lower:]]+?n$ -benchtime 1x --bench",
            benches,
        );
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("BenchmarkSpawn") && !out.contains("BenchmarkPingPong"));
        // -run selects no tests here, but its pattern must be valid, as in Go.
        let (code, out) = run("-run ^$ -bench Spawn -benchtime 1x --bench", benches);
        assert_eq!(code, 0, "{out}");
        assert_eq!(run("-run ( --bench", benches).0, 1);
        assert_eq!(run("-bench ( --bench", benches).0, 1);
    }

    #[test]
    fn json_events() {
        let (code, out) = run("-json -benchtime 2x --bench", &[("Noop", bench_noop)]);
        assert_eq!(code, 0);
        assert!(out
            .lines()
            .all(|l| l.starts_with("{\"Time\":\"") && l.ends_with('}')));
        assert!(out.contains("\"Action\":\"start\""));
        assert!(out.contains("\"Output\":\"BenchmarkNoop"));
        assert!(out.contains("\"Action\":\"pass\""));
    }
}
