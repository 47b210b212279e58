//! Fake time for tests (Go 1.25's `testing/synctest`): [`run`] runs a function in a *bubble*
//! of goroutines whose clock advances only when every one of them is durably blocked, and
//! [`wait`] blocks until every other goroutine of the bubble is.
//!
//! # The problem
//!
//! Code with timeouts, retries and tickers is tested either slowly (really waiting) or
//! flakily (short real timeouts that a loaded CI machine misses). A test wants "an hour
//! passes" to take no time, and "wait until the background goroutine has done its part" to
//! be exact rather than a sleep.
//!
//! # How
//!
//! The runtime core does the work (`rt/sched/bubble.rs`, where the design essay is): each
//! goroutine record names its bubble (inherited at spawn), the scheduler counts the members
//! that are not durably blocked at every park, wake-up and exit, and timers made in a bubble
//! live on the bubble's own heap, run by the caller of [`run`] at the bubble's fake `now`.
//! When the count reaches zero the caller of [`wait`] is woken, or the clock jumps to the
//! next timer, or, with no timer left, [`run`] panics with a deadlock report. This module is
//! the public face: the semantics, the panics and the example.
//!
//! Durably blocked means parked on something only the bubble can end: a channel operation or
//! `select!`, `Cond::wait`, `WaitGroup::wait` or a semaphore, `sleep` or a timer/ticker,
//! `JoinHandle::join`, [`wait`]. Blocking on network I/O, a `blocking` pool call, a `Mutex`
//! (as in Go) or a plain park is not: while a member is in one, time stands still.
//!
//! # Rejected alternatives
//!
//! * *tokio's `time::pause`* (a runtime-wide fake clock advanced when the runtime idles):
//!   freezes every goroutine of the runtime, test or not, and cannot tell "blocked on the
//!   network" from "blocked on a timer".
//! * *A sysmon-driven advance* (poll the counters on each tick): each advance would cost a
//!   tick of real time; counting at the transitions makes a 1-hour sleep return in
//!   microseconds.
//!
//! # Differences from Go
//!
//! Go also makes channels and some sync values created in a bubble belong to it (using them
//! from outside panics, and a member blocked on an outside channel is not durably blocked).
//! gort does not track where a channel was made: a member blocked on a channel that only a
//! goroutine outside the bubble will send on counts as durably blocked, so the clock may
//! advance meanwhile. Keep such goroutines inside the bubble.

/// Runs `f` in a new goroutine in a new bubble and returns when every goroutine of the bubble
/// has exited (Go's `synctest.Run`).
///
/// Inside the bubble, [`crate::time::sleep`], [`Timer`](crate::time::Timer),
/// [`Ticker`](crate::time::Ticker), [`after`](crate::time::after),
/// [`after_func`](crate::time::after_func), channel `send_timeout`/`recv_timeout` and
/// `select!` timeout arms use the bubble's clock, and so do [`crate::time::now`] and
/// [`crate::time::system_now`] (which starts at midnight UTC 2000-01-01). The clock moves
/// only when every goroutine of the bubble is durably blocked (see the module docs), then
/// straight to the earliest timer of the bubble. Goroutines spawned inside the bubble, and
/// the goroutines of its `after_func` timers, join it; goroutines outside are not affected.
///
/// # Panics
///
/// * when called from inside a bubble (bubbles do not nest);
/// * with `f`'s panic, if it panicked;
/// * with `deadlock: all goroutines in bubble are blocked` and the blocked goroutines'
///   records, when every goroutine of the bubble is durably blocked and no timer of the
///   bubble is armed (nothing could ever wake them);
/// * with `deadlock: main bubble goroutine has exited but blocked goroutines remain` when
///   `f` returned and other goroutines of the bubble are still blocked once it is idle
///   (time stops when `f` returns).
///
/// # Example
///
/// A one-hour timeout, tested in no time:
///
/// ```
/// use std::time::{Duration, Instant};
/// gort::Runtime::new().unwrap().block_on(|| {
///     let real = Instant::now();
///     gort::synctest::run(|| {
///         let t0 = gort::time::now();
///         let (_tx, rx) = gort::chan::bounded::<u32>(0);
///         let got = gort::select! {
///             recv(rx) -> v => v.ok(),
///             recv(gort::time::after(Duration::from_secs(3600))) -> _ => None,
///         };
///         assert_eq!(got, None);
///         assert_eq!(gort::time::now() - t0, Duration::from_secs(3600));
///     });
///     assert!(real.elapsed() < Duration::from_secs(60));
/// });
/// ```
#[track_caller]
pub fn run<F>(f: F)
where
    F: FnOnce() + Send + 'static,
{
    crate::rt::sched::bubble::run_bubble(f)
}

/// Blocks until every other goroutine of the caller's bubble is durably blocked (Go's
/// `synctest.Wait`). The clock does not move while a goroutine waits here unless a timer is
/// already due, so after `wait` returns, everything the other goroutines can do at the
/// current instant has been done.
///
/// ```
/// use std::time::Duration;
/// gort::Runtime::new().unwrap().block_on(|| {
///     gort::synctest::run(|| {
///         let (tx, rx) = gort::chan::bounded(1);
///         let h = gort::go(move || {
///             tx.send(1).unwrap();
///             gort::time::sleep(Duration::from_secs(5));
///         });
///         gort::synctest::wait();
///         assert_eq!(rx.try_recv().ok(), Some(1));
///         // Time stops when `run`'s function returns: join the sleeper first.
///         h.join().unwrap();
///     });
/// });
/// ```
///
/// # Panics
///
/// Outside a bubble, and when another goroutine of the bubble is already in `wait`.
#[track_caller]
pub fn wait() {
    crate::rt::sched::bubble::Bubble::wait()
}

/// Whether the calling goroutine is in a synctest bubble.
pub fn is_in_bubble() -> bool {
    crate::rt::sched::bubble::in_bubble()
}
