//! The scheduler: goroutines (G) run by OS threads (M) that hold processors (P).
//!
//! # The problem
//!
//! Go multiplexes millions of goroutines onto a few threads, keeps every CPU busy with
//! per-P run queues and work stealing, and parks goroutines (not threads) when they block.
//! Go can move a running goroutine between threads because Go code keeps no thread identity
//! on its stack. Rust code does: thread-locals (std's, `rand::thread_rng`, `tracing`), `!Send`
//! values (`Rc`, `MutexGuard` of a pthread mutex) live across calls that may block. A stackful
//! coroutine that resumes on another thread can observe another thread's thread-locals, or
//! release a pthread mutex from the wrong thread: undefined behaviour reachable from safe code,
//! the known flaw of the `may` crate (whose `spawn` is `unsafe` for this reason).
//!
//! # The design
//!
//! * **No migration after start.** A goroutine that has started runs only on the M that
//!   started it (`G::home`, checked in `Worker::run` before every resume). Only goroutines
//!   that have not started may move: before its first resume a coroutine's stack holds only
//!   the user's `F: Send` closure. So `go` is safe with std::thread's bounds.
//! * **One M per P, for life.** Since a parked goroutine must wake on its own M, gort binds
//!   each P to one worker thread. Work still spreads: new goroutines go to the spawning P's
//!   `runnext`/ring and idle Ps steal half of a ring once it is a backlog (not drained for
//!   50 us), so placement happens at first run rather than at every resume. Since that
//!   placement lasts a goroutine's life, it is a policy of its own (`spawn::Placement`,
//!   DESIGN.md "Placement"): locality by default, spreading for accept loops' goroutines
//!   (`Worker::rehome`), co-location on request.
//! * **Queues.** Per P: `runnext`, a lock-free ring of 256 unstarted goroutines, an owner-only
//!   FIFO of started runnable goroutines (`pinned`) and a lock-free inbox for wake-ups from
//!   other threads. One global queue (unstarted only) checked every 61 ticks.
//! * **Spinning and idling** follow Go (`idle.rs`, model-checked): at most half of the busy Ps
//!   spin; submitters wake an idle P when none spins; the last spinner to find work wakes
//!   another; a P publishes its idleness before re-checking every queue, so no wake-up is
//!   lost. An M spins 50 us before it sleeps, so a cross-P hand-off to a busy runtime costs a
//!   cache-line transfer. Idle Ms sleep in `thread::park` (woken only if they sleep: the
//!   `parked` gate) or the netpoller: an idle runtime burns no CPU (sysmon sleeps too).
//! * **Blocking** calls go to a pool of extra threads (`blocking`); sysmon notices Ps that stop
//!   scheduling for 10 ms, flags the goroutine for cooperative preemption and lets idle Ps take
//!   that P's unstarted goroutines.
//!
//! # Rejected alternatives
//!
//! * *Migrating running goroutines* (Go, `may`): unsound for arbitrary Rust code, see above.
//!   A `Send`-only variant that checks at every park that the stack holds nothing `!Send` is
//!   not expressible in Rust's type system.
//! * *Thread per goroutine*: 8 MiB stacks and kernel scheduling; what Go exists to avoid.
//! * *Decoupled Ms and Ps with per-M pinned queues* (so a locked or stuck M could hand its P
//!   to another M): its started goroutines still could not move, so it buys little beyond
//!   the blocking pool and costs an M-to-P handshake on every wake-up.
//!
//! # Invariants and orderings
//!
//! * G state transitions are the table in `g.rs`; `notify` and the park CAS are `AcqRel`, so
//!   whatever a waker wrote before `unpark` is visible to the goroutine after `park` returns.
//! * Run-queue orderings are documented in `runq.rs`; `npidle`, `nmspinning` and queue lengths
//!   use `SeqCst` where Go's lost-wake-up argument needs a total order (`wakep` vs `idle`).
//! * A G's coroutine is touched only by the M that dequeued it; after start, only by `home`.

pub(crate) mod blocking;
pub(crate) mod bubble;
pub(crate) mod g;
pub(crate) mod gstate;
pub(crate) mod idle;
pub(crate) mod leak;
pub(crate) mod local;
pub(crate) mod lockosthread;
pub(crate) mod metrics;
pub(crate) mod p;
pub(crate) mod panic_hook;
pub(crate) mod park;
pub(crate) mod runq;
pub(crate) mod runtime;
pub(crate) mod schedtrace;
pub(crate) mod sigquit;
pub(crate) mod spawn;
pub(crate) mod stall;
pub(crate) mod sysmon;
pub(crate) mod task;
pub(crate) mod traceback;
pub(crate) mod worker;

#[cfg(all(test, gort_model))]
mod model_tests;
#[cfg(test)]
mod runq_tests;

pub use blocking::blocking;
pub use g::WaitReason;
pub use local::GoroutineLocal;
pub use lockosthread::{is_thread_locked, lock_os_thread, unlock_os_thread};
pub use park::{block_forever, park, yield_now, Unparker};
pub use runtime::{Builder, Error, Runtime, DEFAULT_STACK_SIZE};
pub use spawn::{
    go, goid, gomaxprocs, num_goroutine, try_go, GoBuilder, JoinHandle, Placement, SpawnError,
};
