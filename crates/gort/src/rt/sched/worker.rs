//! The M loop: find a runnable goroutine, run it until it yields, parks or exits, repeat.
//!
//! Search order (Go's findRunnable; GC work is not scheduled here: mark workers are threads
//! of their own and assists run on the allocating goroutine, see `crate::gc`):
//! 0. run this P's due timers (`crate::time`): fired sleeps land in runnext/pinned;
//! 1. every 61st tick, one goroutine from the global queue (fairness);
//! 2. wake-ups from the inbox join the pinned queue;
//! 3. `runnext` (inherits the time slice: the tick is not advanced);
//! 4. the pinned queue (woken goroutines) and the ring (new ones), alternating which goes
//!    first so neither starves the other;
//! 5. goroutines that called `yield_now` (Go puts them on the global queue; gort cannot, as
//!    they are pinned, so each P keeps them apart and also serves them every 61st tick);
//! 6. a batch from the global queue;
//!    then a non-blocking netpoll (`crate::net::poll`) if goroutines wait on I/O;
//! 7. steal half of another P's ring (4 passes in a random coprime order; runnext only on the
//!    last pass or from a stalled P), if fewer than half the busy Ps already spin;
//! 8. otherwise go idle: publish idleness, re-check every queue (the other half of the
//!    lost-wake-up protocol in `Shared::wakep`), and sleep until woken or until this P's next
//!    timer: in the netpoller if goroutines wait on I/O and no other M blocks there, else in
//!    `thread::park_timeout`.

use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release, SeqCst};
use std::sync::Arc;

use corosensei::{CoroutineResult, Yielder};

use super::g::{Coro, GRef, DEAD, PLACE_SPREAD};
use super::p::{P, P_IDLE, P_RUNNING};
use super::park::{set_ctx, Ctx, Switch};
use super::runtime::Shared;

/// Go's back-off before stealing another P's runnext.
const RUNNEXT_BACKOFF: std::time::Duration = std::time::Duration::from_micros(3);

/// How long a thief waits for a P to drain its own ring before it takes half of it (see
/// `Worker::steal`).
const STEAL_PATIENCE: std::time::Duration = std::time::Duration::from_micros(50);

/// How long an M whose P has run out of work watches its own inbox before it looks further.
const INBOX_SPIN: std::time::Duration = std::time::Duration::from_micros(5);

/// How long an M that found no work keeps looking before it sleeps.
const IDLE_SPIN: std::time::Duration = std::time::Duration::from_micros(50);

/// Finished G records a P keeps for reuse before handing half to the global list.
const GFREE_LOCAL_MAX: usize = 64;
/// Bound on the global list of finished G records.
const GFREE_GLOBAL_MAX: usize = 4096;

/// Coprime strides for the random steal order, per nprocs (computed once per worker).
fn coprimes(n: usize) -> Vec<usize> {
    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    (1..=n).filter(|&i| gcd(i, n) == 1).collect()
}

fn next_rand(state: &mut u64) -> u64 {
    // xorshift64*
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

pub(crate) fn worker_main(shared: Arc<Shared>, pid: usize) {
    let p = &shared.ps[pid];
    let _ = p.thread.set(std::thread::current());
    // SAFETY: gettid and pthread_self have no preconditions.
    p.tid.store(unsafe { libc::gettid() } as usize, Relaxed);
    // SAFETY: as above.
    p.pthread
        .store(unsafe { libc::pthread_self() } as usize, Relaxed);
    crate::rt::stack::ensure_sigaltstack();
    let _prof = crate::rt::hooks::cputimer::register_thread(); // CPU-profile timer while profiling
    let ctx = Ctx {
        shared: Arc::as_ptr(&shared),
        p: p as *const P,
        switch: std::cell::Cell::new(Switch::None),
    };
    set_ctx(&ctx);
    let mut w = Worker {
        ctx: &ctx,
        spinning: false,
        strides: coprimes(shared.nprocs()),
        seen: vec![(0, None); shared.nprocs()],
    };
    while let Some(g) = w.find_runnable() {
        w.run(g);
    }
    // Shutdown: drop what is queued here (breaking G -> Shared cycles). Started goroutines
    // leak their stacks (G::drop); unstarted ones drop their closures.
    // SAFETY: we are P's M.
    let local = unsafe { p.local() };
    local.pinned.clear();
    local.yielded.clear();
    // Free G records hold the runtime (`G::shared`): kept, they would keep it, its stack pool
    // and every stack in it mapped after the Runtime is dropped.
    local.gfree.clear();
    local.stacks.flush(&shared.stacks);
    drop(p.swap_runnext(None));
    while p.ring.pop().is_some() {}
    let mut v = std::collections::VecDeque::new();
    p.take_inbox(&mut v, drop);
    set_ctx(std::ptr::null());
}

/// Sleeps in `thread::park` until unparked or until `when` (clock ns; `u64::MAX`: no timer).
fn park_until(when: u64) {
    match crate::rt::timer::clock::until(when) {
        Some(d) => std::thread::park_timeout(d),
        None => std::thread::park(),
    }
}

/// Takes the oldest goroutine that yielded, keeping `Local::preempted` in step.
fn pop_yielded(local: &mut super::p::Local) -> Option<GRef> {
    let g = local.yielded.pop_front()?;
    // A load, not a swap: only the home M touches the flag, and a locked RMW per yield cost
    // Yield 13%.
    if local.preempted > 0 && g.preempted.load(Relaxed) {
        g.preempted.store(false, Relaxed);
        local.preempted -= 1;
    }
    Some(g)
}

/// Puts a goroutine displaced from runnext back in the right local queue.
pub(crate) fn requeue(ctx: &Ctx, g: GRef) {
    let p = ctx.p();
    if g.started() {
        // SAFETY: called on P's own M.
        let local = unsafe { p.local() };
        local.pinned.push_back(g);
        p.pinned_len.store(local.local_len(), Relaxed);
    } else if let Err(spill) = p.ring.push(g) {
        ctx.shared().global_push(spill);
    }
}

struct Worker<'a> {
    ctx: &'a Ctx,
    spinning: bool,
    strides: Vec<usize>,
    /// Per victim P: its ring's `taken` count when this M first saw it non-empty, and when.
    seen: Vec<(u32, Option<std::time::Instant>)>,
}

impl Worker<'_> {
    fn shared(&self) -> &Shared {
        self.ctx.shared()
    }

    fn p(&self) -> &P {
        self.ctx.p()
    }

    fn find_runnable(&mut self) -> Option<GRef> {
        loop {
            let shared = self.shared();
            if shared.shutdown.load(Acquire) {
                return None;
            }
            let p = self.p();
            if !p.locked_g.load(Acquire).is_null() {
                return self.find_locked();
            }
            p.status.store(P_RUNNING, Relaxed);
            p.stalled.store(false, Relaxed);
            // Timers first (Go's checkTimers); one atomic load when none is due.
            crate::rt::timer::run_due(&p.timers);
            // SAFETY: we are P's M, and no other `local` borrow is live in this loop.
            let local = unsafe { p.local() };
            let tick = p.schedtick.load(Relaxed);
            if tick.is_multiple_of(61) {
                if shared.global_len.load(Relaxed) > 0 {
                    let mut one = Vec::with_capacity(1);
                    shared.global_take(1, &mut one);
                    if let Some(g) = one.pop() {
                        return Some(self.picked(g, true));
                    }
                }
                if let Some(g) = pop_yielded(local) {
                    p.pinned_len.store(local.local_len(), Relaxed);
                    return Some(self.picked(g, true));
                }
            }
            if p.inbox_nonempty() {
                // Goroutines handed over before their first run join the ring, where thieves
                // can still take them if this P gets stuck (the pinned queue is ours alone).
                p.take_inbox(&mut local.pinned, |g| {
                    if let Err(spill) = p.ring.push(g) {
                        shared.global_push(spill);
                    }
                });
                p.pinned_len.store(local.local_len(), Relaxed);
            }
            if let Some(g) = p.swap_runnext(None) {
                if g.started() || local.preempted == 0 || !self.offload(g.clone()) {
                    return Some(self.picked(g, false));
                }
                // The unstarted goroutine waits in the ring for the idle P we woke; run one
                // that only this M can run.
                drop(g);
                let g = local.pinned.pop_front().or_else(|| pop_yielded(local));
                p.pinned_len.store(local.local_len(), Relaxed);
                if let Some(g) = g {
                    return Some(self.picked(g, true));
                }
            }
            let from_pinned = |local: &mut super::p::Local| {
                let g = local.pinned.pop_front();
                p.pinned_len.store(local.local_len(), Relaxed);
                g
            };
            // Goroutines that were preempted wait here while unstarted ones sit in
            // the ring and another P is not running a goroutine (idle, looking for work, or
            // between two): run the started ones, which only this M can run, and leave the
            // ring to that P (`offload` explains why). With every other P running goroutines,
            // Go's order (the ring before yielded goroutines) stands, so nothing starves.
            let leave_ring = local.preempted > 0
                && shared.nprocs() > 1
                && !p.ring.is_empty()
                && shared
                    .ps
                    .iter()
                    .any(|q| q.id != p.id && q.curg.load(Relaxed) == 0);
            let g = if leave_ring {
                let g = from_pinned(local).or_else(|| pop_yielded(local));
                p.pinned_len.store(local.local_len(), Relaxed);
                shared.wakep();
                g
            } else if tick & 1 == 0 {
                from_pinned(local).or_else(|| p.ring.pop())
            } else {
                p.ring.pop().or_else(|| from_pinned(local))
            };
            if let Some(g) = g {
                return Some(self.picked(g, true));
            }
            if let Some(g) = pop_yielded(local) {
                p.pinned_len.store(local.local_len(), Relaxed);
                return Some(self.picked(g, true));
            }
            // Nothing here: a wake-up from another P (the other end of a channel hand-off) is
            // often a fraction of a microsecond away. Watch our own inbox for it first, which
            // reads one line the waker writes, before the steal and idle paths, which write
            // lines every P shares (the spinning count, the idle list) and read the others'
            // queues: on a cross-P ping-pong they made each hop cost ~1 us.
            if shared.nprocs() > 1 && self.await_inbox() {
                continue;
            }
            if shared.global_len.load(Relaxed) > 0 {
                let n = (shared.global_len.load(Relaxed) / shared.nprocs() + 1)
                    .min(super::runq::CAP as usize / 2);
                let mut batch = Vec::with_capacity(n);
                shared.global_take(n, &mut batch);
                let mut it = batch.into_iter();
                if let Some(first) = it.next() {
                    for g in it {
                        if let Err(spill) = p.ring.push(g) {
                            shared.global_push(spill);
                        }
                    }
                    return Some(self.picked(first, true));
                }
            }
            // Non-blocking netpoll before stealing (Go's order). Goroutines it wakes go to
            // their home P; look again only if some of them are ours.
            if crate::rt::netpoll::poll_nonblocking() > 0 && self.local_work_visible() {
                continue;
            }
            if let Some(g) = self.steal() {
                return Some(self.picked(g, true));
            }
            self.idle();
        }
    }

    /// An unstarted goroutine from runnext while goroutines that were preempted wait on this
    /// P: put it in the ring and wake an idle P, so that the goroutine that can still go
    /// anywhere goes where a P is free and the ones that can run only here run first. A
    /// started goroutine never moves: running the new one here first would leave the
    /// preempted ones behind it, for a whole CPU-bound run if need be, beside an idle P (the
    /// tour's case). Only preempted goroutines count, as evidence of CPU-bound work: woken
    /// ones (a pipeline's stages) and voluntary yields (a spawner that yields until its
    /// partner starts: ParkPingPong went from 148 to 1,924 ns/op at 2 Ps when those counted)
    /// keep Go's runnext order, which keeps the pair on one P. Not only
    /// when a P is counted idle: one on its way to idle (still looking, or just started)
    /// counts as busy but steals from the ring in the next microseconds. Returns false,
    /// keeping `g`, with one P.
    fn offload(&self, g: GRef) -> bool {
        let shared = self.shared();
        if shared.nprocs() == 1 {
            return false;
        }
        if let Err(spill) = self.p().ring.push(g) {
            shared.global_push(spill);
        }
        shared.wakep();
        true
    }

    /// Bookkeeping for a goroutine about to run; `new_slice` starts a new time slice.
    ///
    /// Go's invariant, kept here too: while a P is idle and stealable work exists, some M is
    /// spinning or about to be woken. Pushes wake an idle P, but the P they woke may have
    /// found other work or gone back to sleep; so a P that starts a goroutine while its ring
    /// still holds unstarted ones makes sure (two loads when nobody is idle).
    fn picked(&mut self, g: GRef, new_slice: bool) -> GRef {
        let p = self.p();
        if new_slice {
            p.schedtick.store(p.schedtick.load(Relaxed) + 1, Relaxed);
        }
        if !self.spinning && self.shared().nprocs() > 1 && !p.ring.is_empty() {
            self.shared().wakep();
        }
        if self.spinning {
            self.spinning = false;
            self.p().spinning.store(false, Relaxed);
            if self.shared().idle.stop_spin() {
                // The last spinning M found work: there may be more, so wake another.
                self.shared().wakep();
            }
        }
        g
    }

    /// Go's stealWork, with patience. A goroutine that starts on a P stays there, so taking
    /// unstarted goroutines from a P that is draining its ring by itself splits goroutines
    /// that talk to each other (fan-in producers spawned in a loop, a spawn tree) over Ps for
    /// good, and every message between them then crosses Ps. So a thief takes half of a ring
    /// only once it is a backlog: still non-empty with its `taken` count unchanged for
    /// `STEAL_PATIENCE` (the owner is busy elsewhere: a CPU-bound goroutine, a spawn loop),
    /// or at once from a stalled or locked P. The wait is spent spinning here, so the thief
    /// is still a spinning M that submitters need not wake.
    fn steal(&mut self) -> Option<GRef> {
        let shared = self.ctx.shared();
        let n = shared.nprocs();
        if n == 1 {
            return None;
        }
        if !self.spinning {
            if !shared.idle.try_spin(n) {
                return None;
            }
            self.spinning = true;
            self.p().spinning.store(true, Relaxed);
        }
        let me = self.p().id;
        let start = std::time::Instant::now();
        loop {
            let mut pending = false;
            // SAFETY: we are P's M.
            let rng = &mut unsafe { self.ctx.p().local() }.rng;
            for pass in 0..4 {
                let r = next_rand(rng) as usize;
                let stride = self.strides[r % self.strides.len()];
                let mut v = (r >> 16) % n;
                for _ in 0..n {
                    v = (v + stride) % n;
                    if v == me {
                        continue;
                    }
                    let victim = &shared.ps[v];
                    let stalled =
                        victim.stalled.load(Relaxed) || !victim.locked_g.load(Relaxed).is_null();
                    if !victim.ring.is_empty() {
                        let taken = victim.ring.taken();
                        let backlog = match self.seen[v] {
                            (t, Some(since)) if t == taken => since.elapsed() >= STEAL_PATIENCE,
                            _ => {
                                self.seen[v] = (taken, Some(std::time::Instant::now()));
                                false
                            }
                        };
                        if stalled || backlog {
                            if let Some(g) = victim.ring.steal_into(&self.ctx.p().ring) {
                                self.seen[v].1 = None;
                                return Some(g);
                            }
                        } else {
                            pending = true;
                        }
                    }
                    if pass == 3 || stalled {
                        if pass == 3 && !stalled && !victim.runnext.load(Relaxed).is_null() {
                            // Go backs off ~3us: the victim is probably about to run its
                            // runnext itself (a channel hand-off takes ~50 ns). Timed, not
                            // counted: the cost of `pause` varies 10x between CPUs.
                            let until = std::time::Instant::now() + RUNNEXT_BACKOFF;
                            while std::time::Instant::now() < until {
                                std::hint::spin_loop();
                            }
                        }
                        if let Some(g) = victim.steal_runnext() {
                            return Some(g);
                        }
                    }
                }
            }
            // A ring that may yet become a backlog: keep watching it (bounded), unless work
            // only this M can run arrives meanwhile.
            if !pending
                || start.elapsed() > STEAL_PATIENCE + STEAL_PATIENCE / 2
                || self.local_work_visible()
                || shared.global_len.load(Relaxed) > 0
                || shared.shutdown.load(Relaxed)
            {
                return None;
            }
            for _ in 0..32 {
                std::hint::spin_loop();
            }
        }
    }

    /// Is there work this M could take?
    fn work_visible(&self) -> bool {
        let shared = self.shared();
        let p = self.p();
        shared.global_len.load(SeqCst) > 0
            || p.inbox_nonempty()
            || !p.runnext.load(SeqCst).is_null()
            || shared.ps.iter().any(|q| !q.ring.is_empty())
    }

    /// Work that only this M can see or take: its inbox, runnext, or a due timer.
    fn local_work_visible(&self) -> bool {
        let p = self.p();
        p.inbox_nonempty()
            || !p.runnext.load(SeqCst).is_null()
            || p.timers.next_when() <= crate::rt::timer::clock::now_ns()
    }

    /// Removes this P from the idle list if it is still there. Returns true if it was (nobody
    /// woke it through `wakep`).
    fn unidle(&self) -> bool {
        self.shared().idle.leave_idle(self.p().id)
    }

    fn idle(&mut self) {
        let shared = self.ctx.shared();
        let p = self.ctx.p();
        p.status.store(P_IDLE, Relaxed);
        // The protocol's order (`idle.rs`): publish idleness, stop spinning, re-check.
        let npidle = shared.idle.publish_idle(p.id);
        if self.spinning {
            self.spinning = false;
            p.spinning.store(false, Relaxed);
            shared.idle.stop_spin();
        }
        // Re-check after publishing idleness: a submitter either saw npidle > 0 and will wake
        // someone, or pushed its work before our increment and we see it here.
        if self.work_visible() || self.local_work_visible() || self.spin_before_sleep() {
            self.unidle();
            self.adopt_spinning_token();
            return;
        }
        if npidle + shared.nlockedwait.load(SeqCst) == shared.nprocs() {
            shared.poke_sysmon();
        }
        crate::rt::exectrace::proc_stop();
        let mut in_poller;
        loop {
            // Sleep until woken or until this P's next timer; one idle M at a time sleeps in
            // the netpoller instead (it re-checks for work after publishing `in_netpoll`).
            let when = p.timers.next_when();
            in_poller = crate::rt::netpoll::block(p, when, || {
                shared.shutdown.load(Acquire)
                    || !shared.idle.is_idle(p.id)
                    || self.local_work_visible()
            });
            if !in_poller {
                super::idle::gated_sleep(
                    &p.parked,
                    || {
                        shared.shutdown.load(Acquire)
                            || !shared.idle.is_idle(p.id)
                            || self.local_work_visible()
                    },
                    || park_until(when),
                );
            }
            let woken = !shared.idle.is_idle(p.id) || self.local_work_visible();
            if woken || shared.shutdown.load(Acquire) {
                break;
            }
        }
        crate::rt::exectrace::proc_start();
        self.unidle();
        shared.tick_coarse();
        if shared.sysmon_deep_sleep.load(SeqCst) {
            shared.poke_sysmon();
        }
        self.adopt_spinning_token();
        if in_poller && crate::rt::netpoll::has_waiters() {
            // We leave the netpoller with goroutines still waiting on I/O: hand the duty to
            // another idle P, or their readiness waits for a busy P to run dry or for
            // sysmon's 10 ms poll (Go's Ps share goroutines, so it need not).
            shared.wakep();
        }
    }

    /// Polls this P's inbox and runnext for up to `INBOX_SPIN`, without writing anything
    /// shared; true if work arrived. Gives up early if the global queue has work.
    fn await_inbox(&self) -> bool {
        let p = self.p();
        let shared = self.shared();
        let mut until = None;
        loop {
            for _ in 0..16 {
                if p.inbox_nonempty() || !p.runnext.load(Relaxed).is_null() {
                    return true;
                }
                std::hint::spin_loop();
            }
            if shared.global_len.load(Relaxed) > 0 || shared.shutdown.load(Relaxed) {
                return false;
            }
            let now = std::time::Instant::now();
            match until {
                None => until = Some(now + INBOX_SPIN),
                Some(t) if now >= t => return false,
                Some(_) => {}
            }
        }
    }

    /// Like Go's Ms, look for work a little longer before sleeping (at most `IDLE_SPIN`): a
    /// wake-up of one of this P's goroutines from another P (a cross-P hand-off, which the
    /// no-migration rule makes common) then costs a cache-line transfer instead of a futex
    /// sleep and wake-up. Returns true if work appeared.
    fn spin_before_sleep(&self) -> bool {
        let p = self.p();
        let until = std::time::Instant::now() + IDLE_SPIN;
        loop {
            for _ in 0..4 {
                std::hint::spin_loop();
            }
            if p.inbox_nonempty() || !self.shared().idle.is_idle(p.id) || self.work_visible() {
                return true;
            }
            if std::time::Instant::now() >= until || self.shared().shutdown.load(Relaxed) {
                return false;
            }
        }
    }

    /// If `wakep` took this P off the idle list, it also counted it in `nmspinning` on its
    /// behalf: this M must own that count (and drop it in `picked` or `idle`), or the count
    /// leaks and every later `wakep` believes a spinner exists (a lost wake-up).
    fn adopt_spinning_token(&mut self) {
        let p = self.ctx.p();
        if self.shared().idle.take_token(p.id) {
            if self.spinning {
                // Already spinning: the count is held twice; give one back.
                self.shared().idle.stop_spin();
            } else {
                self.spinning = true;
                p.spinning.store(true, Relaxed);
            }
        }
    }

    /// While a goroutine has locked this M, run nothing else (Go's LockOSThread). Unstarted
    /// goroutines queued here are left for other Ps to steal (the P is flagged as stalled).
    fn find_locked(&mut self) -> Option<GRef> {
        let shared = self.ctx.shared();
        let p = self.ctx.p();
        let locked = p.locked_g.load(Acquire);
        // SAFETY: we are P's M.
        let local = unsafe { p.local() };
        loop {
            if shared.shutdown.load(Acquire) {
                return None;
            }
            p.stalled.store(true, Relaxed);
            let mut fresh = Vec::new();
            p.take_inbox(&mut local.pinned, |g| fresh.push(g));
            if !fresh.is_empty() {
                // Only the locked goroutine runs here: let other Ps start these.
                shared.global_push(fresh);
            }
            if let Some(g) = p.swap_runnext(None) {
                if std::ptr::eq(Arc::as_ptr(&g), locked) {
                    return Some(g);
                } else if g.started() {
                    local.pinned.push_back(g);
                } else {
                    shared.global_push([g]);
                }
            }
            if let Some(i) = local
                .pinned
                .iter()
                .position(|g| std::ptr::eq(Arc::as_ptr(g), locked))
            {
                let g = local.pinned.remove(i);
                p.pinned_len.store(local.local_len(), Relaxed);
                return g;
            }
            p.pinned_len.store(local.local_len(), Relaxed);
            if !p.ring.is_empty() {
                shared.wakep();
            }
            // The locked goroutine may be asleep on this P's timers.
            if crate::rt::timer::run_due(&p.timers) > 0 {
                continue;
            }
            shared.nlockedwait.fetch_add(1, SeqCst);
            if shared.idle.npidle.load(SeqCst) + shared.nlockedwait.load(SeqCst) == shared.nprocs()
            {
                shared.poke_sysmon();
            }
            super::idle::gated_sleep(
                &p.parked,
                || {
                    shared.shutdown.load(Acquire)
                        || p.inbox_nonempty()
                        || !p.runnext.load(SeqCst).is_null()
                },
                || park_until(p.timers.next_when()),
            );
            shared.nlockedwait.fetch_sub(1, SeqCst);
        }
    }

    /// Runs `g` until it yields, parks or exits.
    fn run(&mut self, g: GRef) {
        let shared = self.ctx.shared();
        let p = self.ctx.p();
        let me = p.id + 1;
        // The no-migration rule: a goroutine that has started runs only on its home M.
        match g.home.load(Acquire) {
            0 => {
                if let Some(to) = self.rehome(&g) {
                    shared.ps[to].push_inbox(g);
                    return;
                }
                g.home.store(me, Release);
                if !self.start(&g) {
                    return;
                }
            }
            h if h == me => {
                // Homed at spawn (`Placement::Here`) and not started yet.
                // SAFETY: we dequeued `g` and it is homed on this M.
                if unsafe { g.coro_mut() }.is_none() && !self.start(&g) {
                    return;
                }
            }
            h => {
                // A started goroutine reached a foreign P (only possible through a runnext
                // steal racing with reuse of the slot): send it home.
                shared.ps[h - 1].push_inbox(g);
                return;
            }
        }
        super::gstate::start_running(&g.state);
        super::metrics::on_run(&g, shared);
        loop {
            p.curg.store(g.id(), Relaxed);
            // SAFETY: we dequeued `g` and it is pinned to this M (checked above), so we are
            // the only party touching its coroutine.
            let coro = unsafe { g.coro_mut() }
                .as_mut()
                .expect("a runnable goroutine has a coroutine");
            crate::rt::exectrace::go_start(&g);
            super::park::switch_in(&g);
            let r = coro.resume(());
            crate::rt::current::switch_out();
            p.curg.store(0, Relaxed);
            match r {
                CoroutineResult::Return(()) => {
                    crate::rt::exectrace::go_end(&g);
                    self.exit(g);
                    return;
                }
                CoroutineResult::Yield(()) => match self.ctx.switch.replace(Switch::None) {
                    Switch::Park => {
                        // allgs lists goroutines from their first park on (dumps and deadlock
                        // reports are about parked goroutines; short-lived ones that never
                        // park skip the registry, and dumps count them instead).
                        if g.reg_index.load(Relaxed) == usize::MAX {
                            shared.register_g(&g, p.id);
                        }
                        p.counters.parked.fetch_add(1, AcqRel);
                        crate::rt::exectrace::go_block(&g);
                        if super::gstate::commit_park(&g.state) {
                            if let Some(b) = &g.bubble {
                                b.parked(g.reason());
                            }
                            return;
                        }
                        crate::rt::exectrace::go_unblock(&g);
                        // An unpark raced with the switch: it was consumed; go on running.
                        p.counters.parked.fetch_sub(1, AcqRel);
                    }
                    switch @ (Switch::Yield | Switch::Preempt | Switch::None) => {
                        crate::rt::exectrace::go_sched(&g);
                        if !p.locked_g.load(Relaxed).is_null() {
                            // A locked goroutine is the only one this M may run.
                            continue;
                        }
                        super::gstate::stop_running(&g.state);
                        // SAFETY: we are P's M.
                        let local = unsafe { p.local() };
                        if matches!(switch, Switch::Preempt) {
                            g.preempted.store(true, Relaxed);
                            local.preempted += 1;
                        }
                        local.yielded.push_back(g);
                        p.pinned_len.store(local.local_len(), Relaxed);
                        return;
                    }
                },
            }
        }
    }

    /// Spreading at first run (`Placement::Spread`, and `Auto` for the goroutines of an accept
    /// loop). A started goroutine never moves (`mod.rs`), so the P where it starts runs it for
    /// life. Starting on the spawner's P suits goroutines that talk to each other, but it piles
    /// long-lived independent ones (a handler per accepted connection) on whichever P runs the
    /// accept loop while other Ps starve: an echo load ran on one P of two in most runs, at
    /// half the throughput. So before such a goroutine's first run its P compares its resident
    /// count (started, unfinished goroutines) with one other P picked at random, and if it
    /// holds clearly more (by two plus a sixteenth) hands the goroutine to that P's inbox. At
    /// most once per goroutine (`G::placed`), never to a P that a locked or stuck goroutine
    /// holds. Resident counts are a proxy for load: goroutines that sleep for long count like
    /// busy ones (a trade-off DESIGN.md discusses).
    fn rehome(&mut self, g: &GRef) -> Option<usize> {
        let shared = self.ctx.shared();
        let n = shared.nprocs();
        if n == 1 || g.placed.load(Relaxed) != 0 || g.placement.load(Relaxed) != PLACE_SPREAD {
            return None;
        }

        let p = self.ctx.p();
        let mine = p.counters.resident.load(Relaxed);
        if mine < 2 {
            return None;
        }
        // SAFETY: we are P's M.
        let rng = &mut unsafe { p.local() }.rng;
        let v = (p.id + 1 + next_rand(rng) as usize % (n - 1)) % n;
        let victim = &shared.ps[v];
        let theirs = victim.counters.resident.load(Relaxed);
        if mine <= theirs + theirs / 16 + 2
            || victim.stalled.load(Relaxed)
            || !victim.locked_g.load(Relaxed).is_null()
        {
            return None;
        }
        // Count it there now, not at its start: a burst of starts here must see the P it
        // already sent goroutines to as loaded.
        victim.counters.resident.fetch_add(1, Relaxed);
        g.placed.store(v + 1, Relaxed);
        p.counters.rehomed.fetch_add(1, Relaxed);
        Some(v)
    }

    /// First run of `g` on this M: take a stack from the P's cache and create its coroutine.
    /// Returns false if no stack could be mapped; the goroutine then fails (its join returns
    /// the error as a panic payload) and the M goes on.
    fn start(&mut self, g: &GRef) -> bool {
        let shared = self.ctx.shared();
        // SAFETY: we are P's M.
        let local = unsafe { self.ctx.p().local() };
        let got = local.stacks.get(&shared.stacks);
        // The stack is mapped (counted in the process's stacks) or will never be: the spawn's
        // reservation is no longer needed.
        g.release_reservation();
        match got {
            Ok(stack) => {
                let (lo, hi) = stack.guard_range();
                // Before the first switch-in, on g's home M (`CurG` access rules).
                g.curg.set_stack(lo, hi, stack.usable_size());
                let coro = Coro::with_stack(stack, move |y: &Yielder<(), ()>, ()| {
                    let (_, g) = super::park::current().expect("a goroutine runs on an M");
                    // SAFETY: we are this goroutine, at its start, on its own stack.
                    unsafe { g.set_yielder(y) };
                    // SAFETY: the goroutine runs its task once, on its own stack.
                    unsafe { g.task.run() };
                    // SAFETY: we are this goroutine, on its own stack, after its task.
                    unsafe { g.drop_locals() };
                });
                // SAFETY: as above.
                unsafe { *g.coro_mut() = Some(coro) };
                // Count it as resident here; a goroutine handed over was counted by the P it
                // was handed to, which may not be us (a thief took it from that P's ring).
                let me = self.ctx.p();
                if g.placed.load(Relaxed) != me.id + 1 {
                    shared.unplace(g);
                    me.counters.resident.fetch_add(1, Relaxed);
                }
                true
            }
            Err(e) => {
                shared.unplace(g);
                let msg = format!("gort: goroutine {} could not start: {e}", g.id());
                eprintln!("{msg}");
                // SAFETY: we dequeued `g` for its first run and it will never run.
                unsafe { g.task.fail(msg) };
                self.finish(g);
                false
            }
        }
    }

    fn exit(&mut self, g: GRef) {
        let shared = self.ctx.shared();
        let p = self.ctx.p();
        // SAFETY: the goroutine has finished on this M; nobody else touches its coroutine.
        let coro = unsafe { g.coro_mut() }.take().expect("coroutine present");
        // SAFETY: we are P's M.
        let local = unsafe { p.local() };
        local.stacks.put(coro.into_stack(), &shared.stacks);
        p.counters.resident.fetch_sub(1, Relaxed);
        self.finish(&g);
        // Recycle the record if nobody else holds it (no Unparker, no queue, no JoinHandle;
        // a JoinHandle recycles it when it goes).
        if Arc::strong_count(&g) == 1 {
            recycle_g(self.ctx, g);
        }
    }

    /// Bookkeeping for a goroutine that is gone (finished, or failed to start).
    fn finish(&mut self, g: &GRef) {
        let shared = self.ctx.shared();
        let p = self.ctx.p();
        if std::ptr::eq(p.locked_g.load(Relaxed), Arc::as_ptr(g)) {
            // Go terminates a thread whose goroutine exits while locked; gort's M still has
            // other goroutines pinned to it, so it is simply unlocked.
            p.locked_g.store(std::ptr::null_mut(), Relaxed);
        }
        g.state.store(DEAD, Release);
        shared.unregister_g(g);
        p.counters.exited.fetch_add(1, AcqRel);
        if let Some(b) = &g.bubble {
            b.exited();
        }
    }
}

/// Puts a finished G record that nobody else references on `c`'s P's free list (half of a
/// full list moves to the global one, or is freed when that is full too).
pub(crate) fn recycle_g(c: &Ctx, g: GRef) {
    let shared = c.shared();
    // SAFETY: the caller runs on `c`'s M (in its scheduler loop or one of its goroutines).
    let local = unsafe { c.p().local() };
    local.gfree.push(g);
    if local.gfree.len() > GFREE_LOCAL_MAX {
        let half = local.gfree.len() / 2;
        let mut global = shared.gfree.lock().unwrap_or_else(|e| e.into_inner());
        if global.len() < GFREE_GLOBAL_MAX {
            global.extend(local.gfree.drain(..half));
        } else {
            local.gfree.truncate(half);
        }
    }
}
