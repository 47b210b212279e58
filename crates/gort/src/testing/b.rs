//! `B`: the state of one benchmark, its timer, and Go's run protocol (`run1`, `processBench`,
//! `launch`, `runN`).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::benchtime::BenchTime;
use super::flags::Config;
use super::matcher::Matcher;
use super::output::{Output, Progress};
use super::parallel;
use super::predict::{self, predict_n};
use super::result::{benchmark_name, BenchmarkResult};
use super::sysinfo;
use crate::alloc::read_alloc_counters;

/// State shared by all benchmarks of one run.
pub(crate) struct Ctx {
    pub(crate) cfg: Config,
    pub(crate) matcher: Matcher,
    /// Width of the name column (Go's `benchState.maxLen`).
    pub(crate) max_len: usize,
    /// Length of the longest `-P` suffix (Go's `benchState.extLen`).
    pub(crate) ext_len: usize,
    pub(crate) pkg: String,
    pub(crate) out: Output,
    pub(crate) progress: Progress,
    pub(crate) labels_printed: bool,
    pub(crate) failed: bool,
    /// All results, in order, with their full names (for callers and tests).
    pub(crate) results: Vec<(String, BenchmarkResult)>,
}

/// A benchmark's handle: Go's `*testing.B`.
///
/// A benchmark function runs the measured code either in a `while b.loop_() { ... }` loop
/// (Go 1.24's `B.Loop`: the function is called once per measurement, and only the loop is
/// timed), or `b.n()` times (`for _ in b.iter() { ... }`), in which case it is called several
/// times with growing `n` until one call lasts `-benchtime`.
pub struct B {
    ctx: Rc<RefCell<Ctx>>,
    name: String,
    level: usize,
    n: u64,
    timer_on: bool,
    start: Instant,
    duration: Duration,
    start_allocs: u64,
    start_bytes: u64,
    net_allocs: u64,
    net_bytes: u64,
    bytes: i64,
    show_alloc: bool,
    extra: BTreeMap<String, f64>,
    has_sub: bool,
    failed: bool,
    panic_msg: String,
    pub(crate) previous_n: u64,
    pub(crate) previous_duration: Duration,
    pub(crate) parallelism: usize,
    round: u32,
    /// `loop_`'s target iteration count (Go's `b.loop.n`); 0 until its first call.
    loop_n: u64,
    /// `loop_`'s iterations so far, with `LOOP_POISON_TIMER` set while the timer is stopped
    /// (Go's `b.loop.i`), so that the fast path is one compare.
    loop_i: u64,
    /// `loop_` has returned `false`.
    loop_done: bool,
}

/// Set in `B::loop_i` while the timer is stopped: sends `loop_` to its slow path, which fails.
const LOOP_POISON_TIMER: u64 = 1 << 63;

impl B {
    pub(crate) fn new(ctx: Rc<RefCell<Ctx>>, name: String, level: usize) -> B {
        B {
            ctx,
            name,
            level,
            n: 0,
            timer_on: false,
            start: Instant::now(),
            duration: Duration::ZERO,
            start_allocs: 0,
            start_bytes: 0,
            net_allocs: 0,
            net_bytes: 0,
            bytes: 0,
            show_alloc: false,
            extra: BTreeMap::new(),
            has_sub: false,
            failed: false,
            panic_msg: String::new(),
            previous_n: 0,
            previous_duration: Duration::ZERO,
            parallelism: 1,
            round: 0,
            loop_n: 0,
            loop_i: 0,
            loop_done: false,
        }
    }

    /// Iterations to run in this call (Go's `b.N`). Inside a [`loop_`](Self::loop_) loop it
    /// reads 0; after the loop, the number of iterations it ran.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// Whether the benchmark should run another iteration: Go 1.24's `B.Loop` (`loop` is a
    /// Rust keyword, hence the underscore).
    ///
    /// ```
    /// fn bench_sort(b: &mut gort::testing::B) {
    ///     let input: Vec<u32> = (0..1000).rev().collect(); // setup: not timed
    ///     while b.loop_() {
    ///         let mut v = gort::testing::black_box(input.clone());
    ///         v.sort();
    ///         gort::testing::black_box(v); // keep the result alive
    ///     }
    ///     // cleanup: not timed
    /// }
    /// let r = gort::testing::benchmark(gort::testing::BenchTime::Count(10), bench_sort);
    /// assert_eq!(r.n, 10);
    /// ```
    ///
    /// As in Go: the first call resets the timer, so setup before the loop is not measured;
    /// the loop itself grows the iteration count until the loop lasts `-benchtime` (or runs
    /// `-benchtime Nx` iterations), so the function is called once per measurement instead of
    /// once per round; when it returns `false` it stops the timer (cleanup after the loop is
    /// not measured) and [`n`](Self::n) becomes the number of iterations run. Go's compiler
    /// keeps the loop body's results alive; in Rust pass inputs and results through
    /// [`black_box`](super::black_box) so the optimiser cannot delete the work.
    ///
    /// # Panics
    ///
    /// The benchmark fails (Go's `b.Fatal`) if it calls `loop_` with the timer stopped, or
    /// returns before `loop_` returned `false` (a `break` or `return` out of the loop).
    #[doc(alias = "Loop")]
    #[inline]
    pub fn loop_(&mut self) -> bool {
        // Fast path: one compare. The first call (0 < 0), the last iteration of a round and a
        // stopped timer (poison bit) take the slow path.
        if self.loop_i < self.loop_n {
            self.loop_i += 1;
            return true;
        }
        self.loop_slow_path()
    }

    /// Go's `loopSlowPath`.
    #[cold]
    #[inline(never)]
    fn loop_slow_path(&mut self) -> bool {
        assert!(self.timer_on, "B.Loop called with timer stopped");
        assert!(
            self.loop_i & LOOP_POISON_TIMER == 0,
            "unknown loop stop condition: {:#x}",
            self.loop_i
        );
        let benchtime = self.ctx.borrow().cfg.benchtime;
        if self.loop_n == 0 {
            // The first call: a fixed count, or 1 to start the scaling.
            self.loop_n = match benchtime {
                BenchTime::Count(n) => n,
                BenchTime::Duration(_) => 1,
            };
            self.n = 0; // within the loop, b.N is not used (Go)
            self.reset_timer();
            self.loop_i += 1;
            return true;
        }
        let more = match benchtime {
            BenchTime::Count(n) => {
                assert_eq!(self.loop_i, n, "iteration count < fixed target");
                false
            }
            BenchTime::Duration(d) => self.stop_or_scale_loop(d),
        };
        if !more {
            self.stop_timer();
            self.n = self.loop_n;
            self.loop_done = true;
            return false;
        }
        self.loop_i += 1;
        true
    }

    /// Go's `stopOrScaleBLoop`: done once the loop has lasted `goal`, else a new target.
    fn stop_or_scale_loop(&mut self, goal: Duration) -> bool {
        let t = self.elapsed();
        if t >= goal {
            return false;
        }
        let ns = |d: Duration| d.as_nanos().min(i64::MAX as u128) as i64;
        let prev = self.loop_n as i64;
        self.loop_n = predict_n(ns(goal), prev, ns(t), prev) as u64;
        // predict_n caps the count at 1e9: stop once the cap is reached.
        (prev as u64) < self.loop_n
    }

    /// The measured time so far (Go's `B.Elapsed`): what `start_timer`, `stop_timer` and
    /// `reset_timer` have measured, including the running interval.
    pub fn elapsed(&self) -> Duration {
        if self.timer_on {
            self.duration + self.start.elapsed()
        } else {
            self.duration
        }
    }

    /// `0..b.n()`, for `for _ in b.iter() { ... }`.
    pub fn iter(&self) -> std::ops::Range<u64> {
        0..self.n
    }

    /// The benchmark's full name (`BenchmarkX/sub`), without the `-P` suffix.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Starts timing (and allocation counting); timing is on when the function is called.
    pub fn start_timer(&mut self) {
        if !self.timer_on {
            let c = read_alloc_counters();
            self.start_allocs = c.mallocs;
            self.start_bytes = c.alloc_bytes;
            self.start = Instant::now();
            self.timer_on = true;
            self.loop_i &= !LOOP_POISON_TIMER;
        }
    }

    /// Stops timing, for example around per-iteration setup that should not count.
    pub fn stop_timer(&mut self) {
        if self.timer_on {
            self.duration += self.start.elapsed();
            let c = read_alloc_counters();
            self.net_allocs += c.mallocs.wrapping_sub(self.start_allocs);
            self.net_bytes += c.alloc_bytes.wrapping_sub(self.start_bytes);
            self.timer_on = false;
            // If `loop_` is called with the timer stopped, fail.
            self.loop_i |= LOOP_POISON_TIMER;
        }
    }

    /// Zeroes the elapsed time, allocation counts and reported metrics; keeps the timer state.
    pub fn reset_timer(&mut self) {
        self.extra.clear();
        if self.timer_on {
            let c = read_alloc_counters();
            self.start_allocs = c.mallocs;
            self.start_bytes = c.alloc_bytes;
            self.start = Instant::now();
        }
        self.duration = Duration::ZERO;
        self.net_allocs = 0;
        self.net_bytes = 0;
    }

    /// Reports `B/op` and `allocs/op` for this benchmark even without `-benchmem`.
    pub fn report_allocs(&mut self) {
        self.show_alloc = true;
    }

    /// Bytes processed per iteration: the result then shows `MB/s`.
    pub fn set_bytes(&mut self, n: i64) {
        self.bytes = n;
    }

    /// Adds a custom metric (per operation by convention, e.g. `"hits/op"`); reporting
    /// `"ns/op"`, `"B/op"`, `"allocs/op"` or `"MB/s"` replaces the built-in value.
    pub fn report_metric(&mut self, value: f64, unit: &str) {
        assert!(!unit.is_empty(), "metric unit must not be empty");
        assert!(
            !unit.contains(char::is_whitespace),
            "metric unit must not contain whitespace"
        );
        self.extra.insert(unit.to_string(), value);
    }

    /// Multiplies the goroutines of `run_parallel` by `p` (Go's `SetParallelism`).
    pub fn set_parallelism(&mut self, p: usize) {
        if p >= 1 {
            self.parallelism = p;
        }
    }

    /// Runs `f` as a sub-benchmark named `<this name>/<name>`; this benchmark then reports no
    /// result of its own. Returns `false` if the sub-benchmark failed.
    pub fn run(&mut self, name: &str, mut f: impl FnMut(&mut B)) -> bool {
        self.has_sub = true;
        let parent = (self.level > 0).then_some(self.name.as_str());
        let (full, ok, partial) = self.ctx.borrow_mut().matcher.full_name(parent, name);
        if !ok {
            return true;
        }
        let mut sub = B::new(self.ctx.clone(), full, self.level + 1);
        if partial {
            sub.has_sub = true;
        }
        if sub.run1(&mut f) {
            sub.print_labels();
            sub.process(&mut f);
        }
        if sub.failed {
            self.failed = true;
        }
        !sub.failed
    }

    /// Go's `runN`: one round of `n` iterations, timed.
    fn run_n(&mut self, n: u64, f: &mut dyn FnMut(&mut B)) {
        // Go runs a full GC here; gort's collector will hook in at this point.
        self.n = n;
        self.loop_n = 0;
        self.loop_i = 0;
        self.loop_done = false;
        self.parallelism = 1;
        self.round += 1;
        self.ctx.borrow().progress.round(&self.name, self.round, n);
        self.reset_timer();
        self.start_timer();
        let r = catch_unwind(AssertUnwindSafe(|| f(self)));
        self.stop_timer();
        self.previous_n = n;
        self.previous_duration = self.duration;
        if let Err(p) = r {
            self.failed = true;
            self.panic_msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
        } else if self.loop_n > 0 && !self.loop_done {
            self.failed = true;
            self.panic_msg = "benchmark function returned without B.Loop() == false \
                              (break or return in loop?)"
                .into();
        }
    }

    /// Go's `run1`: the first round (N = 1). Returns whether to go on and measure.
    fn run1(&mut self, f: &mut dyn FnMut(&mut B)) -> bool {
        {
            let mut ctx = self.ctx.borrow_mut();
            let n = self.name.len() + ctx.ext_len + 1;
            if n > ctx.max_len {
                ctx.max_len = n + 8; // Go adds slack to avoid too many jumps in width
            }
        }
        self.run_n(1, f);
        if self.failed {
            self.report_failure(&self.name.clone());
            return false;
        }
        !self.has_sub
    }

    fn report_failure(&self, name: &str) {
        let mut ctx = self.ctx.borrow_mut();
        ctx.failed = true;
        ctx.out
            .write(&format!("--- FAIL: {name}\n    {}\n", self.panic_msg));
    }

    fn print_labels(&self) {
        let mut ctx = self.ctx.borrow_mut();
        if ctx.labels_printed {
            return;
        }
        ctx.labels_printed = true;
        let mut s = format!("goos: {}\ngoarch: {}\n", sysinfo::goos(), sysinfo::goarch());
        if !ctx.pkg.is_empty() {
            s += &format!("pkg: {}\n", ctx.pkg);
        }
        let cpu = sysinfo::cpu_name();
        if !cpu.is_empty() {
            s += &format!("cpu: {cpu}\n");
        }
        ctx.out.write(&s);
    }

    /// Go's `processBench`: every `-cpu` value times `-count`, one result line each.
    fn process(&mut self, f: &mut dyn FnMut(&mut B)) {
        let (cpus, count) = {
            let ctx = self.ctx.borrow();
            let cpus = if ctx.cfg.cpu.is_empty() {
                vec![parallel::gomaxprocs()]
            } else {
                ctx.cfg.cpu.clone()
            };
            (cpus, ctx.cfg.count)
        };
        let mut any_failed = false;
        for (i, &procs) in cpus.iter().enumerate() {
            for j in 0..count {
                parallel::set_gomaxprocs(procs);
                let bench_name = benchmark_name(&self.name, procs);
                {
                    let mut ctx = self.ctx.borrow_mut();
                    let w = ctx.max_len;
                    ctx.out.write(&format!("{bench_name:<w$}\t"));
                }
                if i > 0 || j > 0 {
                    *self = B::new(self.ctx.clone(), self.name.clone(), self.level);
                    if !self.run1(f) && self.failed {
                        any_failed = true; // reported by run1
                        continue;
                    }
                }
                let r = self.do_bench(f);
                self.ctx.borrow().progress.clear();
                if self.failed {
                    any_failed = true;
                    self.report_failure(&bench_name);
                    continue;
                }
                let mut ctx = self.ctx.borrow_mut();
                let mut line = r.to_string();
                if ctx.cfg.benchmem || self.show_alloc {
                    line.push('\t');
                    line.push_str(&r.mem_string());
                }
                line.push('\n');
                ctx.out.write(&line);
                ctx.results.push((bench_name, r));
            }
        }
        self.failed |= any_failed;
    }

    /// Go's `launch`: grows N until a round lasts `-benchtime`, or runs the fixed count.
    fn do_bench(&mut self, f: &mut dyn FnMut(&mut B)) -> BenchmarkResult {
        let benchtime = self.ctx.borrow().cfg.benchtime;
        // A `loop_` benchmark did its own ramp-up in the `run1` call: it ran once.
        let benchtime = if self.loop_n > 0 {
            BenchTime::Count(1)
        } else {
            benchtime
        };
        match benchtime {
            BenchTime::Count(n) => {
                if n > 1 {
                    self.run_n(n, f);
                }
            }
            BenchTime::Duration(d) => {
                let first = self.duration;
                predict::grow(d, first, |n| {
                    self.run_n(n as u64, f);
                    (!self.failed).then_some(self.duration)
                });
            }
        }
        BenchmarkResult {
            n: self.n,
            t: self.duration,
            bytes: self.bytes,
            mem_allocs: self.net_allocs,
            mem_bytes: self.net_bytes,
            extra: self.extra.clone(),
        }
    }
}
