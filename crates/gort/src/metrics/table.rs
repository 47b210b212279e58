//! The metric table: each metric's description and how it is read from the sources, which a
//! [`Ctx`] gathers at most once per read.

use super::{Description, Float64Histogram, Value, ValueKind};
use crate::alloc::{read_alloc_counters, AllocCounters};
use crate::gc::GcFigures;
use crate::rt::sched::metrics::SchedCounts;
use crate::rt::stack::{stack_stats, StackStats};

/// What one metric read gives.
pub(crate) enum Reading {
    U(u64),
    F(f64),
    /// A duration histogram of the `rt::timehist` scheme: the counts and the exact sum in
    /// nanoseconds.
    H(Vec<u64>, u64),
}

use Reading::{F, H, U};

/// The sources of one read, each gathered on first use.
#[derive(Default)]
pub(crate) struct Ctx {
    sched: Option<SchedCounts>,
    gc: Option<GcFigures>,
    malloc: Option<AllocCounters>,
    stacks: Option<StackStats>,
}

impl Ctx {
    fn sched(&mut self) -> SchedCounts {
        *self.sched.get_or_insert_with(|| {
            crate::rt::sched::metrics::with_current(crate::rt::sched::metrics::counts)
        })
    }

    fn gc(&mut self) -> &GcFigures {
        self.gc.get_or_insert_with(crate::gc::figures)
    }

    fn malloc(&mut self) -> AllocCounters {
        *self.malloc.get_or_insert_with(read_alloc_counters)
    }

    fn stacks(&mut self) -> StackStats {
        *self.stacks.get_or_insert_with(stack_stats)
    }

    /// Bytes of live objects on both heaps (the malloc heap as `CountingAlloc` counts it, and
    /// the GC heap).
    fn heap_objects_bytes(&mut self) -> u64 {
        let m = self.malloc();
        m.alloc_bytes.saturating_sub(m.free_bytes) + self.gc().heap_live
    }

    /// The `/memory/classes` leaves, summed.
    fn memory_total(&mut self) -> u64 {
        let g = self.gc();
        let (free, released, unused) = (g.heap_free(), g.heap_released, g.heap_unused());
        free + released + unused + self.heap_objects_bytes() + self.stacks().bytes_reserved as u64
    }
}

const NS: f64 = 1e-9;

macro_rules! metrics {
    ($($name:literal, $kind:ident, $cumulative:literal, $read:expr, $desc:expr;)*) => {
        /// Every metric, sorted by name.
        pub(crate) static DESCRIPTIONS: &[Description] = &[$(Description {
            name: $name,
            description: $desc,
            kind: ValueKind::$kind,
            cumulative: $cumulative,
        }),*];
        /// The reader of each metric of [`DESCRIPTIONS`], at the same index.
        pub(crate) static READERS: &[fn(&mut Ctx) -> Reading] = &[$($read),*];
    };
}

metrics! {
    "/cpu/classes/gc/mark/assist:cpu-seconds", Float64, true,
        |c| F(c.gc().assist_ns as f64 * NS),
        "Estimated total time goroutines and threads spent in GC mark assists (wall time of \
         the assists; gort's assists may also wait for a cycle to finish). Compare only with \
         other /cpu/classes metrics.";
    "/cpu/classes/gc/pause:cpu-seconds", Float64, true,
        |c| F(c.gc().pause_cpu_ns as f64 * NS),
        "Estimated total CPU time spent with the application paused by the GC: each \
         stop-the-world pause times GOMAXPROCS, as in Go.";
    "/cpu/classes/gc/total:cpu-seconds", Float64, true,
        |c| F(c.gc().gc_cpu_ns as f64 * NS),
        "Estimated total CPU time spent performing GC tasks: the pauses (times GOMAXPROCS), \
         the concurrent mark and the assists.";
    "/gc/cycles/automatic:gc-cycles", Uint64, true,
        |c| { let g = c.gc(); U(g.cycles - g.forced.min(g.cycles)) },
        "Count of completed GC cycles started by the runtime (the pacer or GOMEMLIMIT).";
    "/gc/cycles/forced:gc-cycles", Uint64, true,
        |c| U(c.gc().forced),
        "Count of completed GC cycles forced by the application (gort::gc).";
    "/gc/cycles/total:gc-cycles", Uint64, true,
        |c| U(c.gc().cycles),
        "Count of all completed GC cycles.";
    "/gc/gogc:percent", Uint64, false,
        |c| U(c.gc().gogc as u64),
        "Heap size target percentage configured by the user, otherwise 100: the GOGC \
         environment variable, or gort::gc::set_gc_percent. GOGC=off reads as 2^64-1, as in \
         Go (the uint64 of -1).";
    "/gc/gomemlimit:bytes", Uint64, false,
        |c| U(c.gc().memlimit),
        "Runtime memory limit configured by the user, otherwise math.MaxInt64: the GOMEMLIMIT \
         environment variable, or gort::gc::set_memory_limit.";
    "/gc/heap/allocs:bytes", Uint64, true,
        |c| U(c.malloc().alloc_bytes + c.gc().total_alloc),
        "Cumulative sum of memory allocated on the heap by the application: the malloc heap as \
         CountingAlloc counts it (requested sizes; 0 without it) plus the GC heap (slot sizes, \
         as counted when an allocation cache is flushed).";
    "/gc/heap/allocs:objects", Uint64, true,
        |c| U(c.malloc().mallocs + c.gc().mallocs),
        "Cumulative count of heap allocations (malloc heap and GC heap, as \
         /gc/heap/allocs:bytes).";
    "/gc/heap/frees:bytes", Uint64, true,
        |c| U(c.malloc().free_bytes + c.gc().freed_bytes),
        "Cumulative sum of heap memory freed: by free on the malloc heap, by the sweeper on \
         the GC heap.";
    "/gc/heap/frees:objects", Uint64, true,
        |c| U(c.malloc().frees + c.gc().frees),
        "Cumulative count of heap objects freed (malloc heap and GC heap).";
    "/gc/heap/goal:bytes", Uint64, false,
        |c| U(c.gc().goal),
        "Heap size target for the end of the GC cycle (the GC heap's; Go's NextGC).";
    "/gc/heap/live:bytes", Uint64, false,
        |c| U(c.gc().marked),
        "GC heap memory occupied by live objects that were marked by the previous GC.";
    "/gc/heap/objects:objects", Uint64, false,
        |c| {
            let (m, g) = (c.malloc(), c.gc());
            U(m.mallocs.saturating_sub(m.frees) + g.mallocs.saturating_sub(g.frees))
        },
        "Number of objects, live or unswept, occupying heap memory (malloc heap and GC heap).";
    "/gc/pauses:seconds", Float64Histogram, true,
        |c| { let g = c.gc(); H(g.pauses.clone(), g.pauses_sum_ns) },
        "Deprecated. Prefer the identical /sched/pauses/total/gc:seconds.";
    "/gc/stack/starting-size:bytes", Uint64, false,
        |c| U(c.sched().stack_size),
        "The stack size of new goroutines (gort's stacks do not grow: it is the runtime's \
         stack size, Builder::stack_size or GORT_STACK_SIZE).";
    "/gort/gc/pauses/max:seconds", Float64, false,
        |c| F(c.gc().max_pause_ns as f64 * NS),
        "The longest single GC stop-the-world pause since the program started.";
    "/gort/net/waiting:goroutines", Uint64, false,
        |c| U(c.sched().net_waiting),
        "Goroutines parked on network I/O in the netpoller (included in \
         /sched/goroutines/waiting:goroutines).";
    "/gort/sched/goroutines/leaked:goroutines", Uint64, false,
        |_| U(crate::rt::sched::leak::num_leaked_goroutines() as u64),
        "Goroutines parked on an operation that can never complete (a channel whose other \
         side has no handle left), as gort::debug::num_leaked_goroutines. Walks the goroutine \
         registry: O(goroutines).";
    "/gort/sched/stalled-slices:slices", Uint64, true,
        |c| U(c.sched().stalled_slices),
        "Times sysmon found a P stuck for a whole 10 ms time slice (a goroutine hogging its \
         thread or blocked in a raw system call), summed over the Ps.";
    "/gort/sched/stalls:episodes", Uint64, true,
        |c| U(c.sched().stalls),
        "Stall episodes reported (a goroutine kept its P's thread past GODEBUG=stalltrace \
         while others waited), as gort::debug::num_stalls; the stall profile lists them.";
    "/gort/sched/threads/blocking:threads", Uint64, false,
        |c| U(c.sched().blocking_threads),
        "Threads of the blocking pool (gort::blocking) alive, busy or idle (included in \
         /sched/threads/total:threads).";
    "/gort/stack/mapped:stacks", Uint64, false,
        |c| U(c.stacks().stacks_mapped as u64),
        "Goroutine stacks mapped now: running, parked, or cached for reuse.";
    "/gort/stack/mmaps:calls", Uint64, true,
        |c| U(c.stacks().maps_total),
        "mmap calls made for goroutine stacks (one maps a batch).";
    "/gort/stack/munmaps:calls", Uint64, true,
        |c| U(c.stacks().unmaps_total),
        "munmap calls made for goroutine stacks.";
    "/gort/stack/releases:calls", Uint64, true,
        |c| U(c.stacks().releases_total),
        "madvise(MADV_DONTNEED) calls made on cached goroutine stacks by the scavenger.";
    "/memory/classes/heap/free:bytes", Uint64, false,
        |c| U(c.gc().heap_free()),
        "GC heap memory that is completely free (empty spans) and eligible to be returned to \
         the system, but has not been.";
    "/memory/classes/heap/objects:bytes", Uint64, false,
        |c| U(c.heap_objects_bytes()),
        "Memory occupied by live objects and dead objects not yet freed: the malloc heap's \
         (as CountingAlloc counts it) and the GC heap's.";
    "/memory/classes/heap/released:bytes", Uint64, false,
        |c| U(c.gc().heap_released),
        "GC heap memory that is completely free and has been returned to the system.";
    "/memory/classes/heap/stacks:bytes", Uint64, false,
        |c| U(c.stacks().bytes_reserved as u64),
        "Address space reserved for goroutine stacks, in use or cached, guard pages included \
         (the kernel commits pages only when touched, so resident use is lower).";
    "/memory/classes/heap/unused:bytes", Uint64, false,
        |c| U(c.gc().heap_unused()),
        "GC heap memory in spans that hold objects but not used by objects (free slots).";
    "/memory/classes/total:bytes", Uint64, false,
        |c| U(c.memory_total()),
        "Sum of all metrics in /memory/classes. Does not count thread stacks or the \
         allocator's own overhead.";
    "/sched/gomaxprocs:threads", Uint64, false,
        |c| U(c.sched().gomaxprocs),
        "The number of Ps of the runtime (GOMAXPROCS): threads that can run goroutines \
         simultaneously.";
    "/sched/goroutines-created:goroutines", Uint64, true,
        |c| U(c.sched().created),
        "Count of goroutines created since the runtime started.";
    "/sched/goroutines/not-in-go:goroutines", Uint64, false,
        |c| U(c.sched().not_in_go),
        "Approximate count of goroutines parked in gort::blocking while its call runs on the \
         blocking pool (Go's goroutines in a system call).";
    "/sched/goroutines/runnable:goroutines", Uint64, false,
        |c| U(c.sched().runnable),
        "Approximate count of goroutines ready to execute, but not executing (queued, or \
         spawned and not started). Not guaranteed to add up to /sched/goroutines:goroutines \
         with the other goroutine metrics.";
    "/sched/goroutines/running:goroutines", Uint64, false,
        |c| U(c.sched().running),
        "Approximate count of goroutines executing. At most /sched/gomaxprocs:threads.";
    "/sched/goroutines/waiting:goroutines", Uint64, false,
        |c| U(c.sched().waiting),
        "Approximate count of goroutines parked waiting on a resource (channels, sync \
         primitives, timers, network I/O).";
    "/sched/goroutines:goroutines", Uint64, false,
        |c| U(c.sched().goroutines),
        "Count of live goroutines.";
    "/sched/latencies:seconds", Float64Histogram, true,
        |_| {
            let (counts, sum) = crate::rt::sched::metrics::LATENCY.read();
            H(counts, sum)
        },
        "Distribution of the time goroutines spent runnable before running, sampled: one \
         wake-up in 64 per P and one spawn in 64. Bucket counts increase monotonically.";
    "/sched/pauses/total/gc:seconds", Float64Histogram, true,
        |c| { let g = c.gc(); H(g.pauses.clone(), g.pauses_sum_ns) },
        "Distribution of individual GC-related stop-the-world pause latencies (each cycle has \
         two), from deciding to stop the world until it is started again. Bucket counts \
         increase monotonically.";
    "/sched/threads/total:threads", Uint64, false,
        |c| U(c.sched().threads),
        "The current count of live threads owned by the runtime: the Ps' Ms, sysmon and the \
         blocking pool (not the GC's worker threads).";
}

/// The index of `name` in [`DESCRIPTIONS`].
pub(crate) fn index(name: &str) -> Option<usize> {
    DESCRIPTIONS.binary_search_by(|d| d.name.cmp(name)).ok()
}

/// Stores `r` in `v`, keeping `v`'s bucket boundaries when it already holds a histogram.
pub(crate) fn fill(v: &mut Value, r: Reading) {
    match r {
        U(x) => *v = Value::Uint64(x),
        F(x) => *v = Value::Float64(x),
        H(counts, _) => match v {
            Value::Float64Histogram(h) => {
                if h.buckets.len() != counts.len() + 1 {
                    h.buckets = crate::rt::timehist::boundaries_seconds();
                }
                h.counts = counts;
            }
            _ => {
                *v = Value::Float64Histogram(Float64Histogram {
                    buckets: crate::rt::timehist::boundaries_seconds(),
                    counts,
                })
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_consistent() {
        assert_eq!(DESCRIPTIONS.len(), READERS.len());
        for w in DESCRIPTIONS.windows(2) {
            assert!(w[0].name < w[1].name, "{} >= {}", w[0].name, w[1].name);
        }
        for (i, d) in DESCRIPTIONS.iter().enumerate() {
            assert_eq!(index(d.name), Some(i));
            let (path, unit) = d.name.split_once(':').expect("a unit");
            assert!(path.starts_with('/') && !unit.is_empty(), "{}", d.name);
        }
        assert_eq!(index("/nope:bytes"), None);
    }
}
