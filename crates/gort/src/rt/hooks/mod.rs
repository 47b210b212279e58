//! The profilers' hooks in the runtime core: what the scheduler, `sync` and `chan` call so
//! that the `crate::prof` tool can attach. Each hook costs one relaxed load while its profile
//! is off.
//!
//! * `cputimer.rs`: the registry of runtime threads and their per-thread SIGPROF timers
//!   (armed while a CPU profile runs).
//! * `contention.rs`: the mutex and block profiles' sampling and event tables.

pub(crate) mod contention;
pub(crate) mod cputimer;
