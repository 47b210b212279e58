//! A P: the scheduling context an M needs to run goroutines.
//!
//! gort binds each P to one M for the runtime's life (see `mod.rs` for why), so a P is also
//! "the worker". Its queues:
//!
//! * `runnext`: one goroutine that runs next, inheriting the time slice (Go's runnext). It may
//!   hold a started goroutine (woken by a goroutine on this P) or a new one (just spawned).
//! * `ring`: the lock-free ring of goroutines that have not started; thieves take half.
//! * `pinned`: started, runnable goroutines pinned to this P's M (owner-only, no locking).
//! * `inbox`: wake-ups of this P's goroutines from other threads, a Treiber stack linked
//!   through `G::inbox_next`; the owner takes it whole with one swap (no ABA: nobody pops
//!   single elements).
//!
//! Field access rules: `local` (an `UnsafeCell`) only by the P's own M; everything else is
//! atomic or behind a mutex.

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};
use std::sync::{Arc, OnceLock};

use super::g::{GRef, G};
use super::runq::RunQueue;
use crate::rt::stack::StackPool;

/// P status values, as Go numbers them for scheddetail (`_Pidle`, `_Prunning`).
pub(crate) const P_IDLE: u32 = 0;
pub(crate) const P_RUNNING: u32 = 1;

/// Owner-only state of a P.
pub(crate) struct Local {
    pub(crate) pinned: VecDeque<GRef>,
    /// Started goroutines that called `yield_now`: like Go's Gosched, which puts the goroutine
    /// on the global queue, they run when nothing else is runnable here, or every 61st tick.
    pub(crate) yielded: VecDeque<GRef>,
    /// How many goroutines in `yielded` got there through preemption (`G::preempted`): they
    /// ran a whole time slice, evidence of CPU-bound work, which `Worker::offload` acts on.
    pub(crate) preempted: usize,
    pub(crate) stacks: StackPool,
    pub(crate) rng: u64,
    /// Goroutine ids reserved from the global counter in batches (Go's goidcache).
    pub(crate) goid_next: u64,
    pub(crate) goid_end: u64,
    /// Finished G records for reuse (Go's gFree); each is the only reference to its G.
    pub(crate) gfree: Vec<GRef>,
}

/// `Counters::parked`, alone on its cache line.
#[repr(align(128))]
#[derive(Default)]
pub(crate) struct Parked(AtomicI64);

impl std::ops::Deref for Parked {
    type Target = AtomicI64;
    fn deref(&self) -> &AtomicI64 {
        &self.0
    }
}

/// Per-P event counters, summed on demand (num_goroutine, the deadlock check). Kept per P so
/// that spawning and exiting touch no cache line shared between Ps.
#[repr(align(128))]
#[derive(Default)]
pub(crate) struct Counters {
    /// Goroutines spawned by this P's M (owner increments).
    pub(crate) spawned: AtomicU64,
    /// Goroutines that finished (or failed to start) on this P's M (owner increments).
    pub(crate) exited: AtomicU64,
    /// Goroutines homed here that are parked: +1 by the owner when a park commits, -1 by
    /// whoever wakes one (any thread). On a cache line of its own: wakers on other Ps write
    /// it, and would otherwise steal the line the owner's counters live on at every wake-up.
    pub(crate) parked: Parked,
    /// Wake-ups performed by this P's M (owner increments).
    pub(crate) readied: AtomicU64,
    /// Goroutines pinned here: started on this P's M and not finished (owner updates; other
    /// Ps read it to place new goroutines, see `Worker::rehome`).
    pub(crate) resident: AtomicUsize,
    /// Goroutines this P handed to a less loaded P before their first run.
    pub(crate) rehomed: AtomicU64,
    /// Goroutines homed here parked on network I/O (Go's netpollWaiters, per P): updated only
    /// by this P's M (a goroutine parks and resumes on its home M), so that I/O waits touch no
    /// cache line shared between Ps; the poller's process-wide count changes only when this
    /// one goes from 0 to 1 or back (`net::desc::park_io`).
    pub(crate) io_waiters: AtomicUsize,
}

pub(crate) struct P {
    pub(crate) id: usize,
    pub(crate) counters: Counters,
    pub(crate) runnext: AtomicPtr<G>,
    pub(crate) ring: RunQueue,
    /// On the shim's atomics: the hand-off is model-checked (`model_tests.rs`).
    pub(crate) inbox: crate::rt::loom::AtomicPtr<G>,
    local: UnsafeCell<Local>,
    /// Length of `pinned` plus `yielded`, published for schedtrace.
    pub(crate) pinned_len: AtomicUsize,
    pub(crate) status: AtomicU32,
    /// Incremented on every schedule; sysmon watches it to find Ps that stopped scheduling.
    pub(crate) schedtick: AtomicU64,
    /// Times sysmon found this P stuck for a whole time slice (a hog or a raw blocking call).
    /// Shown as `syscalltick` in scheddetail, the nearest Go field.
    pub(crate) stalls: AtomicU64,
    /// Set by sysmon while the P is stuck: thieves may then take its runnext too.
    pub(crate) stalled: AtomicBool,
    /// Goroutine id of the G running here (0 = none), for diagnostics.
    pub(crate) curg: AtomicU64,
    /// Set by sysmon when the running goroutine has held the P for a whole time slice; the
    /// goroutine yields at its next call into the runtime (cooperative preemption).
    pub(crate) preempt: AtomicBool,
    /// The goroutine that has locked this P's thread (lock_os_thread), or null.
    pub(crate) locked_g: AtomicPtr<G>,
    /// The worker thread, set once it starts; used for directed wake-ups.
    pub(crate) thread: OnceLock<std::thread::Thread>,
    /// True while the worker is spinning (looking for work to steal).
    pub(crate) spinning: AtomicBool,
    /// Timers armed by this P's goroutines (a 4-ary heap, see `crate::time`).
    pub(crate) timers: crate::rt::timer::TimerHeap,
    /// True while this P's M blocks in the netpoller rather than in `thread::park`: waking it
    /// then also needs a poller interrupt (see `P::unpark_m`).
    pub(crate) in_netpoll: crate::rt::loom::AtomicBool,
    /// True while this P's M sleeps (or is about to) in `thread::park`: a waker calls
    /// `Thread::unpark` (an atomic swap on the parker's line, and a futex wake) only then, so
    /// a wake-up of an M that is awake or spinning costs no write beyond the work itself.
    pub(crate) parked: crate::rt::loom::AtomicBool,
    /// The worker thread's kernel id and pthread handle, set once at its start (0 before):
    /// for stall reports (`stall.rs`).
    pub(crate) tid: AtomicUsize,
    pub(crate) pthread: AtomicUsize,
    /// The execution trace track of the worker thread (0 until it first records an event),
    /// written once by that thread (`exectrace/buf.rs`), read by sysmon to place stall
    /// episodes on it (`stall.rs`).
    pub(crate) trace_track: AtomicU64,
}

// SAFETY: `local` is only accessed by the P's own M (field access rules); all other fields are
// Sync.
unsafe impl Sync for P {}
// SAFETY: as above; a P is created on one thread and then used by its M.
unsafe impl Send for P {}

impl Local {
    pub(crate) fn local_len(&self) -> usize {
        self.pinned.len() + self.yielded.len()
    }
}

impl P {
    pub(crate) fn new(id: usize, stacks: StackPool) -> P {
        P {
            id,
            counters: Counters::default(),
            runnext: AtomicPtr::new(std::ptr::null_mut()),
            ring: RunQueue::new(),
            inbox: crate::rt::loom::AtomicPtr::new(std::ptr::null_mut()),
            local: UnsafeCell::new(Local {
                pinned: VecDeque::new(),
                // A preemption point yields into it: room for a few, so that a goroutine
                // preempted in steady state does not allocate.
                yielded: VecDeque::with_capacity(16),
                preempted: 0,
                goid_next: 0,
                goid_end: 0,
                gfree: Vec::new(),
                stacks,
                rng: 0x9E37_79B9_7F4A_7C15 ^ (id as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03),
            }),
            pinned_len: AtomicUsize::new(0),
            status: AtomicU32::new(P_IDLE),
            schedtick: AtomicU64::new(0),
            stalls: AtomicU64::new(0),
            stalled: AtomicBool::new(false),
            curg: AtomicU64::new(0),
            preempt: AtomicBool::new(false),
            locked_g: AtomicPtr::new(std::ptr::null_mut()),
            thread: OnceLock::new(),
            spinning: AtomicBool::new(false),
            timers: crate::rt::timer::TimerHeap::new(),
            in_netpoll: crate::rt::loom::AtomicBool::new(false),
            parked: crate::rt::loom::AtomicBool::new(false),
            tid: AtomicUsize::new(0),
            pthread: AtomicUsize::new(0),
            trace_track: AtomicU64::new(0),
        }
    }

    /// The owner-only state.
    ///
    /// # Safety
    /// Only the P's own M may call this, and it must not hold two results at once.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn local(&self) -> &mut Local {
        // SAFETY: exclusivity is the caller's contract (field access rules).
        unsafe { &mut *self.local.get() }
    }

    /// Any thread: queues a wake-up of one of this P's pinned goroutines and wakes the M.
    pub(crate) fn push_inbox(&self, g: GRef) {
        let raw = Arc::into_raw(g) as *mut G;
        let mut head = self.inbox.load(Relaxed);
        loop {
            // SAFETY: `raw` is a live G we own a reference to; inbox_next is atomic.
            unsafe { (*raw).inbox_next.store(head, Relaxed) };
            match self
                .inbox
                .compare_exchange_weak(head, raw, Release, Relaxed)
            {
                Ok(_) => break,
                Err(cur) => head = cur,
            }
        }
        self.unpark_m();
    }

    /// Wakes this P's M wherever it sleeps: `thread::park(_timeout)`, or the netpoller.
    ///
    /// The waker's side of `idle::gated_sleep`, for both of the M's sleeps (`parked`, and
    /// `in_netpoll` for `netpoll::block`): after the fence, either the M's re-check sees our
    /// work, or we see its gate and wake it. One fence for both gates.
    pub(crate) fn unpark_m(&self) {
        super::idle::interrupt_gated(&self.parked, || {
            if let Some(t) = self.thread.get() {
                t.unpark();
            }
        });
        if self.in_netpoll.load(std::sync::atomic::Ordering::SeqCst) {
            crate::rt::netpoll::interrupt();
        }
    }

    pub(crate) fn inbox_nonempty(&self) -> bool {
        !self.inbox.load(Relaxed).is_null()
    }

    /// Takes every queued goroutine, oldest first: started ones (wake-ups) go to `out`,
    /// unstarted ones (handed over by another P's `Worker::rehome`) to `fresh`, as they may
    /// still run anywhere. No allocation: the stack is reversed in place, then appended.
    ///
    /// Meant for the owner; sysmon also calls it (`rescue_unstarted`): the list is taken
    /// whole with one swap, so concurrent takers get disjoint lists.
    pub(crate) fn take_inbox(&self, out: &mut VecDeque<GRef>, mut fresh: impl FnMut(GRef)) {
        let mut p = self.inbox.swap(std::ptr::null_mut(), Acquire);
        // Reverse the (newest-first) list through the intrusive links.
        let mut rev: *mut G = std::ptr::null_mut();
        while !p.is_null() {
            // SAFETY: every pointer in the stack came from Arc::into_raw in push_inbox and the
            // swap made us the only owner of the list; nodes stay alive (we hold their refs).
            let next = unsafe { (*p).inbox_next.load(Relaxed) };
            // SAFETY: as above.
            unsafe { (*p).inbox_next.store(rev, Relaxed) };
            rev = p;
            p = next;
        }
        while !rev.is_null() {
            // SAFETY: as above; from_raw takes back the reference push_inbox gave away.
            let g = unsafe { Arc::from_raw(rev) };
            rev = g.inbox_next.swap(std::ptr::null_mut(), Relaxed);
            if g.started() {
                out.push_back(g);
            } else {
                fresh(g);
            }
        }
    }

    /// sysmon, for a P stuck in one goroutine: takes the goroutines other Ps handed it before
    /// their first run (`Worker::rehome`), for the global queue, so that a P that is free runs
    /// them instead. Started wake-ups go back to the inbox (they can only run here).
    pub(crate) fn rescue_unstarted(&self, shared: &super::runtime::Shared) -> Vec<GRef> {
        let mut started = VecDeque::new();
        let mut fresh = Vec::new();
        self.take_inbox(&mut started, |g| {
            shared.unplace(&g);
            fresh.push(g);
        });
        for g in started {
            self.push_inbox(g);
        }
        fresh
    }

    /// Owner only: puts `g` in runnext, returning the goroutine it displaced.
    pub(crate) fn swap_runnext(&self, g: Option<GRef>) -> Option<GRef> {
        let new = g.map_or(std::ptr::null_mut(), |g| Arc::into_raw(g) as *mut G);
        let old = self.runnext.swap(new, AcqRel);
        // SAFETY: a non-null runnext holds a reference made by Arc::into_raw; the swap moved
        // it to us.
        (!old.is_null()).then(|| unsafe { Arc::from_raw(old) })
    }

    /// Thief: takes runnext if it holds a goroutine that has not started.
    pub(crate) fn steal_runnext(&self) -> Option<GRef> {
        let p = self.runnext.load(Acquire);
        if p.is_null() {
            return None;
        }
        // SAFETY: `p` may be taken by the owner concurrently, but G records are only freed
        // when their last reference drops; runnext's reference is only released by whoever
        // wins the swap/CAS below, so reading `p` here could race with a free. We therefore do
        // not dereference `p` before winning the CAS.
        if self
            .runnext
            .compare_exchange(p, std::ptr::null_mut(), AcqRel, Acquire)
            .is_err()
        {
            return None;
        }
        // SAFETY: the CAS moved runnext's reference to us.
        let g = unsafe { Arc::from_raw(p) };
        Some(g)
    }

    pub(crate) fn runq_len(&self) -> usize {
        self.ring.len()
            + self.pinned_len.load(Relaxed)
            + usize::from(!self.runnext.load(Relaxed).is_null())
    }
}

impl Drop for P {
    fn drop(&mut self) {
        drop(self.swap_runnext(None));
        let mut v = VecDeque::new();
        self.take_inbox(&mut v, drop);
    }
}
