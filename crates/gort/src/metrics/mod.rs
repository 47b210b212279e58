//! Runtime metrics (Go's `runtime/metrics`): named, typed figures about the scheduler, the
//! GC and memory, read cheaply at any time, and their Prometheus text exposition
//! (`/debug/metrics` on [`crate::prof::http`]).
//!
//! ```
//! use gort::metrics::{self, Sample, Value};
//!
//! let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
//! rt.block_on(|| {
//!     let mut s = [
//!         Sample::new("/sched/goroutines:goroutines"),
//!         Sample::new("/sched/gomaxprocs:threads"),
//!         Sample::new("/sched/latencies:seconds"),
//!         Sample::new("/no/such:metric"),
//!     ];
//!     metrics::read(&mut s);
//!     assert!(s[0].value.uint64() >= 1); // this goroutine
//!     assert_eq!(s[1].value.uint64(), 2);
//!     let h = s[2].value.float64_histogram();
//!     assert_eq!(h.buckets.len(), h.counts.len() + 1);
//!     assert_eq!(s[3].value, Value::Bad);
//! });
//!
//! let mut text = Vec::new();
//! metrics::write_prometheus(&mut text).unwrap();
//! let text = String::from_utf8(text).unwrap();
//! assert!(text.contains("# TYPE go_sched_latencies_seconds histogram"));
//! ```
//!
//! # The problem
//!
//! A service wants its runtime's health as numbers it can graph and alert on: how many
//! goroutines wait, how long runnable goroutines wait for a P, how long GC pauses are, how big
//! the heap and the stacks are. gort measured most of this already, but only as text for
//! people (`GODEBUG=schedtrace`, `gort::debug::sched_summary`, `gctrace`) or as one-off
//! accessors. Go answers with `runtime/metrics`: a stable list of names with units
//! (`/gc/heap/goal:bytes`), kinds (uint64, float64, float64 histogram) and a cumulative flag,
//! read by name into caller-owned samples; Prometheus' Go collector turns them into
//! `go_gc_heap_goal_bytes` and friends. Tools and dashboards built for Go's names then work
//! on a gort program.
//!
//! # How
//!
//! * **Names.** [`all`] lists every metric, sorted by name: Go's names where gort measures
//!   the same thing (meanings differing in detail are noted in each description), and gort's
//!   own under `/gort/` (leaked goroutines, stall episodes, stack mappings, ...). The list and
//!   each metric's kind never change while the program runs.
//! * **Reading.** [`read`] fills [`Sample`]s by name; an unknown name reads as [`Value::Bad`]
//!   (Go's `KindBad`). Each source is gathered at most once per call and only if a sample
//!   asks for it: the scheduler's counts (a sum over the Ps' existing counters,
//!   `rt/sched/metrics.rs`), the GC's figures (its atomics and one short hold of the heap
//!   lock, `gc/stats.rs`), the allocation counters (`alloc/counters.rs`, a sum over the
//!   threads' blocks), the stack counters (`rt/stack/mmap.rs`). Nothing stops the world and
//!   nothing but histograms allocates, and those reuse the sample's vectors. The one metric
//!   that is not O(GOMAXPROCS) is `/gort/sched/goroutines/leaked:goroutines`, which walks the
//!   goroutine registry as `gort::debug::num_leaked_goroutines` does; ask for it only if you
//!   want it.
//! * **Histograms.** Durations (`/sched/latencies:seconds`, `/sched/pauses/total/gc:seconds`)
//!   go to lock-free histograms of fixed power-of-two buckets of nanoseconds (`[0, 128ns)`,
//!   `[128ns, 256ns)`, ..., `[2^40ns, +Inf)`: 35 buckets, boundaries in seconds in
//!   [`Float64Histogram::buckets`]); each records its exact sum too, which the Prometheus
//!   `_sum` line reports.
//! * **Scheduling latency** is sampled: one wake-up in 64 per P and one spawn in 64 (by
//!   goroutine id) stamps the goroutine with the clock; the M that next runs it records the
//!   difference (`rt/sched/metrics.rs`). Measured on the `Benchmark(PingPong|ParkPingPong|
//!   Spawn|Yield)` benchmarks: wall time within their noise; +13 instructions per
//!   ParkPingPong op (566 -> 579 under callgrind), half of them the sampled clock reads
//!   (README, "Metrics").
//! * **Prometheus.** [`write_prometheus`] writes the text exposition format 0.0.4, with
//!   client_golang's Go collector's names: `/gc/heap/goal:bytes` is `go_gc_heap_goal_bytes`,
//!   path separators and `-` become `_`, the unit is appended, cumulative scalars are
//!   counters with `_total`, histograms have cumulative `_bucket{le=...}` lines, `_sum` and
//!   `_count`. gort's `/gort/...` metrics take `gort` as their namespace
//!   (`gort_sched_stalls_episodes_total`). `/debug/metrics` on the debug HTTP server
//!   ([`crate::prof::http`]) serves it.
//!
//! # Scope
//!
//! Scheduler metrics are of the current runtime (inside a goroutine, its own; outside any,
//! the process-wide one, which is started if it was not, as [`crate::num_goroutine`] does).
//! GC, allocation, stack and histogram metrics are process-wide, as the GC heap, the
//! allocator and the stack counters are.
//!
//! # Who writes what
//!
//! | source | written by | read here |
//! |---|---|---|
//! | `p::Counters` (spawned, parked, io_waiters), `P::curg`, `P::stalls` | each P's M; wakers (parked); sysmon (stalls) | relaxed loads |
//! | `Shared::in_blocking` | `gort::blocking` around its park | relaxed load |
//! | `G::ready_at`, `rt::sched::metrics::LATENCY` | the sampled waker or spawner; the M that runs the goroutine | histogram copy |
//! | `gc::stats` (cycles, pause histogram, CPU), `gc::alloc` (allocated), sweep (freed) | the collector; allocation-cache flushes; the sweepers | relaxed loads; heap lock for span figures |
//! | `alloc::counters` blocks | each thread (`CountingAlloc`) | relaxed loads |
//! | `rt::stack` counters | stack mapping and unmapping | relaxed loads |
//!
//! # Rejected alternatives
//!
//! * *A struct of fields* (`MemStats`-style, tokio's `RuntimeMetrics` methods): every new
//!   figure changes the API, and a tool cannot discover what exists. Go moved from
//!   `MemStats` to named metrics for that reason; [`all`] is the discovery.
//! * *Timing every ready transition*: two clock reads per wake-up (about 40 ns) on a
//!   ping-pong of about 200 ns; one in 64 keeps the histogram's shape and costs nothing
//!   measurable.
//! * *Per-P latency histograms*: contention-free recording, but reading would sum GOMAXPROCS
//!   arrays and the sampling already makes the shared histogram's atomics rare.
//! * *A Prometheus client crate* for the exposition: the format is a few lines of text; a
//!   dependency would be heavier than the writer.

mod prometheus;
mod table;

pub use prometheus::write_prometheus;

/// The kind of a metric's value (Go's `metrics.ValueKind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueKind {
    /// No such metric (Go's `KindBad`).
    Bad,
    /// A `u64` (Go's `KindUint64`).
    Uint64,
    /// An `f64` (Go's `KindFloat64`).
    Float64,
    /// A [`Float64Histogram`] (Go's `KindFloat64Histogram`).
    Float64Histogram,
}

/// One metric's description (Go's `metrics.Description`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Description {
    /// The name: a path, a colon, the unit (`/gc/heap/goal:bytes`).
    pub name: &'static str,
    /// What it measures, in English.
    pub description: &'static str,
    /// The kind of its value; never changes.
    pub kind: ValueKind,
    /// Whether it only grows (a count or a sum since the program started). Histograms with
    /// this flag have bucket counts that only grow.
    pub cumulative: bool,
}

/// A distribution (Go's `metrics.Float64Histogram`): `counts[i]` is the number of values
/// in `[buckets[i], buckets[i + 1])`, so `buckets.len() == counts.len() + 1`; the last
/// boundary may be `+Inf`. A metric's boundaries never change while the program runs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Float64Histogram {
    /// The count of each bucket.
    pub counts: Vec<u64>,
    /// The bucket boundaries, increasing.
    pub buckets: Vec<f64>,
}

/// A metric's value (Go's `metrics.Value`).
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    /// Not read yet, or no such metric (Go's `KindBad`).
    #[default]
    Bad,
    /// A [`ValueKind::Uint64`] value.
    Uint64(u64),
    /// A [`ValueKind::Float64`] value.
    Float64(f64),
    /// A [`ValueKind::Float64Histogram`] value.
    Float64Histogram(Float64Histogram),
}

impl Value {
    /// The kind of this value.
    pub fn kind(&self) -> ValueKind {
        match self {
            Value::Bad => ValueKind::Bad,
            Value::Uint64(_) => ValueKind::Uint64,
            Value::Float64(_) => ValueKind::Float64,
            Value::Float64Histogram(_) => ValueKind::Float64Histogram,
        }
    }

    /// The `u64` value. Panics if the kind is not [`ValueKind::Uint64`], as Go's
    /// `Value.Uint64` does.
    #[track_caller]
    pub fn uint64(&self) -> u64 {
        match self {
            Value::Uint64(v) => *v,
            v => panic!("gort::metrics: called uint64 on a {:?} value", v.kind()),
        }
    }

    /// The `f64` value. Panics if the kind is not [`ValueKind::Float64`].
    #[track_caller]
    pub fn float64(&self) -> f64 {
        match self {
            Value::Float64(v) => *v,
            v => panic!("gort::metrics: called float64 on a {:?} value", v.kind()),
        }
    }

    /// The histogram. Panics if the kind is not [`ValueKind::Float64Histogram`].
    #[track_caller]
    pub fn float64_histogram(&self) -> &Float64Histogram {
        match self {
            Value::Float64Histogram(h) => h,
            v => panic!(
                "gort::metrics: called float64_histogram on a {:?} value",
                v.kind()
            ),
        }
    }
}

/// A metric name and the value [`read`] put there (Go's `metrics.Sample`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sample {
    /// The metric's name, as in [`Description::name`].
    pub name: String,
    /// Its value after [`read`]; [`Value::Bad`] if the name is unknown.
    pub value: Value,
}

impl Sample {
    /// A sample of `name`, not read yet.
    pub fn new(name: impl Into<String>) -> Sample {
        Sample {
            name: name.into(),
            value: Value::Bad,
        }
    }
}

/// Every metric gort supports, sorted by name (Go's `metrics.All`).
pub fn all() -> &'static [Description] {
    table::DESCRIPTIONS
}

/// Fills each sample's value with its metric's current value (Go's `metrics.Read`); an
/// unknown name reads as [`Value::Bad`]. Cheap: see the module documentation for what each
/// source costs. A histogram sample read again reuses its vectors.
pub fn read(samples: &mut [Sample]) {
    let mut ctx = table::Ctx::default();
    for s in samples {
        match table::index(&s.name) {
            Some(i) => table::fill(&mut s.value, (table::READERS[i])(&mut ctx)),
            None => s.value = Value::Bad,
        }
    }
}

/// Reads every metric of [`all`], in its order.
pub fn read_all() -> Vec<Sample> {
    let mut s: Vec<Sample> = all().iter().map(|d| Sample::new(d.name)).collect();
    read(&mut s);
    s
}
