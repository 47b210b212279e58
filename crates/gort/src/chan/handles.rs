//! Handle counts of a channel, and the leak probes built from them.
//!
//! Every channel counts its live [`Sender`](super::Sender) and
//! [`Receiver`](super::Receiver) handles (incremented by `clone`, decremented by `drop`;
//! nothing else touches them, so the fast paths of send and receive do not). A receive can
//! only complete through a `Sender` (a send or a `close`), and a send only through a
//! `Receiver` (or a `close`, by a `Sender`: the send then fails and hands its value back). So
//! a blocked operation whose other side has no handle left can never succeed, and a receive
//! that can never succeed can never wake at all. Each blocking wait publishes what it needs
//! as a leak probe (`rt/sched/leak.rs`), which the `goroutineleak` profile, schedtrace and the
//! deadlock report evaluate when asked.
//!
//! The counts start at one each (`bounded`, `unbounded`), and once one reaches zero it stays
//! there: a handle is made only by cloning a live one. Decrements are Release and the
//! probe's reads Acquire (see the orderings of `rt/sched/leak.rs`).

use std::panic::Location;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use super::select::Arm;
use crate::rt::parking::Parking;
use crate::rt::sched::leak::Probe;
use crate::WaitReason;

/// The live handles of one channel. (`pub` in a private module: `Need` names it in the
/// sealed `ArmOps` trait.)
pub struct Refs {
    senders: AtomicUsize,
    receivers: AtomicUsize,
}

impl Refs {
    /// The counts of a new channel: one `Sender`, one `Receiver`.
    #[inline]
    pub(crate) const fn new() -> Refs {
        Refs {
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
        }
    }

    #[inline]
    pub(crate) fn add_sender(&self) {
        self.senders.fetch_add(1, Relaxed);
    }

    #[inline]
    pub(crate) fn drop_sender(&self) {
        self.senders.fetch_sub(1, Release);
    }

    #[inline]
    pub(crate) fn add_receiver(&self) {
        self.receivers.fetch_add(1, Relaxed);
    }

    #[inline]
    pub(crate) fn drop_receiver(&self) {
        self.receivers.fetch_sub(1, Release);
    }

    /// Live `Sender` handles now.
    #[inline]
    pub(crate) fn senders(&self) -> usize {
        self.senders.load(Acquire)
    }

    /// Live `Receiver` handles now.
    #[inline]
    pub(crate) fn receivers(&self) -> usize {
        self.receivers.load(Acquire)
    }
}

/// What one arm of a blocked operation needs to ever complete.
#[derive(Clone, Copy)]
pub enum Need<'a> {
    /// A receive: some `Sender` of this channel.
    Sender(&'a Refs),
    /// A send: some `Receiver` of this channel.
    Receiver(&'a Refs),
    /// A disabled (nil) `select` arm: it never fires.
    Never,
}

impl Need<'_> {
    /// True once the arm can never fire.
    fn is_hopeless(&self) -> bool {
        match self {
            Need::Sender(r) => r.senders() == 0,
            Need::Receiver(r) => r.receivers() == 0,
            Need::Never => true,
        }
    }
}

/// A blocked send or receive as its probe describes it: its parking record and its need.
struct Blocked<'a> {
    parking: &'a Parking,
    need: Need<'a>,
}

/// The probe's check of a send or receive: its other side gone and no wake-up already
/// granted. The counts are read first: a waker that claimed the record before dropping the
/// last handle is then seen.
///
/// # Safety
/// `data` points at a live `Blocked` (the probe's contract: it lives in the waiting frame).
unsafe fn stuck(data: *const ()) -> bool {
    // SAFETY: caller (a published probe's `Blocked` lives in the blocked frame, which cannot
    // be left while the detector pins the goroutine). Every field read is an atomic: the
    // counts and the record's claim word.
    let b = unsafe { &*(data as *const Blocked<'_>) };
    b.need.is_hopeless() && !b.parking.is_claimed()
}

/// Waits on `parking` (as `Parking::wait`), publishing `need` to the leak detector.
#[inline]
pub(crate) fn wait(
    parking: &Parking,
    reason: WaitReason,
    at: &'static Location<'static>,
    need: Need<'_>,
) {
    let blocked = Blocked { parking, need };
    // SAFETY: `stuck` reads only `blocked` and what it borrows (the channel's counts and the
    // parking record: atomics), all of which outlive `wait_probed`, which withdraws the
    // probe before it returns.
    let probe = unsafe { Probe::new(stuck, &blocked as *const Blocked<'_> as *const ()) };
    parking.wait_probed(reason, at, &probe);
}

/// A blocked `select`: its parking record and its arms (in the caller's frame). The needs
/// are computed by the check, not at the wait: a select pays nothing per arm for the probe.
struct BlockedSelect<'a, 'b> {
    parking: &'a Parking,
    arms: &'a [&'b mut dyn Arm],
}

/// The probe's check of a `select`: every arm hopeless and no wake-up already granted.
///
/// # Safety
/// `data` points at a live `BlockedSelect` whose owner is parked in the select's wait.
unsafe fn select_stuck(data: *const ()) -> bool {
    // SAFETY: as in `stuck`. The arms are the owner's, which does not touch them while it is
    // parked (pinned by the detector); `need` reads only an arm's channel pointer, written
    // before the wait, and the channel's atomic counts.
    let b = unsafe { &*(data as *const BlockedSelect<'_, '_>) };
    b.arms.iter().all(|a| a.need().is_hopeless()) && !b.parking.is_claimed()
}

/// Waits on a select's `parking`, publishing its arms to the leak detector.
#[inline]
pub(crate) fn wait_select(
    parking: &Parking,
    at: &'static Location<'static>,
    arms: &[&mut dyn Arm],
) {
    let blocked = BlockedSelect { parking, arms };
    // SAFETY: `select_stuck` reads only `blocked`, the arms' channel pointers and the
    // channels' counts and the record's claim word (atomics), all of which outlive
    // `wait_probed`, which withdraws the probe before it returns; no arm is touched by its
    // owner during the wait.
    let probe = unsafe {
        Probe::new(
            select_stuck,
            &blocked as *const BlockedSelect<'_, '_> as *const (),
        )
    };
    parking.wait_probed(WaitReason::Select, at, &probe);
}
