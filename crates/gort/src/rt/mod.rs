//! The runtime core: the layer everything else builds on.
//!
//! * `sched/`: goroutines, Ps and Ms, run queues, park/unpark, sysmon, the blocking pool,
//!   goroutine dumps, schedtrace and the deadlock report.
//! * `stack/`: goroutine stacks (mapped, guarded, pooled) and the overflow handler.
//! * `current.rs`: the per-thread current-goroutine record (Go's `g`).
//! * `parking.rs`, `spinlock.rs`: the parking record and waiter queues every blocking
//!   operation of `chan` and `sync` is built on, and the runtime's spin lock.
//! * `timer/`: the per-P timer heaps, with two kinds of timer: wake and call.
//! * `netpoll/`: the poller and the per-descriptor poll records.
//! * `exectrace/`, `hooks/`: the execution trace's and the profilers' hooks (recording only;
//!   the `trace` and `prof` tools write the files).
//! * `interpose/`: libc's blocking calls (the sleep family, socket I/O, `poll`) made to park a
//!   calling goroutine.
//! * `loom.rs`: the model-checking shim for the lock-free and parking protocols.
//! * `vmaname.rs`: `GODEBUG=decoratemappings`, names for gort's anonymous mappings.
//! * `timehist.rs`: the lock-free duration histogram behind `gort::metrics`' latency and
//!   pause metrics (`sched/metrics.rs` gathers the scheduler's figures for it).
//!
//! Nothing here imports Go's packages (`chan`, `sync`, `time`, `net`, `gc`, `fs`) or the tools
//! (`metrics`, `prof`, `debug`, `trace`, `testing`); `tests/layering.rs` enforces it. The layer map and
//! the rules of who may touch which field are in `docs/DESIGN.md`.

pub(crate) mod current;
pub(crate) mod exectrace;
pub(crate) mod hooks;
#[cfg(all(
    feature = "interpose",
    target_os = "linux",
    target_env = "gnu",
    not(target_feature = "crt-static"),
    not(gort_model)
))]
pub(crate) mod interpose;
pub(crate) mod loom;
pub(crate) mod netpoll;
pub(crate) mod parking;
pub(crate) mod sched;
pub(crate) mod spinlock;
pub(crate) mod stack;
pub(crate) mod timehist;
pub(crate) mod timer;
pub(crate) mod vmaname;
