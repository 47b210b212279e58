//! Channels fed by a timer: the runtime core's call timer sending the time on a 1-buffered
//! channel. `time::Timer`, `Ticker` and `after` are built on it, and so are the channels'
//! own `send_timeout`/`recv_timeout` (which cannot name the `time` package above them).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{bounded, Receiver, Sender};
use crate::rt::sched::runtime::Shared;
use crate::rt::timer::{clock, Callback, Kind, TimerInner};

/// The callback: sends the time on a 1-buffered channel; a full channel drops the new value,
/// as Go's timer channel does. The receiver kept here drains a stale value on stop/reset
/// (Go 1.23 semantics).
struct Slot(Sender<Instant>, Receiver<Instant>);

impl Callback for Slot {
    fn fire_locked(&self, now_ns: u64) {
        // Sent under the timer's state lock, so stop/reset (which drain under it) never let a
        // value of an older arming through. A full channel keeps its older value. `Chan`'s
        // own method: the public one is a preemption point, and this runs under a lock.
        let _ = self.0.chan.try_send(clock::ns_to_instant(now_ns));
    }
    fn fire(&self, _: u64, _: Option<&Arc<Shared>>) {}
    fn disarmed_locked(&self) {
        while self.1.chan.try_recv().is_ok() {}
    }
}

/// A disarmed timer and the channel it delivers on.
pub(crate) fn timer_channel() -> (Arc<TimerInner>, Receiver<Instant>) {
    let (tx, rx) = bounded(1);
    let keep = rx.clone();
    (TimerInner::new(Kind::Call(Box::new(Slot(tx, rx)))), keep)
}

/// A one-shot timer channel for a timeout arm, stopped when dropped.
pub(crate) struct Timeout {
    t: Arc<TimerInner>,
    pub(crate) rx: Receiver<Instant>,
}

impl Timeout {
    pub(crate) fn after(d: Duration) -> Timeout {
        let (t, rx) = timer_channel();
        t.reset_after(d, 0);
        Timeout { t, rx }
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        self.t.stop();
    }
}
