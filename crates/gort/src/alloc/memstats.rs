//! `MemStats`: Go's `runtime.MemStats` for the figures gort can measure today.

use std::sync::atomic::{AtomicPtr, Ordering};

use super::counters::read_alloc_counters;

/// A snapshot of memory statistics, named after Go's `runtime.MemStats` fields (snake_case).
///
/// | field          | Go field      | meaning here                                                 |
/// |----------------|---------------|--------------------------------------------------------------|
/// | `alloc`        | `Alloc`       | same: bytes of live heap objects (`total_alloc - freed`)     |
/// | `heap_alloc`   | `HeapAlloc`   | same as `alloc`, as in Go                                    |
/// | `total_alloc`  | `TotalAlloc`  | same: cumulative bytes allocated                             |
/// | `mallocs`      | `Mallocs`     | same: cumulative allocations                                 |
/// | `frees`        | `Frees`       | same: cumulative frees                                       |
/// | `heap_objects` | `HeapObjects` | same: `mallocs - frees`                                      |
/// | `sys`          | `Sys`         | differs: resident set size (`VmRSS`) of the whole process  |
///
/// Differences from Go: the heap figures count requested sizes (Go counts size-class sizes, so
/// its `B/op` for a 23-byte string is 24); `sys` is what the process holds in RAM, not the
/// address space the runtime reserved (Go's `Sys` counts reserved virtual memory, which for a
/// Rust process would include every thread stack and glibc arena reservation and be useless);
/// the snapshot is not taken with the world stopped, so fields read while other threads
/// allocate may disagree by a few objects. Allocations are only seen when
/// [`CountingAlloc`](super::CountingAlloc) is the global allocator; otherwise they read 0.
///
/// Go's GC and stack fields (`NumGC`, `PauseNs`, `NextGC`, `StackInuse`, ...) are added by the
/// subsystems that measure them, through `register_mem_stats_source` (crate-internal); the struct is
/// `#[non_exhaustive]` so that adding them is not a breaking change.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct MemStats {
    /// Bytes of allocated heap objects still live (Go's `Alloc`).
    pub alloc: u64,
    /// Cumulative bytes allocated (Go's `TotalAlloc`).
    pub total_alloc: u64,
    /// Resident set size of the process, in bytes (see the table: differs from Go's `Sys`).
    pub sys: u64,
    /// Cumulative count of heap objects allocated (Go's `Mallocs`).
    pub mallocs: u64,
    /// Cumulative count of heap objects freed (Go's `Frees`).
    pub frees: u64,
    /// Same as `alloc` (Go's `HeapAlloc`).
    pub heap_alloc: u64,
    /// Live heap objects, `mallocs - frees` (Go's `HeapObjects`).
    pub heap_objects: u64,
    /// Bytes of address space reserved for goroutine stacks, in use or cached for reuse,
    /// guard pages included (Go's `StackInuse`; physical use is lower, stacks are committed
    /// lazily).
    pub stack_inuse: u64,
    /// The resident memory of goroutine stacks as the memory limit counts it: one page per
    /// mapped stack, what a parked goroutine keeps committed (`rt::stack::resident_estimate`;
    /// a lower bound for goroutines that run deep). Far below `stack_inuse`.
    pub stack_resident: u64,
    /// Bytes of live malloc heap objects (`alloc - gc_heap_alloc`; 0 without
    /// [`CountingAlloc`](super::CountingAlloc)).
    pub malloc_heap_alloc: u64,
    /// The total GOMEMLIMIT is compared with: the GC heap's memory mapped and not returned to
    /// the OS (its in-use spans and the free spans it keeps), plus `stack_resident`, plus
    /// `malloc_heap_alloc` (Go's limit covers all the memory its runtime maps; gort counts
    /// these three, see `gc/pacer.rs`).
    pub memlimit_total: u64,
    /// Bytes of live objects on the GC heap (`gort::gc`), included in `alloc`/`heap_alloc`.
    pub gc_heap_alloc: u64,
    /// Live objects on the GC heap, included in `heap_objects`.
    pub gc_heap_objects: u64,
    /// Bytes of GC heap spans holding objects (Go's `HeapInuse`).
    pub heap_inuse: u64,
    /// Bytes of empty GC heap spans, released or not (Go's `HeapIdle`).
    pub heap_idle: u64,
    /// Bytes of empty GC heap spans returned to the OS (Go's `HeapReleased`).
    pub heap_released: u64,
    /// Heap goal of the next cycle (Go's `NextGC`).
    pub next_gc: u64,
    /// When the last cycle ended, ns since the Unix epoch (Go's `LastGC`).
    pub last_gc: u64,
    /// Total stop-the-world pause time (Go's `PauseTotalNs`).
    pub pause_total_ns: u64,
    /// Recent pauses, a ring of 256 (empty before the first cycle); the newest is at
    /// `(num_gc + 255) % 256` (Go's `PauseNs`).
    pub pause_ns: Vec<u64>,
    /// Completed cycles (Go's `NumGC`).
    pub num_gc: u32,
    /// Cycles forced by `gort::gc()` (Go's `NumForcedGC`).
    pub num_forced_gc: u32,
    /// Fraction of the available CPU time used by the collector since start (Go's
    /// `GCCPUFraction`).
    pub gc_cpu_fraction: f64,
}

const MAX_SOURCES: usize = 8;
static SOURCES: [AtomicPtr<()>; MAX_SOURCES] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; MAX_SOURCES];

/// Extension point: the GC and stack subsystems register a function that fills the fields they
/// own (added to [`MemStats`] alongside them). Sources run in registration order on every
/// [`read_mem_stats`]. Returns `false` if all slots are taken.
pub(crate) fn register_mem_stats_source(fill: fn(&mut MemStats)) -> bool {
    let p = fill as *mut ();
    SOURCES.iter().any(|s| {
        s.compare_exchange(std::ptr::null_mut(), p, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    })
}

/// Reads the current statistics (Go's `runtime.ReadMemStats`). Cheap; reads `/proc/self/statm`.
pub fn read_mem_stats() -> MemStats {
    let c = read_alloc_counters();
    let live = c.alloc_bytes.saturating_sub(c.free_bytes);
    let mut m = MemStats {
        alloc: live,
        total_alloc: c.alloc_bytes,
        sys: resident_bytes(),
        mallocs: c.mallocs,
        frees: c.frees,
        heap_alloc: live,
        heap_objects: c.mallocs.saturating_sub(c.frees),
        stack_inuse: crate::rt::stack::stack_stats().bytes_reserved as u64,
        stack_resident: crate::rt::stack::resident_estimate() as u64,
        malloc_heap_alloc: live,
        ..MemStats::default()
    };
    // The GC heap's source adds its spans.
    m.memlimit_total = m.stack_resident + m.malloc_heap_alloc;
    for s in &SOURCES {
        let p = s.load(Ordering::Acquire);
        if !p.is_null() {
            // SAFETY: only `register_mem_stats_source` stores non-null values, and it stores
            // `fn(&mut MemStats)` pointers cast to `*mut ()`.
            let fill: fn(&mut MemStats) = unsafe { std::mem::transmute::<*mut (), _>(p) };
            fill(&mut m);
        }
    }
    m
}

/// Resident set size from `/proc/self/statm` (second field, in pages); 0 if unavailable.
fn resident_bytes() -> u64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = s
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse().ok())
        .unwrap_or(0);
    // SAFETY: `sysconf` has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * page.max(0) as u64
}
