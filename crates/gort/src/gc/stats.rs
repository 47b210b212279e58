//! GC statistics: cycle counts, the pause ring, CPU fraction, and the MemStats source.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::alloc::MemStats;
use crate::rt::timehist::TimeHist;

pub(crate) static NUM_GC: AtomicU64 = AtomicU64::new(0);
pub(crate) static NUM_FORCED: AtomicU64 = AtomicU64::new(0);
pub(crate) static PAUSE_TOTAL: AtomicU64 = AtomicU64::new(0);
pub(crate) static LAST_PAUSE: AtomicU64 = AtomicU64::new(0);
/// Wall time of the last cycle's GC work (both pauses and the mark), for the CPU limiter.
pub(crate) static LAST_CYCLE_CPU: AtomicU64 = AtomicU64::new(0);
pub(crate) static MAX_PAUSE: AtomicU64 = AtomicU64::new(0);
pub(crate) static PAUSES: [AtomicU64; 256] = [const { AtomicU64::new(0) }; 256];
pub(crate) static LAST_GC_UNIX: AtomicU64 = AtomicU64::new(0);
pub(crate) static NEXT_GC: AtomicU64 = AtomicU64::new(super::pacer::HEAP_MIN);
pub(crate) static FREES: AtomicU64 = AtomicU64::new(0);
static GC_CPU_NS: AtomicU64 = AtomicU64::new(0);
/// Every stop-the-world pause on its own (two per cycle), for `gort::metrics`.
pub(crate) static PAUSE_HIST: TimeHist = TimeHist::new();
/// Each pause times the Ps it stopped, summed (Go's `/cpu/classes/gc/pause:cpu-seconds`).
static PAUSE_CPU_NS: AtomicU64 = AtomicU64::new(0);
/// Bytes of GC heap objects the sweepers freed.
pub(crate) static FREED_BYTES: AtomicU64 = AtomicU64::new(0);
static LAST_END_NS: AtomicU64 = AtomicU64::new(0);
pub(crate) static START: OnceLock<Instant> = OnceLock::new();

pub(crate) fn start() -> Instant {
    *START.get_or_init(Instant::now)
}

pub(crate) fn since_start_ns(t: Instant) -> u64 {
    t.saturating_duration_since(start()).as_nanos() as u64
}

/// Nanoseconds the mutators ran since the end of the last cycle.
pub(crate) fn since_last_end_ns() -> u64 {
    since_start_ns(Instant::now()).saturating_sub(LAST_END_NS.load(Relaxed))
}

pub(crate) fn add_gc_cpu(ns: u64) {
    GC_CPU_NS.fetch_add(ns, Relaxed);
}

/// GC CPU time over all CPU time available since start (Go's GCCPUFraction).
pub(crate) fn cpu_fraction(procs: usize) -> f64 {
    let wall = since_start_ns(Instant::now()).max(1) as f64 * procs.max(1) as f64;
    GC_CPU_NS.load(Relaxed) as f64 / wall
}

/// Records a finished cycle (its two pauses and its concurrent mark); returns its number.
pub(crate) fn record(
    stw1: u64,
    stw2: u64,
    mark: u64,
    goal: u64,
    forced: bool,
    procs: usize,
) -> u64 {
    let n = NUM_GC.load(Relaxed) + 1;
    let pause = stw1 + stw2;
    // As Go: one PauseNs entry per cycle, the sum of its stop-the-world phases.
    PAUSES[((n + 255) % 256) as usize].store(pause, Relaxed);
    PAUSE_TOTAL.fetch_add(pause, Relaxed);
    LAST_PAUSE.store(pause, Relaxed);
    LAST_CYCLE_CPU.store(pause + mark, Relaxed);
    MAX_PAUSE.fetch_max(stw1.max(stw2), Relaxed);
    PAUSE_HIST.record(stw1);
    PAUSE_HIST.record(stw2);
    PAUSE_CPU_NS.fetch_add(pause * procs as u64, Relaxed);
    NEXT_GC.store(goal, Relaxed);
    // Go charges a stop-the-world pause to every P, and the mark to the worker.
    add_gc_cpu(pause * procs as u64 + mark);
    if forced {
        NUM_FORCED.fetch_add(1, Relaxed);
    }
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    LAST_GC_UNIX.store(unix, Relaxed);
    LAST_END_NS.store(since_start_ns(Instant::now()), Relaxed);
    NUM_GC.store(n, Relaxed);
    n
}

/// The GC's figures for `gort::metrics`, read with relaxed loads and one hold of the heap
/// lock (for the span figures).
#[derive(Clone, Debug, Default)]
pub(crate) struct GcFigures {
    pub(crate) cycles: u64,
    pub(crate) forced: u64,
    /// The pause histogram's counts and exact sum (`rt::timehist` buckets).
    pub(crate) pauses: Vec<u64>,
    pub(crate) pauses_sum_ns: u64,
    pub(crate) max_pause_ns: u64,
    pub(crate) pause_cpu_ns: u64,
    pub(crate) gc_cpu_ns: u64,
    pub(crate) assist_ns: u64,
    /// GOGC (negative: off).
    pub(crate) gogc: i64,
    pub(crate) memlimit: u64,
    pub(crate) goal: u64,
    /// Live bytes marked by the last cycle.
    pub(crate) marked: u64,
    pub(crate) mallocs: u64,
    pub(crate) total_alloc: u64,
    pub(crate) frees: u64,
    pub(crate) freed_bytes: u64,
    /// Bytes allocated now (Go's HeapAlloc for this heap).
    pub(crate) heap_live: u64,
    pub(crate) heap_inuse: u64,
    pub(crate) heap_idle: u64,
    pub(crate) heap_released: u64,
}

impl GcFigures {
    /// Empty spans not returned to the OS.
    pub(crate) fn heap_free(&self) -> u64 {
        self.heap_idle.saturating_sub(self.heap_released)
    }

    /// Bytes of in-use spans not holding objects.
    pub(crate) fn heap_unused(&self) -> u64 {
        self.heap_inuse.saturating_sub(self.heap_live)
    }
}

/// Reads the [`GcFigures`].
pub(crate) fn figures() -> GcFigures {
    let (pauses, pauses_sum_ns) = PAUSE_HIST.read();
    let mut f = GcFigures {
        cycles: NUM_GC.load(Relaxed),
        forced: NUM_FORCED.load(Relaxed),
        pauses,
        pauses_sum_ns,
        max_pause_ns: MAX_PAUSE.load(Relaxed),
        pause_cpu_ns: PAUSE_CPU_NS.load(Relaxed),
        gc_cpu_ns: GC_CPU_NS.load(Relaxed),
        assist_ns: super::work::ASSIST_TOTAL_NS.load(Relaxed),
        gogc: super::pacer::GOGC.load(Relaxed),
        memlimit: super::pacer::MEMLIMIT.load(Relaxed),
        goal: NEXT_GC.load(Relaxed),
        marked: super::collect::LAST_LIVE.load(Relaxed),
        mallocs: super::alloc::MALLOCS.load(Relaxed),
        total_alloc: super::alloc::TOTAL_ALLOC.load(Relaxed),
        frees: FREES.load(Relaxed),
        freed_bytes: FREED_BYTES.load(Relaxed),
        heap_live: super::alloc::HEAP_LIVE.load(Relaxed),
        ..GcFigures::default()
    };
    let h = super::HEAP.lock();
    f.heap_inuse = h.inuse_bytes() as u64;
    f.heap_released = h.released as u64;
    f.heap_idle = (h.mapped - h.inuse_bytes()) as u64;
    f
}

/// The MemStats source: the GC heap's figures, added to the malloc heap's.
pub(crate) fn fill(m: &mut MemStats) {
    let mallocs = super::alloc::MALLOCS.load(Relaxed);
    let frees = FREES.load(Relaxed);
    let live = super::alloc::HEAP_LIVE.load(Relaxed);
    let objects = mallocs.saturating_sub(frees);
    m.gc_heap_alloc = live;
    m.gc_heap_objects = objects;
    m.alloc += live;
    m.heap_alloc += live;
    m.heap_objects += objects;
    m.mallocs += mallocs;
    m.frees += frees;
    m.total_alloc += super::alloc::TOTAL_ALLOC.load(Relaxed);
    {
        let h = super::HEAP.lock();
        m.heap_inuse = h.inuse_bytes() as u64;
        m.heap_released = h.released as u64;
        m.heap_idle = (h.mapped - h.inuse_bytes()) as u64;
        m.memlimit_total += h.mapped.saturating_sub(h.released) as u64;
    }
    m.num_gc = NUM_GC.load(Relaxed) as u32;
    m.num_forced_gc = NUM_FORCED.load(Relaxed) as u32;
    m.pause_total_ns = PAUSE_TOTAL.load(Relaxed);
    m.pause_ns = PAUSES.iter().map(|p| p.load(Relaxed)).collect();
    m.next_gc = NEXT_GC.load(Relaxed);
    m.last_gc = LAST_GC_UNIX.load(Relaxed);
    m.gc_cpu_fraction = cpu_fraction(super::procs());
}
