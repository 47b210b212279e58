//! Diagnostics: `GODEBUG=schedtrace`/`scheddetail` lines, goroutine dumps (Go's
//! `goroutine N [reason, how long]:` format, from the API and on SIGQUIT), the deadlock
//! report, and the count of stall reports ([`num_stalls`]).
//!
//! gort cannot walk a parked goroutine's stack frames portably, so a dump shows, for each
//! goroutine, where it parked (the `#[track_caller]` location of the blocking call) and where
//! it was created, in the shape Go prints frames (function line, then a tab and file:line), so
//! tools that read Go dumps can read these.

pub use crate::rt::sched::leak::num_leaked_goroutines;
pub use crate::rt::sched::schedtrace::sched_summary;
pub use crate::rt::sched::stall::num_stalls;
pub use crate::rt::sched::traceback::{goroutine_dump, write_goroutine_dump};
pub use crate::rt::stack::{stack_stats, StackStats};

/// Go's `debug.FreeOSMemory`: if the program used the GC heap, runs a full collection and
/// returns every free GC span's pages to the OS; then returns the goroutine stacks cached in
/// the current runtime's global pool (the per-P caches keep their few dozen each), instead of
/// waiting for sysmon's scavenger. Outside a goroutine it acts on the process-wide runtime.
pub fn free_os_memory() {
    crate::gc::free_os_memory();
    match crate::rt::sched::park::ctx() {
        Some(c) => c.shared().stacks.trim_all(),
        None => crate::rt::sched::runtime::default_runtime()
            .shared
            .stacks
            .trim_all(),
    }
}
