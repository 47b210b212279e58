//! Idle Ps and spinning Ms: the wake-up protocol (Go's `pidle`, `npidle`, `nmspinning`,
//! `wakep` and the spinning-to-idle transition of `findRunnable`).
//!
//! # The problem
//!
//! An M that finds no work must sleep (an idle runtime burns no CPU), and work that appears
//! while Ps sleep must wake one, without a futex wake-up per submission and without ever
//! leaving work beside a sleeping P (a lost wake-up). gort adds a constraint Go does not
//! have: a started goroutine runs only on its home M, so a wake-up of a pinned goroutine must
//! reach that particular M (`P::push_inbox` + `P::unpark_m`), while unstarted work may be
//! taken by any M (`wake_one`).
//!
//! # How
//!
//! * At most one M wakes another at a time: `wake_one` succeeds only if some P is idle and no
//!   M is spinning (`nmspinning` 0 -> 1 by CAS), and hands the woken P the spinning count it
//!   took (`woken_spinning`, the "token"), under the idle-list lock.
//! * A spinning M that finds work stops spinning (`stop_spin`); if it was the last one, it
//!   wakes another (`wake_one`), because there may be more work.
//! * An M going idle publishes its idleness (`publish_idle`: on the list, `npidle` + 1),
//!   *then* stops spinning, *then* re-checks every queue. A submitter publishes its work,
//!   then (after a StoreLoad fence) reads `npidle` and `nmspinning`. With both orders, either
//!   the submitter sees an idle P and no spinner and wakes it, or the idle M sees the work.
//! * Leaving idle (`leave_idle`) takes the P off the list if it is still there; if `wake_one`
//!   took it off first, the M adopts the token (`take_token`): it owns one unit of
//!   `nmspinning` and must give it back, or every later `wake_one` believes a spinner exists.
//!
//! The netpoller adds a second way to sleep, which `thread::unpark` does not reach: an M
//! blocked in epoll is interrupted through an eventfd. `gated_sleep`/`interrupt_gated` are
//! that protocol (publish the gate, fence, re-check; waker: publish work, fence, read the
//! gate), shared by `netpoll::block` and `P::unpark_m`.
//!
//! # Model checking
//!
//! Every field is on the shim's atomics and mutex (`crate::rt::loom`), and
//! `model_tests.rs` drives this protocol with shuttle: Ms that search, spin, publish idleness,
//! re-check and park, and submitters that publish work and call `wake_one`; any lost wake-up
//! is a shuttle deadlock (every thread parked with work left), and a leaked token fails the
//! final count. Shuttle explores interleavings under sequential consistency; the one
//! weak-memory hazard (the submitter's StoreLoad) is argued at `wake_one`'s fence.
//!
//! # Access rules
//!
//! `list` under its lock; the counters and flags are atomics written by the Ms (their own
//! slot) and by `wake_one` (under the list lock); anyone may read them.

use std::sync::atomic::Ordering::{AcqRel, Relaxed, Release, SeqCst};

use crate::rt::loom::{AtomicBool, AtomicUsize, Mutex};

/// One P's entry.
pub(crate) struct Slot {
    /// True while the P is on the idle list (its M sleeps, or is about to).
    pub(crate) idle: AtomicBool,
    /// Set by `wake_one` when it hands this P the spinning count it took.
    woken_spinning: AtomicBool,
}

/// The idle list and the spinning count of one runtime.
pub(crate) struct IdleSet {
    list: Mutex<Vec<usize>>,
    /// Ps on the idle list.
    pub(crate) npidle: AtomicUsize,
    /// Ms spinning: looking for work to steal, or woken to do so.
    pub(crate) nmspinning: AtomicUsize,
    slots: Box<[Slot]>,
}

impl IdleSet {
    pub(crate) fn new(nprocs: usize) -> IdleSet {
        IdleSet {
            list: Mutex::new(Vec::with_capacity(nprocs)),
            npidle: AtomicUsize::new(0),
            nmspinning: AtomicUsize::new(0),
            slots: (0..nprocs)
                .map(|_| Slot {
                    idle: AtomicBool::new(false),
                    woken_spinning: AtomicBool::new(false),
                })
                .collect(),
        }
    }

    /// True while P `pid` is on the idle list.
    pub(crate) fn is_idle(&self, pid: usize) -> bool {
        self.slots[pid].idle.load(SeqCst)
    }

    /// Go's wakep, the decision half: if a P is idle and no M spins, takes that P off the
    /// idle list with a spinning token and returns it; the caller then wakes its M.
    ///
    /// Callers have just published work (a ring push, the global queue). The fence is the
    /// StoreLoad barrier of Go's protocol: without it a ring push (a release store of the
    /// tail, a plain store on x86) can still sit in the store buffer when this reads
    /// `nmspinning`, so the submitter sees the last spinner still spinning while that
    /// spinner, having stopped, finds the ring empty: work beside an idle P until sysmon's
    /// 10 ms check.
    pub(crate) fn wake_one(&self) -> Option<usize> {
        std::sync::atomic::fence(SeqCst);
        if self.npidle.load(SeqCst) == 0 || self.nmspinning.load(SeqCst) != 0 {
            return None;
        }
        if self
            .nmspinning
            .compare_exchange(0, 1, SeqCst, Relaxed)
            .is_err()
        {
            return None;
        }
        let mut list = self.list.lock().unwrap();
        match list.pop() {
            Some(pid) => {
                // Hand over the token while holding the list lock: `leave_idle` (same lock)
                // then either finds the P still listed, or finds the token already set,
                // never "not listed, no token yet".
                let s = &self.slots[pid];
                s.woken_spinning.store(true, Release);
                s.idle.store(false, SeqCst);
                self.npidle.fetch_sub(1, SeqCst);
                drop(list);
                Some(pid)
            }
            None => {
                drop(list);
                self.nmspinning.fetch_sub(1, SeqCst);
                None
            }
        }
    }

    /// An M going idle: puts its P on the list. Returns `npidle` after. The caller then
    /// stops spinning (`stop_spin`) and re-checks every queue before it sleeps.
    ///
    /// The count moves with the list, under its lock: `npidle` is decremented only by whoever
    /// takes a P off the list (`wake_one`, `leave_idle`), so an increment after the unlock
    /// let a `wake_one` pop this P and decrement before it, and `npidle` wrapped below zero
    /// (a debug build's overflow check aborted the scheduler: CI, 1 run in ~100 of
    /// `external_spawn_bursts_never_lose_a_wakeup`; `model_tests::npidle_never_wraps`).
    pub(crate) fn publish_idle(&self, pid: usize) -> usize {
        self.slots[pid].idle.store(true, SeqCst);
        let mut list = self.list.lock().unwrap();
        list.push(pid);
        let n = self.npidle.fetch_add(1, SeqCst) + 1;
        drop(list);
        n
    }

    /// An M leaving idle: takes its P off the list if it is still there. Returns true if it
    /// was (nobody woke it through `wake_one`); otherwise the caller must `take_token`.
    pub(crate) fn leave_idle(&self, pid: usize) -> bool {
        let mut list = self.list.lock().unwrap();
        if let Some(i) = list.iter().position(|&x| x == pid) {
            list.swap_remove(i);
            drop(list);
            self.slots[pid].idle.store(false, SeqCst);
            self.npidle.fetch_sub(1, SeqCst);
            true
        } else {
            false
        }
    }

    /// Takes the spinning token `wake_one` left for P `pid`, if any: the caller then owns one
    /// unit of `nmspinning`.
    pub(crate) fn take_token(&self, pid: usize) -> bool {
        self.slots[pid].woken_spinning.swap(false, AcqRel)
    }

    /// An M that wants to steal: Go's limit (at most half of the busy Ps spin). Returns true
    /// if the caller now spins (and owns a unit of `nmspinning`).
    pub(crate) fn try_spin(&self, nprocs: usize) -> bool {
        let busy = nprocs.saturating_sub(self.npidle.load(SeqCst));
        if 2 * self.nmspinning.load(SeqCst) >= busy {
            return false;
        }
        self.nmspinning.fetch_add(1, SeqCst);
        true
    }

    /// Gives back one unit of `nmspinning`. Returns true if it was the last one: a spinner
    /// that found work then wakes another (`wake_one`), as there may be more.
    pub(crate) fn stop_spin(&self) -> bool {
        self.nmspinning.fetch_sub(1, SeqCst) == 1
    }
}

/// The M's side of a sleep that a waker must interrupt (the netpoller, where `thread::unpark`
/// does not reach): publish `gate`, fence, re-check `has_work`, sleep only if there is none.
/// The waker's side is [`interrupt_gated`]. Either the sleeper's re-check sees the waker's
/// work, or the waker sees the gate and interrupts the sleep (an interrupt that comes before
/// the sleep starts must make it return at once: the netpoller's eventfd stays readable).
pub(crate) fn gated_sleep(
    gate: &AtomicBool,
    has_work: impl FnOnce() -> bool,
    sleep: impl FnOnce(),
) {
    gate.store(true, SeqCst);
    std::sync::atomic::fence(SeqCst);
    if !has_work() {
        sleep();
    }
    gate.store(false, SeqCst);
}

/// The waker's side of [`gated_sleep`], after it published its work.
pub(crate) fn interrupt_gated(gate: &AtomicBool, interrupt: impl FnOnce()) {
    std::sync::atomic::fence(SeqCst);
    if gate.load(SeqCst) {
        interrupt();
    }
}
