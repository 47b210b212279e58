//! The garbage-collected heap: `Gc<T>` handles, `#[derive(Trace)]`, `GcCell` fields, and a
//! mark-and-sweep collector over Go-style size-class spans, paced by GOGC and GOMEMLIMIT.
//!
//! # The problem
//!
//! Rust ownership handles trees; shared graphs with cycles (caches, interpreters' objects,
//! persistent data structures shared between goroutines) need a tracing collector. It must be
//! sound from safe code although handles live anywhere Rust values live (stack, `Vec`, `Box`,
//! statics, other goroutines) where no collector can scan them precisely, and destructors of
//! dead objects must never observe freed objects.
//!
//! ```
//! use gort::gc::{Gc, GcCell, Trace};
//!
//! #[derive(Trace)]
//! struct Node {
//!     value: u64,
//!     next: GcCell<Option<Gc<Node>>>,
//! }
//!
//! let a = Gc::new(Node { value: 1, next: GcCell::new(None) });
//! let b = Gc::new(Node { value: 2, next: GcCell::new(Some(a.clone())) });
//! *a.next.borrow_mut() = Some(b.clone()); // a cycle
//! drop((a, b));
//! gort::gc(); // both freed
//! ```
//!
//! A type that derives `Trace` cannot implement `Drop` (its drop could otherwise read objects
//! freed in the same cycle):
//!
//! ```compile_fail
//! #[derive(gort::gc::Trace)]
//! struct S {
//!     next: Option<gort::Gc<S>>,
//! }
//! impl Drop for S {
//!     fn drop(&mut self) {}
//! }
//! ```
//!
//! Objects are dropped by the collecting thread, so they must be `Send`:
//!
//! ```compile_fail
//! #[derive(gort::gc::Trace)]
//! struct S {
//!     #[gc(skip)]
//!     local: std::rc::Rc<u32>,
//! }
//! let _ = gort::Gc::new(S { local: std::rc::Rc::new(1) });
//! ```
//!
//! and a handle crosses goroutines only when the object is `Send + Sync`:
//!
//! ```compile_fail
//! #[derive(gort::gc::Trace)]
//! struct S {
//!     #[gc(skip)]
//!     c: std::cell::Cell<u32>,
//! }
//! let g = gort::Gc::new(S { c: std::cell::Cell::new(1) });
//! std::thread::spawn(move || g.c.get());
//! ```
//!
//! # How
//!
//! * **Rooting** (`handle.rs`, `cell.rs`): handles outside the heap are *rooted* and counted
//!   in their object's root count; moving a value into the heap unroots the handles it
//!   contains (they become edges); `GcCell::borrow_mut` roots a cell's contents for the
//!   duration of the borrow, which is the write barrier. Roots = objects with a root count.
//! * **Pointer fields** (`atomic.rs`): `AtomicGc<T>`, one word (address + the outside-heap
//!   flag); a store shades and unroots the new handle, swaps, and shades the old target (the
//!   write barrier); a load shades and roots the target inside a guard.
//! * **Heap** (`sizeclass.rs`, `span.rs`, `heap.rs`, `alloc.rs`): Go's 67 size classes in
//!   64 KiB spans with the mark/alloc bitmaps and root counts in the span header; objects have
//!   no header: a span holds objects of one type and names it (Go keeps type information per
//!   span too), so a 16-byte node takes a 16-byte slot; a per-thread cache of one span per
//!   class plus a few alternates for other types (Go's mcache; per thread rather than per P
//!   because any thread may allocate); large objects on their own mappings; empty spans
//!   pooled and returned to the OS (`MADV_DONTNEED` once idle for a cycle, `munmap` for large
//!   ones).
//! * **Collection** (`mutator.rs`, `barrier.rs`, `mark.rs`, `collect.rs`, `worker.rs`): every
//!   heap-changing operation runs in a short *guard*; the collector stops the world with a
//!   Dekker handshake on the guards (STW1) to turn the write barrier on, marks concurrently
//!   (snapshot-at-the-beginning: roots scanned by root count, black allocation, the barrier
//!   shading the targets of handles whose root count changes and of `GcCell` contents being
//!   overwritten), stops the world again (STW2) to finish the mark and queue every span for
//!   sweeping, restarts it, sweeps lazily (allocators sweep the spans they need, `sweep.rs`)
//!   and in the background (freeing dead objects without drop glue with bitmap operations),
//!   then runs the drops of the others before their slots are reused.
//! * **Workers and assists** (`worker.rs`, `work.rs`, `assist.rs`): Go's split of the mark:
//!   25% of the Ps as dedicated workers (the collector thread plus helper threads), or a
//!   fractional worker held to its CPU share below 4 Ps (unthrottled while the mutators leave
//!   CPUs idle, Go's idle workers); allocating goroutines owe scan work in proportion to what
//!   they allocate while marking runs and pay it from the workers' credit or by marking grey
//!   objects and root-scan jobs from the shared pool, in slices short enough not to delay a
//!   pause.
//! * **Weak handles** (`weak.rs`): `Weak<T>` (Go's `weak.Pointer`) shares one slot per object,
//!   cleared at mark termination with the world stopped (before any sweep) when the object is
//!   unmarked; an upgrade shades the object and roots it inside a guard.
//! * **Cleanups** (`cleanup.rs`): `add_cleanup` (Go's `runtime.AddCleanup`) records a job in a
//!   side table keyed by object address; mark termination moves the entries of unmarked
//!   objects to a queue right after clearing weak handles (before any sweep, so no entry
//!   outlives its object's slot), and a dedicated thread runs them after the restart.
//! * **Pacing and telemetry** (`pacer.rs`, `stats.rs`, `trace_line.rs`): Go's heap goal,
//!   GOGC/GOMEMLIMIT with a CPU limiter, `gctrace=1` in Go's format, MemStats fields;
//!   `allocfreetrace=1` (`allocfreetrace.rs`), a record per allocation and free.
//!
//! # What is not (yet) Go's design
//!
//! Workers are OS threads beside the Ps, not goroutines on them; the fractional worker sleeps
//! to hold its share instead of being scheduled for it; root scanning visits every slot's root
//! count (Go scans stacks and globals). See docs/DESIGN.md.
//!
//! # Rejected alternatives
//!
//! * *Conservative stack scanning* (Boehm): cannot see handles in other threads' registers or
//!   in malloc'd memory (`Vec`, `Box`) without scanning all of them.
//! * *Precise stack maps*: Rust has none.
//! * *A root-set entry per handle* (a list node): a heap allocation per handle; a count per
//!   object plus a flag bit in the handle costs one atomic add per clone/drop.
//! * *Running drops during the sweep with the world stopped*: drops of `#[gc(skip)]` fields run
//!   user code, which may lock what a stopped mutator holds; they run after restart instead.
//!
//! # Invariants and orderings
//!
//! 1. A handle owned by Rust code (not inside a heap object's traced fields) is rooted, so
//!    its object's root count is positive (except inside guards, which the collector excludes).
//! 2. A heap `GcCell` not borrowed mutably holds only unrooted handles; one borrowed mutably
//!    holds only rooted handles and is skipped by the marker.
//! 3. Root counts and handle flags change only inside guards. STW1 and STW2 see them
//!    consistent (guard exit is `Release`, the collector's `SeqCst` read of `busy = 0` acquires
//!    it; `start_world` is a `Release` that guard entry acquires). While marking runs, every
//!    change shades the handle's target first (the barrier), so the concurrent root scan may
//!    read root counts at any time.
//! 4. Nothing is freed while marking runs; an object allocated while marking runs has its mark
//!    bit set before its root count is published (`Release`; the root scan reads `Acquire`).
//! 5. A dead object with drop glue is in the `fin` state from the sweep that found it until its
//!    drop has run and set `done`; only the next sweep frees it. Its slot is never reused
//!    while its drop runs.

pub(crate) mod alloc;
mod allocfreetrace;
mod assist;
mod atomic;
mod barrier;
mod cell;
mod cleanup;
pub(crate) mod collect;
mod gctrace;
mod handle;
pub(crate) mod mark;
pub(crate) mod mheap;
pub(crate) mod mutator;
mod pacer;
mod rootcache;
mod sizeclass;
pub(crate) mod span;
mod stats;
mod sweep;
mod visit;
mod weak;
mod work;
mod worker;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Once;

pub use atomic::AtomicGc;
pub use cell::{BorrowError, GcCell, GcRef, GcRefMut};
pub use cleanup::{add_cleanup, Cleanup};
pub use gort_macros::Trace;
pub use handle::Gc;
#[doc(hidden)]
pub use handle::RawHandle;
pub use pacer::{set_gc_percent, set_memory_limit};
pub(crate) use stats::{figures, GcFigures};
#[doc(hidden)]
pub use visit::Pass;
pub use visit::{Trace, Visitor};
#[doc(hidden)]
pub use weak::weak_slots;
pub use weak::Weak;

pub(crate) static HEAP: mheap::Heap = mheap::Heap::new();

static INIT: Once = Once::new();

/// Reads GOGC, GOMEMLIMIT and GODEBUG (gctrace, gccheckmark, gctorture, allocfreetrace) once.
#[inline]
pub(crate) fn init() {
    if !INIT.is_completed() {
        INIT.call_once(init_slow);
    }
    if crate::env::GC_REQUESTS_GEN.load(Relaxed) != APPLIED_REQUESTS.load(Relaxed) {
        apply_requests();
    }
}

#[cold]
fn init_slow() {
    stats::start();
    mutator::init_fence();
    crate::alloc::memstats::register_mem_stats_source(stats::fill);
    let fail = |e: crate::env::ConfigError| -> ! { panic!("gort: {e}") };
    if let Some(g) = crate::env::gogc_from_env().unwrap_or_else(|e| fail(e)) {
        pacer::GOGC.store(g, Relaxed);
    }
    if let Some(l) = crate::env::gomemlimit_from_env().unwrap_or_else(|e| fail(e)) {
        pacer::MEMLIMIT.store(l, Relaxed);
    }
    let d = crate::env::GoDebug::from_env().unwrap_or_else(|e| fail(e));
    collect::GCTRACE.store(d.gctrace, Relaxed);
    collect::CHECKMARK.store(d.gccheckmark, Relaxed);
    alloc::TORTURE.store(d.gctorture, Relaxed);
    allocfreetrace::configure(&d.allocfreetrace);
    collect::repace();
}

/// `Builder::godebug` requests applied so far (`crate::env::request_gc_godebug`).
static APPLIED_REQUESTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Applies the GC keys that runtimes' `Builder::godebug` strings named since the last call, in
/// the order the runtimes were built (`crate::env::GC_GODEBUG_KEYS` has the rule), after the
/// environment's values (`init_slow` ran first).
#[cold]
fn apply_requests() {
    static APPLYING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = APPLYING.lock().unwrap_or_else(|e| e.into_inner());
    let gen = crate::env::GC_REQUESTS_GEN.load(std::sync::atomic::Ordering::Acquire);
    for (d, named) in crate::env::take_gc_godebug_requests() {
        for k in named {
            match k {
                "gctrace" => collect::GCTRACE.store(d.gctrace, Relaxed),
                "gccheckmark" => collect::CHECKMARK.store(d.gccheckmark, Relaxed),
                "gctorture" => alloc::TORTURE.store(d.gctorture, Relaxed),
                "allocfreetrace" => match d.allocfreetrace {
                    crate::env::AllocFreeTrace::Off => allocfreetrace::ON.store(false, Relaxed),
                    _ => allocfreetrace::configure(&d.allocfreetrace),
                },
                _ => {}
            }
        }
    }
    // A request recorded after the load above is applied by the next call (its count is
    // newer than `gen`).
    APPLIED_REQUESTS.store(gen, Relaxed);
}

/// GOMAXPROCS as the collector sees it (`rt::sched::runtime::collector_procs`: the live
/// runtimes' Ps, summed and capped), or the CPU count when no runtime is live (the heap used
/// from plain threads only).
pub(crate) fn procs() -> usize {
    match crate::rt::sched::runtime::collector_procs() {
        0 => crate::env::ncpu(),
        n => n,
    }
}

/// Runs a full collection and waits for it, including the drops of the objects it frees
/// (Go's `runtime.GC`). Its `gctrace` line ends with ` (forced)`.
pub fn gc() {
    collect::collect(true);
}

/// Go's `debug.FreeOSMemory` for the GC heap: a full collection, then every free span's pages
/// returned to the OS at once (the per-cycle rate limit does not apply). Does nothing if the
/// program never used the GC heap. Called by `gort::debug::free_os_memory`.
pub(crate) fn free_os_memory() {
    if !INIT.is_completed() || mutator::in_guard() {
        return;
    }
    gc();
    let release = HEAP.lock().scavenge_take(0, 0);
    sweep::release_spans(&release);
}

/// Collections repeated for `GODEBUG=gctrace=2` (one per cycle while it is on).
#[doc(hidden)]
pub fn repeated_collections() -> u64 {
    collect::REPEATS.load(Relaxed)
}

/// Number of completed cycles (Go's `MemStats.NumGC`).
pub fn num_gc() -> u64 {
    stats::NUM_GC.load(Relaxed)
}

/// The longest stop-the-world pause so far, in nanoseconds.
pub fn max_pause_ns() -> u64 {
    stats::MAX_PAUSE.load(Relaxed)
}

/// Testing knob (GODEBUG `gctorture=N`): collect every `n` allocations; 0 turns it off. Freed
/// objects are overwritten with `0xdb` while it is on.
pub fn set_torture(n: u64) {
    init();
    alloc::TORTURE.store(n, Relaxed);
}

/// Testing knob (GODEBUG `gccheckmark=1`): verify each mark with an independent re-mark.
pub fn set_checkmark(on: bool) {
    init();
    collect::CHECKMARK.store(on, Relaxed);
}

/// Testing knob: run `n` dedicated mark workers (the collector thread and `n - 1` helpers)
/// whatever GOMAXPROCS is; 0 restores Go's split (25% of the Ps, a fractional worker below 4).
#[doc(hidden)]
pub fn set_mark_workers(n: usize) {
    init();
    collect::MARK_WORKERS.store(n as u64, Relaxed);
}

/// Nanoseconds goroutines and threads spent in mark assists since the program started.
#[doc(hidden)]
pub fn assist_total_ns() -> u64 {
    work::ASSIST_TOTAL_NS.load(Relaxed)
}

/// Bytes currently allocated on the GC heap (Go's `HeapAlloc` for this heap).
pub fn heap_live() -> u64 {
    alloc::HEAP_LIVE.load(Relaxed)
}

/// Bytes of GC heap spans in use (Go's `HeapInuse` for this heap).
pub fn heap_inuse() -> u64 {
    HEAP.lock().inuse_bytes() as u64
}
