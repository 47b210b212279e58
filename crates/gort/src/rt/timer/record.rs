//! The timer record, its state machine, and running due timers.
//!
//! # States (under `TimerInner::state`'s lock)
//!
//! ```text
//!  from       via                               to
//!  idle       start/reset: seq += 1, push       armed(seq)     pending += 1 on owner
//!  armed(s)   reset: seq += 1, push             armed(s+1)     (old entry now stale)
//!  armed(s)   stop: seq += 1                    idle           pending -= 1
//!  armed(s)   entry (s) due, one-shot           idle           fire, then pending -= 1
//!  armed(s)   entry (s) due, periodic           armed(s)       fire, push when+period
//!  any        entry (s') due, s' != seq         unchanged      stale entry dropped
//! ```
//!
//! `pending` is the owner runtime's `Shared::pending` (the runtime current when the timer was
//! armed; none for timers armed on plain threads). Like Go's checkdead, which does not report a
//! deadlock while any P has a timer, an armed timer means "something may still wake a
//! goroutine". The decrement after firing comes after the wake-up is delivered, so the deadlock
//! check never sees the woken goroutine parked with nothing pending (blocking.rs does the same).

use std::sync::{Arc, Condvar, Mutex, OnceLock};

use super::clock;
use super::queue::{Entry, TimerHeap};
use crate::rt::sched::bubble::Bubble;
use crate::rt::sched::park::{ctx, Unparker};
use crate::rt::sched::runtime::Shared;
use std::sync::atomic::Ordering::AcqRel;

/// What a timer does when it fires. The core knows two kinds: waking a parked goroutine (or
/// thread) and calling a [`Callback`]; Go's channel timers and `AfterFunc` are callbacks
/// written by the `time` package, socket deadlines are callbacks of the netpoller.
pub(crate) enum Kind {
    /// Wake a goroutine or thread (sleep).
    Wake(Unparker),
    /// Run a short, non-blocking callback right where timers run (the scheduler loop or the
    /// timer thread), as Go's runtime timers do.
    Call(Box<dyn Callback>),
}

impl Kind {
    /// A call timer running `f` after each firing.
    pub(crate) fn call(f: impl Fn() + Send + Sync + 'static) -> Kind {
        Kind::Call(Box::new(FnCallback(f)))
    }
}

/// What a call timer runs. Every method runs on the thread that runs timers and must not block;
/// the `_locked` ones run under the timer's state lock and must not touch this timer.
pub(crate) trait Callback: Send + Sync + 'static {
    /// The current arming fired (under the state lock, before [`fire`](Callback::fire)).
    fn fire_locked(&self, _now_ns: u64) {}
    /// The current arming fired (after the state lock is released). `owner` is the runtime
    /// the timer was armed in, `None` for timers armed on plain threads.
    fn fire(&self, now_ns: u64, owner: Option<&Arc<Shared>>);
    /// The timer was stopped or re-armed (under the state lock).
    fn disarmed_locked(&self) {}
}

struct FnCallback<F>(F);

impl<F: Fn() + Send + Sync + 'static> Callback for FnCallback<F> {
    fn fire(&self, _: u64, _: Option<&Arc<Shared>>) {
        (self.0)()
    }
}

#[derive(Default)]
struct State {
    seq: u64,
    armed: bool,
    period: u64,
    owner: Option<Arc<Shared>>,
}

/// A timer, shared by its handle and its heap entries.
pub(crate) struct TimerInner {
    state: Mutex<State>,
    pub(crate) kind: Kind,
    /// The synctest bubble whose clock it runs on (`rt/sched/bubble.rs`), fixed at creation:
    /// its entries go to the bubble's heap, never to a P's.
    bubble: Option<Arc<Bubble>>,
}

/// The runtime of the calling M (goroutine or scheduler loop), if any.
pub(crate) fn current_shared() -> Option<Arc<Shared>> {
    let c = ctx()?;
    // SAFETY: the Ctx's Shared is kept alive by the worker's Arc<Shared> for as long as the Ctx
    // exists, and `c.shared` came from Arc::as_ptr of it; we add a counted reference.
    unsafe {
        Arc::increment_strong_count(c.shared);
        Some(Arc::from_raw(c.shared))
    }
}

/// Where new timers go: their bubble's heap, else the current P's heap, or the global heap
/// off the runtime.
fn push(e: Entry) {
    if let Some(b) = e.t.bubble.clone() {
        b.timers.push(e);
        return;
    }
    match ctx() {
        Some(c) => c.p().timers.push(e),
        None => global().push(e),
    }
}

impl TimerInner {
    /// A timer on the calling goroutine's clock: its synctest bubble's if it is in one.
    pub(crate) fn new(kind: Kind) -> Arc<TimerInner> {
        Arc::new(TimerInner {
            state: Mutex::new(State::default()),
            kind,
            bubble: crate::rt::sched::bubble::current(),
        })
    }

    /// A timer on the real clock wherever it is made (the netpoller's deadlines, which are
    /// absolute `Instant`s of the real clock).
    pub(crate) fn new_real(kind: Kind) -> Arc<TimerInner> {
        Arc::new(TimerInner {
            state: Mutex::new(State::default()),
            kind,
            bubble: None,
        })
    }

    /// Now on this timer's clock (clock ns).
    pub(crate) fn now_ns(&self) -> u64 {
        match &self.bubble {
            Some(b) => b.now_ns(),
            None => clock::now_ns(),
        }
    }

    /// Arms (or re-arms) the timer to fire `d` from now on its own clock, every `period` ns
    /// after that if non-zero. Returns whether it was armed before. Panics when a bubbled
    /// timer is re-armed from outside its bubble (Go: "reset of synctest timer from outside
    /// bubble").
    #[track_caller]
    pub(crate) fn reset_after(self: &Arc<Self>, d: std::time::Duration, period: u64) -> bool {
        if let Some(b) = &self.bubble {
            let here = crate::rt::sched::bubble::current();
            if !here.as_ref().is_some_and(|h| Arc::ptr_eq(h, b)) {
                panic!("gort: reset of a synctest timer from outside its bubble");
            }
        }
        let d = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.reset(self.now_ns().saturating_add(d), period)
    }

    /// True if `seq` is the current arming (used to drop stale heap entries).
    pub(crate) fn is_armed_as(&self, seq: u64) -> bool {
        let s = self.state.lock().unwrap();
        s.armed && s.seq == seq
    }

    pub(crate) fn is_armed(&self) -> bool {
        self.state.lock().unwrap().armed
    }

    /// Arms (or re-arms) the timer to fire at `when` (clock ns), every `period` ns after that
    /// if non-zero. Returns whether it was armed before.
    pub(crate) fn reset(self: &Arc<Self>, when: u64, period: u64) -> bool {
        let mut s = self.state.lock().unwrap();
        let was = s.armed;
        s.seq += 1;
        s.armed = true;
        s.period = period;
        if !was {
            s.owner = current_shared();
            if let Some(o) = &s.owner {
                o.pending.fetch_add(1, AcqRel);
            }
        }
        let seq = s.seq;
        // Under the state lock, which a firing holds while it sends: no value of an older
        // arming can arrive after this drain.
        self.clear_slot();
        drop(s);
        push(Entry {
            when,
            seq,
            t: self.clone(),
        });
        was
    }

    /// Disarms the timer. Returns whether it was armed.
    pub(crate) fn stop(&self) -> bool {
        let mut s = self.state.lock().unwrap();
        let was = s.armed;
        s.seq += 1;
        s.armed = false;
        let owner = s.owner.take();
        self.clear_slot();
        drop(s);
        if let Some(o) = owner {
            o.pending.fetch_sub(1, AcqRel);
        }
        was
    }

    /// Tells a callback that an arming ended without firing (Go 1.23's channel timers drain
    /// a stale value here). Called with the state lock held.
    fn clear_slot(&self) {
        if let Kind::Call(c) = &self.kind {
            c.disarmed_locked();
        }
    }

    /// Fires the timer for heap entry `e` if it is still the current arming.
    fn fire(e: Entry, now: u64) {
        let t = e.t;
        let mut s = t.state.lock().unwrap();
        if !s.armed || s.seq != e.seq {
            return;
        }
        let (owner, rearm) = if s.period > 0 {
            // Skip missed ticks, as Go does.
            let p = s.period;
            let next = e.when + p * (1 + now.saturating_sub(e.when) / p);
            (s.owner.clone(), Some(next))
        } else {
            s.armed = false;
            (s.owner.take(), None)
        };
        if let Kind::Call(c) = &t.kind {
            // Under the state lock, so stop/reset (which notify under it) never let an effect
            // of an older arming through.
            c.fire_locked(now);
        }
        drop(s);
        match &t.kind {
            Kind::Wake(u) => u.unpark(),
            Kind::Call(c) => c.fire(now, owner.as_ref()),
        }
        if let Some(when) = rearm {
            push(Entry {
                when,
                seq: e.seq,
                t: t.clone(),
            });
        } else if let Some(o) = owner {
            o.pending.fetch_sub(1, AcqRel);
        }
    }
}

/// The runtime's own sleep, for the `time` package and for the packages below it: parks the
/// calling goroutine for at least `d` (its P runs other goroutines meanwhile); outside a
/// goroutine, sleeps the thread.
#[track_caller]
pub(crate) fn sleep(d: std::time::Duration) {
    if d.is_zero() {
        return;
    }
    if !crate::rt::sched::park::in_goroutine() {
        std::thread::sleep(d);
        return;
    }
    let at = std::panic::Location::caller();
    let t = TimerInner::new(Kind::Wake(Unparker::current()));
    t.reset_after(d, 0);
    while t.is_armed() {
        crate::rt::sched::park::park_at(crate::rt::sched::g::WaitReason::Sleep, at);
    }
}

/// Runs every timer in `h` that is due; returns how many entries it took off.
pub(crate) fn run_due(h: &TimerHeap) -> usize {
    if h.next_when() == u64::MAX {
        return 0;
    }
    run_due_at(h, clock::now_ns())
}

/// Runs every timer in `h` due at `now` (a synctest bubble's root passes the fake now).
pub(crate) fn run_due_at(h: &TimerHeap, now: u64) -> usize {
    let mut n = 0;
    if h.next_when() > now {
        return 0;
    }
    while let Some(e) = h.pop_due(now) {
        TimerInner::fire(e, now);
        n += 1;
    }
    n
}

/// Timers armed outside any runtime: one heap and a lazily started thread that sleeps until
/// the earliest of them.
struct Global {
    heap: TimerHeap,
    lock: Mutex<bool>,
    cv: Condvar,
}

fn global() -> &'static Global {
    static G: OnceLock<Global> = OnceLock::new();
    G.get_or_init(|| {
        std::thread::Builder::new()
            .name("gort-timers".into())
            .spawn(global_main)
            .expect("gort: cannot start the timer thread");
        Global {
            heap: TimerHeap::new(),
            lock: Mutex::new(false),
            cv: Condvar::new(),
        }
    })
}

impl Global {
    fn push(&self, e: Entry) {
        let earlier = e.when < self.heap.next_when();
        self.heap.push(e);
        if earlier {
            *self.lock.lock().unwrap() = true;
            self.cv.notify_one();
        }
    }
}

fn global_main() {
    let g = global();
    loop {
        run_due(&g.heap);
        let guard = g.lock.lock().unwrap();
        let mut guard = match clock::until(g.heap.next_when()) {
            _ if *guard => guard,
            Some(d) => g.cv.wait_timeout(guard, d).unwrap().0,
            None => g.cv.wait(guard).unwrap(),
        };
        *guard = false;
    }
}
