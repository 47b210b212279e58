//! The public timer API: `sleep`, `Timer`, `Ticker`, `after`, `after_func`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::chan::{Receiver, RecvTarget};
use crate::rt::sched::runtime::Shared;
use crate::rt::timer::{clock, Callback, Kind, TimerInner};

/// Pauses the calling goroutine for at least `d` (Go's `time.Sleep`); its P runs other
/// goroutines meanwhile. Outside a goroutine it sleeps the thread. A zero duration returns at
/// once.
#[track_caller]
pub fn sleep(d: Duration) {
    if d.is_zero() {
        // Returns at once, but is a preemption point (a `sleep(0)` loop yields its P when
        // sysmon asks).
        crate::rt::sched::park::preempt_point();
    }
    crate::rt::timer::sleep(d)
}

/// Pauses until `deadline` (no-op if it has passed), on the caller's clock (see [`now`]).
#[track_caller]
pub fn sleep_until(deadline: Instant) {
    sleep(deadline.saturating_duration_since(now()))
}

/// The current instant on the calling goroutine's clock: `Instant::now()`, except inside a
/// [`synctest`](crate::synctest) bubble, where it is the bubble's fake clock (it moves only
/// when every goroutine of the bubble is durably blocked). The instants sent by [`Timer`]
/// and [`Ticker`] are on the same clock.
pub fn now() -> Instant {
    clock::ns_to_instant(crate::rt::sched::bubble::now_ns())
}

/// The wall-clock time on the calling goroutine's clock (Go's `time.Now()`):
/// `SystemTime::now()`, except inside a [`synctest`](crate::synctest) bubble, whose fake
/// clock starts at midnight UTC 2000-01-01.
pub fn system_now() -> std::time::SystemTime {
    crate::rt::sched::bubble::system_now()
}

/// `after_func`'s callback: runs the function in a new goroutine of the runtime the timer was
/// armed in (the process-wide runtime for timers armed on plain threads), in the synctest
/// bubble it was armed in, if any.
struct Func(
    Arc<dyn Fn() + Send + Sync>,
    Option<Arc<crate::rt::sched::bubble::Bubble>>,
);

impl Callback for Func {
    fn fire(&self, _: u64, owner: Option<&Arc<Shared>>) {
        let f = self.0.clone();
        let default;
        let rt = match owner {
            Some(o) => o,
            None => {
                default = crate::rt::sched::runtime::default_runtime().shared.clone();
                &default
            }
        };
        let _ = crate::rt::sched::spawn::spawn_on_in(
            rt,
            move || f(),
            std::panic::Location::caller(),
            crate::rt::sched::spawn::Placement::Auto,
            self.1.clone(),
        );
    }
}

fn new_slot() -> (Arc<TimerInner>, Receiver<Instant>) {
    crate::chan::timer::timer_channel()
}

/// Receives the next value of a channel timer, parking until it fires.
fn recv(rx: &Receiver<Instant>) -> Instant {
    match rx.recv() {
        Ok(v) => v,
        // The timer keeps its sender, so its channel never closes.
        Err(_) => unreachable!("a timer channel is never closed"),
    }
}

fn try_recv(rx: &Receiver<Instant>) -> Option<Instant> {
    rx.try_recv().ok()
}

/// A one-shot timer (Go's `time.Timer`): fires once, `d` after it was made or last reset,
/// sending the time on its channel ([`Timer::c`], Go's `t.C`, 1-buffered).
///
/// A `Timer` is itself a receive target of [`select!`](crate::select), which is how a select
/// gets a timeout arm:
///
/// ```
/// use std::time::Duration;
/// gort::Runtime::new().unwrap().block_on(|| {
///     let (_tx, rx) = gort::chan::bounded::<u32>(0);
///     let got = gort::select! {
///         recv(rx) -> v => v.ok(),
///         recv(gort::time::after(Duration::from_millis(5))) -> _ => None,
///     };
///     assert_eq!(got, None);
/// });
/// ```
///
/// Dropping the timer stops it.
///
/// An armed timer counts as pending work for the deadlock detector of the runtime it was
/// armed in. One armed on a plain thread belongs to no runtime: a goroutine that waits only
/// on such a timer may be reported as deadlocked (as with any wait on a plain thread).
pub struct Timer {
    t: Arc<TimerInner>,
    rx: Receiver<Instant>,
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer")
            .field("armed", &self.t.is_armed())
            .finish()
    }
}

impl Timer {
    /// A timer that fires after `d`.
    pub fn new(d: Duration) -> Timer {
        let (t, rx) = new_slot();
        t.reset_after(d, 0);
        Timer { t, rx }
    }

    /// Waits for the timer to fire and returns when it did. Waits forever on a stopped timer
    /// whose value was already taken (as a receive from Go's stopped timer channel does).
    pub fn recv(&self) -> Instant {
        recv(&self.rx)
    }

    /// The timer's channel (Go's `t.C`): receives the fire time, once per arming.
    pub fn c(&self) -> &Receiver<Instant> {
        &self.rx
    }

    /// The fire time if the timer has fired and the value was not taken yet.
    pub fn try_recv(&self) -> Option<Instant> {
        try_recv(&self.rx)
    }

    /// Stops the timer. Returns true if this call stopped it, false if it had already fired or
    /// been stopped. After `stop` no value is received until the next `reset` (Go 1.23).
    pub fn stop(&self) -> bool {
        crate::rt::sched::park::preempt_point();
        self.t.stop()
    }

    /// Re-arms the timer to fire after `d`, discarding an unreceived value. Returns true if it
    /// was still armed.
    pub fn reset(&self, d: Duration) -> bool {
        crate::rt::sched::park::preempt_point();
        self.t.reset_after(d, 0)
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.t.stop();
    }
}

impl RecvTarget for Timer {
    type Item = Instant;
    fn receiver(&self) -> Option<&Receiver<Instant>> {
        Some(self.c())
    }
}

impl RecvTarget for Ticker {
    type Item = Instant;
    fn receiver(&self) -> Option<&Receiver<Instant>> {
        Some(self.c())
    }
}

/// Go's `time.After`: a [`Timer`] whose only use is to be received from, typically as the
/// timeout arm of a [`select!`](crate::select).
pub fn after(d: Duration) -> Timer {
    Timer::new(d)
}

/// A periodic timer (Go's `time.Ticker`): delivers the time every `period`; a slow receiver
/// misses ticks rather than queueing them.
pub struct Ticker {
    t: Arc<TimerInner>,
    rx: Receiver<Instant>,
}

impl std::fmt::Debug for Ticker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticker")
            .field("armed", &self.t.is_armed())
            .finish()
    }
}

fn period_ns(d: Duration) -> u64 {
    assert!(!d.is_zero(), "gort: non-positive interval for Ticker");
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Ticker {
    /// A ticker with period `d`. Panics if `d` is zero (as Go's NewTicker does).
    pub fn new(d: Duration) -> Ticker {
        let (t, rx) = new_slot();
        t.reset_after(d, period_ns(d));
        Ticker { t, rx }
    }

    /// Waits for the next tick.
    pub fn recv(&self) -> Instant {
        recv(&self.rx)
    }

    /// The ticker's channel (Go's `t.C`), usable in [`select!`](crate::select) (as is the
    /// `Ticker` itself).
    pub fn c(&self) -> &Receiver<Instant> {
        &self.rx
    }

    /// A tick that arrived and was not taken yet.
    pub fn try_recv(&self) -> Option<Instant> {
        try_recv(&self.rx)
    }

    /// Stops the ticker; no more ticks are delivered.
    pub fn stop(&self) {
        crate::rt::sched::park::preempt_point();
        self.t.stop();
    }

    /// Restarts the ticker with period `d`, the next tick `d` from now.
    pub fn reset(&self, d: Duration) {
        crate::rt::sched::park::preempt_point();
        self.t.reset_after(d, period_ns(d));
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.t.stop();
    }
}

/// Go's `time.AfterFunc`: runs `f` in a new goroutine after `d` (again after each `reset`).
/// The returned timer's `stop` prevents a run that has not started; its mailbox stays empty.
///
/// Unlike [`Timer`], dropping the handle does not stop it (Go's AfterFunc timers are usually
/// fire-and-forget).
pub fn after_func<F>(d: Duration, f: F) -> FuncTimer
where
    F: Fn() + Send + Sync + 'static,
{
    let bubble = crate::rt::sched::bubble::current();
    let t = TimerInner::new(Kind::Call(Box::new(Func(Arc::new(f), bubble))));
    t.reset_after(d, 0);
    FuncTimer { t }
}

/// The handle of an [`after_func`] timer.
pub struct FuncTimer {
    t: Arc<TimerInner>,
}

impl std::fmt::Debug for FuncTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FuncTimer")
            .field("armed", &self.t.is_armed())
            .finish()
    }
}

impl FuncTimer {
    /// Prevents the function from running. True if the timer was armed.
    pub fn stop(&self) -> bool {
        crate::rt::sched::park::preempt_point();
        self.t.stop()
    }

    /// Re-arms the timer to run the function after `d`. True if it was still armed.
    pub fn reset(&self, d: Duration) -> bool {
        crate::rt::sched::park::preempt_point();
        self.t.reset_after(d, 0)
    }
}
