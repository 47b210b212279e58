//! Timers: `sleep`, `Timer`, `Ticker`, `after`, `after_func` (Go's `time` package, runtime part).
//!
//! # The problem
//!
//! A server keeps a timer per connection (deadlines) and a program may have 100,000
//! goroutines asleep at once. Arming and stopping must be O(log n) or better without a
//! global lock, an idle runtime must not wake up on a fixed tick, and a sleeping goroutine
//! must park (free its P), not block its thread.
//!
//! # How
//!
//! * **Per-P heaps.** Each P owns a 4-ary min-heap (`P::timers`, Go's design since 1.14). A
//!   timer is pushed onto the heap of the P whose goroutine arms it, so arming touches only a
//!   lock nobody else wants. Timers armed on plain threads go to one global heap served by a
//!   small `gort-timers` thread (Go has no plain threads; sysmon cannot serve them because
//!   they may belong to no runtime).
//! * **Lazy deletion.** `stop` and `reset` bump the timer's sequence number under its own
//!   small lock and leave the old heap entry behind; an entry fires only if its sequence is
//!   still current. Stale entries are dropped when they surface, and swept in bulk when a
//!   heap doubles (amortised O(1)). This is why stop/reset from any P never touch another
//!   P's heap (Go reaches the same end with its timerDeleted/timerModified states).
//! * **Running them.** The P's M runs its due timers at the top of `find_runnable` (one
//!   atomic load of `TimerHeap::next_when` when none is due). A fired sleep wakes its
//!   goroutine into `runnext` of the same P. An idle M sleeps in `park_timeout` (or in the
//!   netpoller, see `net`) exactly until its P's earliest timer: no ticks while idle.
//! * **Deadlock detection.** An armed timer counts in its runtime's `Shared::pending` (as
//!   Go's checkdead ignores a runtime with timers), so a program that sleeps is never
//!   reported as deadlocked, and one that waits on a stopped timer is.
//!
//! # Rejected alternatives
//!
//! * *A hierarchical timer wheel* (tokio, the Linux kernel): O(1) insert, but a granularity
//!   (1 ms in tokio) that rounds every sleep, cascading work on every tick, and a tick thread
//!   or a per-P "advance" even when nothing is due. Go's heap gives exact deadlines and a
//!   free "when is the next one" (the root) for sleeping idle Ms; per-P sharding removes the
//!   contention that made a single heap slow (Go 1.9's 64 timer buckets, then 1.14's per-P
//!   heaps).
//! * *Removing entries eagerly* on stop: needs the entry's index and the heap's lock from any
//!   thread, i.e. cross-P locking on every connection deadline reset.
//! * *A thread per sleeping goroutine* or a global timer thread for all: a futex round trip per
//!   timer and a global lock.
//!
//! # Invariants and orderings
//!
//! * A heap entry holds an `Arc` of its timer, so a timer lives until its last entry is
//!   popped or swept. `TimerInner::state` (a mutex) orders arm/stop/fire: whoever flips
//!   `armed` owns the `pending` decrement, which happens after the wake-up is delivered.
//! * `TimerHeap::next` is written under the heap lock (Release) and read without it
//!   (Acquire); a stale read costs one extra lock, never a missed timer, because the only
//!   writer of a P heap that can make it earlier runs on that P's M (or is the M itself).
//! * The clock is monotonic ns since a process-wide base (`clock.rs`).

mod api;

pub use api::{after, after_func, now, sleep, sleep_until, system_now, FuncTimer, Ticker, Timer};
