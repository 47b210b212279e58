//! Allocation accounting and heap-profile sampling: gort's `MemStats` source.
//!
//! # Problem
//!
//! Go's benchmarks report `B/op` and `allocs/op`, `runtime.ReadMemStats` reports `Mallocs`,
//! `Frees`, `TotalAlloc` and `HeapAlloc`, and `-memprofile` writes a heap profile sampled once per
//! 512 KiB. Rust's allocations do not go through gort, so gort wraps the process allocator:
//! [`CountingAlloc`] is installed with `#[global_allocator]` and sees every allocation of every
//! thread, including allocations made while a thread's TLS is being torn down.
//!
//! # How
//!
//! * Counting (`counters.rs`): each thread claims one cache-line-padded counter block from a
//!   static array (a CAS on the block's `claimed` flag; no allocation). Only the owner writes a
//!   block, with a relaxed load + relaxed store (no locked read-modify-write on the hot path).
//!   Readers sum every block with relaxed loads. When a thread exits, its block is released but
//!   its counters are kept, and the next thread that claims it keeps adding to them, so every
//!   sum is monotone and never goes backwards. A thread that cannot use a block (no block free,
//!   registration in progress, TLS already destroyed) adds to one shared block with `fetch_add`.
//! * Sampling (`sample.rs`): a per-thread countdown of bytes until the next sample, drawn from an
//!   exponential distribution with mean `rate` (Go's `MemProfileRate`, default 512 KiB) by a
//!   thread-local xorshift generator. The hot path is one subtraction and a sign test.
//! * Recording (`profile.rs`, `stack.rs`): a sampled allocation walks frame pointers (bounded,
//!   checked against the thread's stack bounds) and adds to a fixed table of buckets keyed by a
//!   hash of the PCs; the sampled pointer goes into a fixed open-addressing table so that its
//!   free is charged to the same bucket.
//!
//! # Rejected alternatives
//!
//! * One global `AtomicU64` per counter: every allocation of every thread would bounce one cache
//!   line between cores (measured by others at 20-50 ns per allocation under contention).
//! * A `thread_local!` holding a `Drop` counter that folds itself into a global total on exit:
//!   registering its destructor allocates (glibc's `__cxa_thread_atexit_impl` calls `calloc`),
//!   which re-enters the allocator while the TLS slot is half initialised. Here the destructor
//!   is armed by a separate zero-sized `thread_local!` while the thread is in the `REGISTERING`
//!   state, and nested allocations during that window go to the shared block.
//! * Capturing stacks with `std::backtrace`: it allocates and takes locks, so it cannot run inside
//!   the allocator.
//!
//! # Invariants and orderings
//!
//! * A block has at most one owner: `claimed` goes false -> true by CAS (`Acquire`) and back by a
//!   `Release` store in the exiting thread's destructor, so the next owner sees the counters the
//!   previous owner left and continues from them.
//! * Nothing on the allocation path allocates, except registration (which is guarded by the
//!   `REGISTERING` state) and the first sample of a thread (which reads its stack bounds with the
//!   per-thread `in_profiler` flag set, so the nested allocations are counted but never sampled).
//! * A sampled pointer is removed from the live table *before* the inner allocator frees it, so
//!   that another thread that receives the same address cannot be confused with it.
//!
//! # Cost
//!
//! Per allocation: one TLS load (the block pointer), two owner-only adds and the sample
//! countdown on one cache line; per free: one read of a global (`LIVE_COUNT`, 0 unless sampled
//! objects are live; then an 8 KiB filter), one TLS load and two adds. Measured with
//! `benches/alloc_overhead.rs` (glibc malloc, 2-core shared VM, median of interleaved runs):
//! ordinary allocation-heavy Rust code +2% (`BTreeMap` of 1000 entries) to +4.5% (1000
//! `format!` strings); a binary tree of boxed nodes +8%; bare `alloc`/`dealloc` calls with
//! nothing else to do +10% to +16% (about 1.4 ns per malloc/free pair).
//!
//! # Go's `MemStats` fields
//!
//! See [`MemStats`] for which fields mean exactly what Go's do and which differ.

pub(crate) mod cfi;
pub(crate) mod counters;
pub(crate) mod fpwalk;
mod global;
pub(crate) mod memstats;
pub(crate) mod profile;
pub(crate) mod sample;

pub use counters::{read_alloc_counters, thread_has_own_block, AllocCounters};
pub use global::CountingAlloc;
pub use memstats::{read_mem_stats, MemStats};
pub use profile::{heap_profile_records, HeapRecord};
pub use sample::{mem_profile_rate, set_mem_profile_rate, DEFAULT_MEM_PROFILE_RATE};

/// Whether a [`CountingAlloc`] has served at least one allocation in this process, that is,
/// whether the counters mean anything.
pub fn is_counting() -> bool {
    counters::INSTALLED.load(std::sync::atomic::Ordering::Relaxed)
}
