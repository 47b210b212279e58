//! Profiles in Go's pprof format: CPU, heap/allocs, goroutine, mutex and block, written as
//! gzip-compressed `perftools.profiles.Profile` messages that `go tool pprof` and
//! `gort pprof` read, from the API, the benchmark harness flags and an HTTP endpoint.
//!
//! # Problem
//!
//! Go's answer to "where does the time / memory / waiting go" is `runtime/pprof`: a CPU
//! profiler driven by SIGPROF, heap profiles from allocation sampling, and contention
//! profiles from the sync and channel code. gort has the allocation sampler (`alloc/`) and the
//! park points; it needs the samplers, the profile format, and the places users reach them.
//!
//! # How
//!
//! * CPU (`signal.rs`, `ring.rs`, `threads.rs`, `cpu.rs`): each runtime thread (workers,
//!   blocking-pool threads, threads inside `block_on`) registers while it lives; a profile
//!   arms a `timer_create` timer on each registered thread's CPU clock with `SIGEV_THREAD_ID`
//!   (threads registering later arm themselves). The SIGPROF handler reads the interrupted
//!   PC/FP/SP from the ucontext, walks frame pointers within the stack the SP lies in (the
//!   goroutine stack declared by the scheduler, or the thread stack cached at registration),
//!   and stores the PCs, the goroutine id and the label-set id in a static lock-free ring. A
//!   collector thread drains the ring every 20 ms into a map; `stop` symbolizes and writes.
//! * Heap (`heap.rs`): the allocation sampler's buckets, scaled like Go's `scaleHeapSample`.
//! * Goroutine (`goroutine.rs`): counts per (park site, creation site), as the dumps show them.
//! * Mutex and block (`contention.rs`): hooks in `sync/wait.rs` (every blocked park) and
//!   `sync/sema.rs` (the unlocker charges its waiters' delay), one relaxed load when off.
//! * Stall (`stall.rs`, gort's own): the stall episodes sysmon reports and logs
//!   (`rt/sched/stall.rs`), per (kind, culprit location, creation site), with their
//!   stalled time.
//! * Format (`proto.rs`, `profile.rs`, `symbolize.rs`): profiles are built as a symbolized
//!   [`Profile`] (tests and tools can inspect it), then encoded by a small hand-rolled
//!   protobuf writer and gzipped with `flate2`. Symbols come from the `backtrace` crate
//!   (DWARF via gimli, with inlined frames), mappings from `/proc/self/maps`.
//! * Access (`api.rs`, `http.rs`): Go-shaped functions (`start_cpu_profile`, `lookup`), the
//!   harness flags (`testing/runner.rs`), and `/debug/pprof/*` on gort's own TCP listener.
//!
//! # Rejected alternatives
//!
//! * `setitimer(ITIMER_PROF)`: one process-wide timer whose signals coalesce beyond ~2.5
//!   busy threads, and which lands on an arbitrary thread (Go moved away from it in 1.18).
//! * Unwinding with DWARF (`backtrace::trace`) in the handler: it takes locks and may
//!   allocate; frame pointers need only bounded loads. The cost is that callers must build
//!   with `-C force-frame-pointers=yes` (this repository's `.cargo/config.toml` does).
//! * prost for encoding (as the CLI uses for decoding): it would add prost-derive and its
//!   proc-macro build to the runtime crate for four message types we only write; the writer
//!   here is ~80 lines and unit-tested against protobuf's wire format.
//! * Sampling goroutine stacks for the goroutine profile: parked goroutines' frames live on
//!   other stacks mid-switch; walking them safely would need the scheduler's cooperation.
//!
//! # Invariants and orderings
//!
//! * The signal handler allocates nothing, locks nothing, calls no libc function and reads
//!   memory only in static atomics, const thread-locals and the live part of the stack it
//!   interrupted (`signal.rs` has the argument). It stays installed once used; a late SIGPROF
//!   sees `ACTIVE == false` and returns.
//! * Ring slots: `EMPTY -> WRITING` (CAS, Acquire) `-> FULL` (Release) by a writer,
//!   `FULL -> EMPTY` (Release, after an Acquire load and copy) by the collector.
//! * Timers are created and deleted only under the registry lock; a thread deletes its timer
//!   before it exits (its guard drops), so no timer targets a dead thread.
//! * Stop order: delete the timers, wait 2 ms for pending signals, clear `ACTIVE`, join the
//!   collector (which drains once more), then symbolize.

mod api;
pub mod buildcheck;
mod contention;
mod cpu;
mod envsession;
mod goroutine;
mod heap_profile;
pub mod http;
pub(crate) mod labels;
mod profile;
mod proto;
mod ring;
mod signal;
mod stall;
mod symbolize;

pub use api::{
    cpu_profile_for, lookup, profile_names, start_cpu_profile, start_cpu_profile_with_rate,
    stop_cpu_profile, write_heap_profile, Lookup,
};
pub use contention::{set_block_profile_rate, set_mutex_profile_fraction};
pub use cpu::DEFAULT_CPU_HZ;
pub use envsession::EnvSession;
pub use heap_profile::scale_heap_sample;
pub use labels::{labels, with_labels};
pub use profile::{Frame, LabelValue, Line, Profile, Sample};

/// Serializes this crate's unit tests that use process-wide profiling state.
#[cfg(test)]
pub(crate) static TEST_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Now, in ns since the Unix epoch.
pub(crate) fn now_unix_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// Number of threads currently registered for CPU profiling (diagnostics).
pub fn profiled_threads() -> usize {
    crate::rt::hooks::cputimer::registered()
}
