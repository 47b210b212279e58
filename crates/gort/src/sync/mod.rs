//! Synchronisation primitives that park goroutines: Go's `sync` package.
//!
//! # The problem
//!
//! `std::sync::Mutex` and friends block the OS thread: on gort's one-M-per-P scheduler that
//! stops a whole P and every goroutine queued on it, and a goroutine waiting for a lock held by
//! a goroutine queued behind it on the same P deadlocks. gort's primitives park the
//! *goroutine* instead, letting its P run others.
//!
//! # How
//!
//! Everything is built on one pattern (module `wait`): a waiter node on the parked
//! goroutine's stack, linked into a spin-locked FIFO, and a `Parking` record
//! through which a waker claims the operation, writes its result and sets `done` before
//! unparking. On top of it:
//!
//! * [`Mutex`] is Go's sync.Mutex: an atomic state word (locked, woken, starving, waiter
//!   count), a brief spin (4 rounds of 30 pauses, only on multi-core machines), then park on a
//!   runtime semaphore (`sema`). After a waiter has waited 1 ms the mutex enters starvation
//!   mode and unlock hands it directly to the first waiter.
//! * [`RwLock`] is Go's RWMutex (writer preference), [`WaitGroup`] Go's one-word WaitGroup,
//!   [`Once`]/[`OnceCell`] an atomic flag plus a mutex, [`Cond`] a waiter list that a waiter
//!   joins before releasing its mutex, [`Semaphore`] a weighted FIFO semaphore (units held
//!   by count or by RAII permits), [`Pool`] a per-P cache.
//! * Constructors are `const fn` (except `Pool::new`, which sizes its per-P slots), so the
//!   primitives can be `static`s, as std's can; they allocate nothing until contended.
//! * [`WaitGroup::go`] is Go 1.25's `wg.Go(f)`.
//! * Every operation is a preemption point at its entry, before any of its locks
//!   (`crate::rt::loom::preempt_point`): a goroutine looping on `try_lock`, an uncontended
//!   `lock`, `WaitGroup::add` and the like yields its P once sysmon flags its time slice. The
//!   queries (`Once::is_completed`, `OnceCell::get`, `Semaphore::available`) are not.
//!   Yielding while holding a *gort* lock (a `MutexGuard`) is fine; only spin locks must never
//!   be held across a yield.
//! * Goroutines never migrate between threads, so a guard held across a park (a channel
//!   operation while holding a `MutexGuard`) is sound, and so is a `!Send` value on the stack.
//!
//! # Rejected alternatives
//!
//! * *Futex-style locks on the OS thread*: block the P (see above).
//! * *Heap-allocated waiter nodes or per-lock `Vec` queues*: an allocation per contended
//!   operation; stack nodes are sound because a parked goroutine's stack cannot move.
//! * *Strict FIFO handoff always*: fair but slow under contention (every unlock becomes a
//!   context switch); Go's two-mode mutex keeps throughput and bounds the wait.
//!
//! # Invariants and orderings
//!
//! * Spin locks are never held across a park (they guard only queue manipulation).
//! * Lock acquisition is `Acquire` (or `AcqRel` on the slow-path CAS), release is `Release`,
//!   so an unlock happens before the next lock; a semaphore handoff is ordered by the
//!   semaphore's spin lock and the `done` Release/Acquire pair.
//! * All atomics and park/unpark go through the model-checking shim (`crate::rt::loom`), which
//!   swaps in shuttle's versions under `--cfg gort_model` (`model_tests.rs`).

mod cond;
mod mutex;
mod once;
mod pool;
pub(crate) mod runtime_sema;
mod rwlock;
mod semaphore;
mod waitgroup;

#[cfg(all(test, gort_model))]
mod model_tests;

pub use cond::Cond;
pub use mutex::{Mutex, MutexGuard};
pub use once::{Once, OnceCell};
pub use pool::Pool;
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{OwnedSemaphorePermit, Semaphore, SemaphorePermit};
pub use waitgroup::WaitGroup;

/// The atomics users need (re-exported from `std`).
pub use std::sync::atomic;
