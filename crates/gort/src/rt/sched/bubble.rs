//! Synctest bubbles: goroutines on a fake clock that advances only when all of them are
//! durably blocked (Go 1.25's `testing/synctest`, runtime half: `runtime/synctest.go`).
//!
//! # The problem
//!
//! A test of a 1-hour timeout must not take an hour, and a test of "the retry happens after
//! 3 s" must not be flaky under load. Mocking a clock interface means threading it through
//! every API; Go instead lets the runtime give a group of goroutines (a *bubble*) its own
//! clock, which jumps to the next timer as soon as nothing in the bubble can make progress
//! without time passing.
//!
//! # How
//!
//! * **Membership.** `G::bubble` is set at spawn, before the record is shared, from the
//!   spawner's bubble (or given explicitly: a bubble's `main`, an `after_func` goroutine of a
//!   bubbled timer), and never changes until the record is recycled. A goroutine outside
//!   any bubble pays one branch on that field (beside `state`, already in cache) at spawn,
//!   park, ready and exit.
//! * **Counting.** Under `Bubble::st`, `total` counts member goroutines and `running` those
//!   not *durably blocked*: running, runnable, or parked for a reason only another member or a
//!   bubble timer can end (channel, select, `Cond`, `WaitGroup`/semaphore, sleep, join,
//!   [`wait`](Bubble::wait)). A park for I/O, a blocking-pool call, a mutex (as in Go: its
//!   holder may be anywhere), a locked thread or a user park does not count as durable. The
//!   worker decrements `running` after `commit_park` succeeds; `park::ready` increments it
//!   when it moves a durably parked member to runnable. Both read the same wait reason (set
//!   before the switch, cleared by the goroutine after it resumes), so each park is counted
//!   out and back exactly once, in either order: a ready that beats the worker's decrement
//!   only makes `running` briefly one too high, never zero while a member can run.
//! * **Activity.** `active` keeps the bubble awake while a party outside the counts is
//!   working: the root while it runs the bubble's timers, and whoever `maybe_wake` chose to
//!   wake, until it is awake (Go's `active`).
//! * **The root.** [`run_bubble`] (the caller of `synctest::run`, itself not a member) spawns
//!   `main`, then loops: run the bubble's due timers at the fake `now`, park until the bubble
//!   goes idle (`running == 0 && active == 0`), then set `now` to the earliest bubble timer
//!   and go round; no timer left, or `main` done, ends the loop. Members left then mean a
//!   deadlock, reported by panicking in the caller with the members' goroutine records.
//! * **Timers.** A timer made by a member (`TimerInner::new`) belongs to its bubble: it is
//!   armed on `Bubble::timers` at the bubble's `now`, never on a P's heap, so the scheduler
//!   never fires it on the real clock; only the root runs it.
//! * **Wait.** [`Bubble::wait`] records the caller as the waiter and parks (durably); when the
//!   bubble idles, `maybe_wake` prefers the waiter over advancing the clock unless a timer is
//!   already due at `now`.
//!
//! # Rejected alternatives
//!
//! * *A clock trait passed to the time API* (tokio's `time::pause` is a runtime-global flag
//!   instead): the first leaks into every signature; the second puts a whole runtime on fake
//!   time, so goroutines outside the test (a logger, another test) are frozen too.
//! * *Detecting idleness by polling the counters* (a sysmon tick): adds up to a tick of real
//!   time per advance, so a ticker test of 3,600 ticks would take seconds; counting at the
//!   transitions wakes the root at once.
//! * *Making the root a member* (Go's root joins its bubble while `Run` runs): gort's `G`
//!   field would then change after the record is shared; a root outside the counts that waits
//!   on its own flag needs no such write.
//!
//! # Invariants and orderings
//!
//! * `st` is a leaf lock: under it nothing parks, wakes or takes another lock (the chosen
//!   party is unparked after it is released). `timers`' lock is taken only without `st`.
//! * `now` is written only by the root, under `st`, between timer runs; read by anyone
//!   (Acquire). It never goes backwards.
//! * `total`/`running` change only through the four hooks (`spawned`, `parked`, `readied`,
//!   `exited`); each of `root_woken`, `waiter_woken` is set by `maybe_wake` (with `active += 1`
//!   on the woken party's behalf) and cleared by its party.

use std::panic::Location;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Release};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::g::WaitReason;
use super::park::Unparker;
use crate::rt::timer::{clock, TimerHeap};

/// The fake clock's start, as wall time: midnight UTC 2000-01-01 (Go's `synctestBaseTime`).
pub(crate) const BASE_UNIX_SECS: u64 = 946_684_800;

/// Whether a park for `reason` is durable: only another member (or a bubble timer) can end
/// it. Go's `isIdleInSynctest`, on gort's wait reasons.
pub(crate) fn is_durable(reason: WaitReason) -> bool {
    matches!(
        reason,
        WaitReason::Join
            | WaitReason::ChanReceive
            | WaitReason::ChanSend
            | WaitReason::Select
            | WaitReason::SelectNoCases
            | WaitReason::SyncCondWait
            | WaitReason::SemAcquire
            | WaitReason::Sleep
            | WaitReason::SynctestWait
    )
}

#[derive(Default)]
struct State {
    total: usize,
    running: usize,
    active: usize,
    /// The caller of `wait`, while it waits.
    waiter: Option<Unparker>,
    waiting: bool,
    waiter_woken: bool,
    root_woken: bool,
    /// `main` returned (or unwound).
    done: bool,
}

/// A synctest bubble (Go's `synctestBubble`).
pub(crate) struct Bubble {
    id: u64,
    st: Mutex<State>,
    /// The fake clock, in `clock` nanoseconds (starts at the real clock's now at creation, so
    /// fake `Instant`s are ordinary ones that simply run ahead).
    now: AtomicU64,
    /// `now` at creation: fake wall time is the base time plus `now - start`.
    start: u64,
    /// Timers armed by members (see the module essay); run only by the root.
    pub(crate) timers: TimerHeap,
    root: Unparker,
    shared: Arc<super::runtime::Shared>,
}

impl std::fmt::Debug for Bubble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bubble {}", self.id)
    }
}

/// The bubble of the running goroutine, if any.
pub(crate) fn current() -> Option<Arc<Bubble>> {
    let (_, g) = super::park::current()?;
    g.bubble.clone()
}

/// Whether the running goroutine is in a bubble.
pub(crate) fn in_bubble() -> bool {
    super::park::current().is_some_and(|(_, g)| g.bubble.is_some())
}

/// Now on the running goroutine's clock: its bubble's, else the real one (clock ns).
pub(crate) fn now_ns() -> u64 {
    match super::park::current() {
        Some((_, g)) => match &g.bubble {
            Some(b) => b.now_ns(),
            None => clock::now_ns(),
        },
        None => clock::now_ns(),
    }
}

/// Wall time on the running goroutine's clock (the fake one starts at 2000-01-01 UTC).
pub(crate) fn system_now() -> SystemTime {
    match current() {
        Some(b) => {
            SystemTime::UNIX_EPOCH
                + Duration::from_secs(BASE_UNIX_SECS)
                + Duration::from_nanos(b.now_ns() - b.start)
        }
        None => SystemTime::now(),
    }
}

impl Bubble {
    /// Now on this bubble's clock (clock ns).
    pub(crate) fn now_ns(&self) -> u64 {
        self.now.load(Acquire)
    }

    /// Hook: `g` of this bubble was just made (runnable, not yet shared).
    pub(crate) fn spawned(&self) {
        let mut st = self.st.lock().unwrap();
        st.total += 1;
        st.running += 1;
    }

    /// Hook (the worker, after `commit_park` succeeded): a member parked for `reason`.
    pub(crate) fn parked(&self, reason: WaitReason) {
        if is_durable(reason) {
            self.stop_running(false);
        }
    }

    /// A member stopped running (durably parked, or `exiting`): counts it out and wakes
    /// whoever the bubble going idle calls for, after the lock is released.
    fn stop_running(&self, exiting: bool) {
        let mut st = self.st.lock().unwrap();
        if exiting {
            st.total -= 1;
        }
        st.running = st
            .running
            .checked_sub(1)
            .expect("gort: synctest running count below zero");
        let wake = self.maybe_wake(&mut st);
        drop(st);
        if let Some(u) = wake {
            u.unpark();
        }
    }

    /// Hook (`park::ready`, on the PARKED -> RUNNABLE transition): a member parked for
    /// `reason` is runnable again.
    pub(crate) fn readied(&self, reason: WaitReason) {
        if is_durable(reason) {
            self.st.lock().unwrap().running += 1;
        }
    }

    /// Hook (the worker's `finish`): a member is gone.
    pub(crate) fn exited(&self) {
        self.stop_running(true);
    }

    /// If the bubble is idle, picks the party to wake (counted active on its behalf): the
    /// root when a timer is due now, else a waiter in `wait`, else the root (to advance the
    /// clock or report the deadlock). Go's `maybeWakeLocked`.
    fn maybe_wake(&self, st: &mut State) -> Option<Unparker> {
        if st.running > 0 || st.active > 0 {
            return None;
        }
        st.active += 1;
        let next = self.timers.next_when();
        if next > self.now_ns() || next == u64::MAX {
            if let Some(w) = &st.waiter {
                if !st.waiter_woken {
                    st.waiter_woken = true;
                    return Some(w.clone());
                }
            }
        }
        st.root_woken = true;
        Some(self.root.clone())
    }

    /// `synctest::wait`: blocks the calling member until every other member is durably
    /// blocked. Panics outside a bubble and when another wait is in progress.
    #[track_caller]
    pub(crate) fn wait() {
        let at = Location::caller();
        let Some(b) = current() else {
            panic!("gort::synctest::wait: goroutine is not in a bubble");
        };
        {
            let mut st = b.st.lock().unwrap();
            if st.waiting {
                panic!("gort::synctest::wait: wait already in progress");
            }
            st.waiting = true;
            st.waiter_woken = false;
            st.waiter = Some(Unparker::current());
        }
        loop {
            let mut st = b.st.lock().unwrap();
            if st.waiter_woken {
                st.active -= 1;
                st.waiter = None;
                st.waiting = false;
                st.waiter_woken = false;
                return;
            }
            drop(st);
            super::park::park_at(WaitReason::SynctestWait, at);
        }
    }

    /// Runs this bubble's timers due at its `now` (the root only).
    fn run_timers(&self) {
        crate::rt::timer::run_due_at(&self.timers, self.now_ns());
    }

    /// The goroutine records of the members that are parked, Go's dump format.
    fn members_dump(&self) -> String {
        let now = self.shared.nanotime();
        let mut out = String::new();
        let mut n = 0;
        for g in self.shared.all_gs() {
            if g.bubble.as_deref().is_some_and(|b| std::ptr::eq(b, self)) {
                if n > 0 {
                    out.push('\n');
                }
                super::traceback::write_g(&mut out, &g, now);
                n += 1;
            }
        }
        out
    }
}

/// Sets `done` when `main`'s function returns or unwinds.
struct MainDone(Arc<Bubble>);

impl Drop for MainDone {
    fn drop(&mut self) {
        self.0.st.lock().unwrap().done = true;
    }
}

/// Goes with every bubble: a unique id for dumps.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// `synctest::run`: runs `f` in a new goroutine of a new bubble and drives the bubble's clock
/// until every member has exited; resumes `f`'s panic; panics with a deadlock report if
/// members remain blocked with no timer left (or after `f` returned).
#[track_caller]
pub(crate) fn run_bubble<F>(f: F)
where
    F: FnOnce() + Send + 'static,
{
    let at = Location::caller();
    if in_bubble() {
        panic!("gort::synctest::run called from within a synctest bubble");
    }
    let shared = match super::park::ctx() {
        Some(c) => {
            // SAFETY: the Ctx's Shared is kept alive by the worker's Arc; we clone it.
            unsafe {
                Arc::increment_strong_count(c.shared);
                Arc::from_raw(c.shared)
            }
        }
        None => super::runtime::default_runtime().shared.clone(),
    };
    let start = clock::now_ns();
    let b = Arc::new(Bubble {
        id: NEXT_ID.fetch_add(1, AcqRel),
        st: Mutex::new(State {
            // The root, while it runs timers (Go's `active++` before its loop).
            active: 1,
            ..State::default()
        }),
        now: AtomicU64::new(start),
        start,
        timers: TimerHeap::new(),
        root: Unparker::current(),
        shared: shared.clone(),
    });
    let done = MainDone(b.clone());
    let main = super::spawn::spawn_on_in(
        &shared,
        move || {
            let _done = done;
            f()
        },
        at,
        super::spawn::Placement::Auto,
        Some(b.clone()),
    )
    .unwrap_or_else(|e| panic!("gort::synctest::run: cannot start the bubble: {e}"));

    let mut st = b.st.lock().unwrap();
    loop {
        drop(st);
        b.run_timers();
        st = b.st.lock().unwrap();
        if st.running == 0 && st.active == 1 {
            // Everything blocked while we ran timers: go on without parking (keep `active`).
        } else {
            st.active -= 1;
            while !st.root_woken {
                drop(st);
                super::park::park_at(WaitReason::SynctestRun, at);
                st = b.st.lock().unwrap();
            }
            // `maybe_wake` counted us active again.
            st.root_woken = false;
        }
        let next = b.timers.next_when();
        if next == u64::MAX || st.done {
            break;
        }
        if next > b.now_ns() {
            b.now.store(next, Release);
        }
    }
    let (total, done) = (st.total, st.done);
    drop(st);
    if total == 0 {
        if let Err(p) = main.join() {
            std::panic::resume_unwind(p);
        }
        return;
    }
    if done && main.is_finished() {
        if let Err(p) = main.join() {
            std::panic::resume_unwind(p);
        }
    }
    let reason = if done {
        "deadlock: main bubble goroutine has exited but blocked goroutines remain"
    } else {
        "deadlock: all goroutines in bubble are blocked"
    };
    panic!(
        "gort::synctest: {reason} ({total} left in bubble {}):\n\n{}",
        b.id,
        b.members_dump()
    );
}
