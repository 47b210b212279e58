//! The goroutine record (G) and its state machine.
//!
//! A `G` is shared by reference counting (`GRef = Arc<G>`): run queues, the P inbox, wait
//! queues of channels and timers each hold a reference while the G sits in them.
//!
//! # States
//!
//! ```text
//!  from        via                                   to
//!  RUNNABLE    an M dequeues it (fetch_add 1)        RUNNING
//!  RUNNING     yield (M, after the switch; sub 1)    RUNNABLE
//!  RUNNING     park (M, after the switch; CAS)       PARKED      (fails if NOTIFIED: stays RUNNING)
//!  PARKED      unpark (any thread; CAS)              RUNNABLE    then enqueued on its home P
//!  RUNNING or
//!  RUNNABLE    unpark (any thread; CAS)              same | NOTIFIED   (a permit, like thread::park)
//!  RUNNING     the body returns (M)                  DEAD
//! ```
//!
//! `NOTIFIED` is a permit in the sense of `std::thread::park`: an unpark that arrives while the
//! G is not yet parked is remembered and makes the next park return at once. Callers of
//! [`park`](super::park::park) therefore loop on their own condition.
//!
//! # Field access rules
//!
//! * `coro`, `task`, `guard` and `yielder`: only the M that runs the G touches them, and only while the G is
//!   dequeued by that M (RUNNING, or between dequeue and resume). Before the G starts it has no
//!   stack and no coroutine, only its `task` (the user's `Send` closure), so the M that
//!   dequeues it first may be any M: that M takes a stack from its P's cache, creates the
//!   coroutine and becomes `home`, the only M that may ever resume it (the no-migration rule,
//!   DESIGN.md). Unstarted goroutines therefore cost no kernel mapping.
//! * `locked`: only the goroutine itself (its own code running on its own stack).
//! * everything else: atomics.

use std::cell::UnsafeCell;
use std::panic::Location;
use std::sync::atomic::Ordering::{Acquire, Relaxed};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize};
use std::sync::Arc;

use corosensei::{Coroutine, Yielder};

use super::runtime::Shared;
use super::task::{Task, TaskCell};
use crate::rt::current::CurG;
use crate::rt::stack::GoStack;

/// The coroutine type every goroutine runs in.
pub(crate) type Coro = Coroutine<(), (), (), GoStack>;

/// A counted reference to a goroutine.
pub(crate) type GRef = Arc<G>;

/// `G::placed` after a hand-over whose resident count was taken back.
pub(crate) const PLACED_UNCOUNTED: usize = usize::MAX;

/// `G::placement`: start where it is first dequeued (the spawner's P, unless an idle P steals
/// it first); the default.
pub(crate) const PLACE_LOCAL: u8 = 0;
/// `G::placement`: before the first run, hand it to a P holding clearly fewer resident
/// goroutines (`Worker::rehome`).
pub(crate) const PLACE_SPREAD: u8 = 1;

pub(crate) use super::gstate::{DEAD, NOTIFIED, PARKED, RUNNABLE, RUNNING};

/// Declares `WaitReason` from one table: variant, Go's spelling, doc.
macro_rules! wait_reasons {
    ($($(#[doc = $doc:literal])* $name:ident => $go:literal,)*) => {
        /// Why a goroutine is parked: Go's wait reasons, as printed in goroutine dumps.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u8)]
        #[non_exhaustive]
        pub enum WaitReason {
            $($(#[doc = $doc])* $name,)*
        }

        impl WaitReason {
            const ALL: &'static [WaitReason] = &[$(WaitReason::$name,)*];

            /// Go's spelling, as in `goroutine 7 [chan receive]:`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(WaitReason::$name => $go,)*
                }
            }
        }
    };
}

wait_reasons! {
    /// Not waiting.
    None => "",
    /// Waiting in `JoinHandle::join` (Go has no join; closest is `sync.WaitGroup.Wait`).
    Join => "join",
    /// Channel receive.
    ChanReceive => "chan receive",
    /// Channel send.
    ChanSend => "chan send",
    /// `select` with no ready case.
    Select => "select",
    /// `select {}` with no cases.
    SelectNoCases => "select (no cases)",
    /// sync.Mutex / RwLock.
    SyncMutexLock => "sync.Mutex.Lock",
    /// sync.RWMutex read lock.
    SyncRWMutexRLock => "sync.RWMutex.RLock",
    /// sync.RWMutex write lock.
    SyncRWMutexLock => "sync.RWMutex.Lock",
    /// sync.Cond.Wait.
    SyncCondWait => "sync.Cond.Wait",
    /// WaitGroup.Wait and semaphores.
    SemAcquire => "semacquire",
    /// time.Sleep.
    Sleep => "sleep",
    /// Network I/O.
    IoWait => "IO wait",
    /// `gort::synctest::wait`.
    SynctestWait => "synctest.Wait",
    /// `gort::synctest::run`, driving its bubble's clock.
    SynctestRun => "synctest.Run",
    /// A call running on the blocking pool (Go: `syscall`).
    Syscall => "syscall",
    /// Waiting for the thread it is locked to (lock_os_thread).
    LockedThread => "locked to thread",
    /// A user-defined park (for crates building on the runtime).
    User => "wait",
}

impl WaitReason {
    pub(crate) fn from_u8(v: u8) -> WaitReason {
        WaitReason::ALL
            .get(v as usize)
            .copied()
            .unwrap_or(WaitReason::User)
    }
}

/// One ancestor of a goroutine, for `tracebackancestors` (Go's `ancestorInfo`, with the
/// creation site standing in for the stack Go records).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ancestor {
    /// The ancestor goroutine.
    pub(crate) goid: u64,
    /// Where it called `go` for the next goroutine down the chain.
    pub(crate) go_at: &'static Location<'static>,
    /// Its own creator (0: created outside any goroutine).
    pub(crate) parent: u64,
    /// Where it was created.
    pub(crate) created_at: &'static Location<'static>,
}

/// The goroutine record. `#[repr(C)]` with `curg` first: the thread's current-goroutine
/// record points at `curg`, and `park::current` turns that pointer back into the `G`.
#[repr(C)]
pub(crate) struct G {
    /// What the thread running this goroutine (and its signal handlers) read: id, stack
    /// bounds, profiler labels (`rt/current.rs` has its access rules).
    pub(crate) curg: CurG,
    /// Goroutine id of the creator (0 when created outside any goroutine).
    pub(crate) parent: u64,
    /// Where `go` was called.
    pub(crate) created_at: &'static Location<'static>,
    /// `GODEBUG=tracebackancestors=N`: the creator, its creator, ... (at most N, nearest
    /// first), copied from the creator's record at spawn; empty (no allocation) when off. Same
    /// rules as `parent` and `created_at`: written by the spawn before the record is shared
    /// (and cleared by `reset`), read by dumps.
    pub(crate) ancestors: Vec<Ancestor>,
    /// The state machine of `gstate.rs` (on the model-checking shim's atomic).
    pub(crate) state: crate::rt::loom::AtomicU32,
    /// 0 while not started; then 1 + the index of the P (and its M) it is pinned to.
    pub(crate) home: AtomicUsize,
    /// Hand-over before the first run (`Worker::rehome`): 0 = none yet; 1 + the index of the
    /// P it was handed to, which counted it as resident then; [`PLACED_UNCOUNTED`] once it
    /// was handed over and that count was taken back (sysmon's rescue). A goroutine is
    /// handed over at most once.
    pub(crate) placed: AtomicUsize,
    /// How the first run picks its P (`spawn::Placement`, resolved at spawn): [`PLACE_LOCAL`]
    /// or [`PLACE_SPREAD`].
    pub(crate) placement: AtomicU8,
    /// True once this goroutine has accepted a connection (an accept loop): the goroutines
    /// it spawns are then spread (`spawn::Placement::Auto`). Only the goroutine itself
    /// writes and reads it (`spawn::mark_acceptor`).
    pub(crate) acceptor: AtomicBool,
    /// True while this goroutine waits in its P's `yielded` queue after a preemption (only its
    /// home M touches it; `Local::preempted` counts them).
    pub(crate) preempted: AtomicBool,
    pub(crate) shared: Arc<Shared>,
    /// The synctest bubble this goroutine belongs to (`bubble.rs`): set by the spawn before
    /// the record is shared, cleared by `reset`; read by anyone.
    pub(crate) bubble: Option<Arc<super::bubble::Bubble>>,
    coro: UnsafeCell<Option<Coro>>,
    /// The goroutine's closure and result packet (`task.rs`; its own access rules).
    pub(crate) task: TaskCell,
    yielder: UnsafeCell<*const Yielder<(), ()>>,
    /// Intrusive link for a P's inbox (a Treiber stack of remote wake-ups).
    pub(crate) inbox_next: crate::rt::loom::AtomicPtr<G>,
    pub(crate) wait_reason: AtomicU8,
    /// Nanoseconds since runtime start when the current wait began.
    pub(crate) wait_since: AtomicU64,
    /// Sampled scheduling latency (`latency.rs`): `Shared::nanotime() + 1` when this
    /// goroutine was made runnable by a sampled wake-up or spawn, else 0. Written by the waker
    /// or spawner before the goroutine is queued, read and cleared by the M that runs it (the
    /// run queue's hand-off orders the two).
    pub(crate) ready_at: AtomicU64,
    /// Execution trace (`rt/exectrace/`): the ticks at which a wake-up made this goroutine
    /// runnable, 0 if none since it last started. Same rules as `ready_at`: written by the
    /// waker before the goroutine is queued, read and cleared by the M that starts it, which
    /// records it in its switch event (a wake-up costs no event of its own).
    pub(crate) trace_unblock: AtomicU64,
    /// Where the current wait was entered (a `&'static Location`).
    pub(crate) parked_at: AtomicPtr<Location<'static>>,
    /// What the current wait needs to ever end, for the leak detector (`leak.rs` has the
    /// word's access rules): 0 unless the goroutine is in a probed wait. Beside the other
    /// words a park writes, so a probed wait touches no further cache line.
    pub(crate) probe: super::leak::ProbeWord,
    /// lock_os_thread depth (see field access rules).
    pub(crate) locked: AtomicU32,
    /// Goroutine-local values (`local.rs`): only the goroutine itself touches them.
    pub(crate) locals: UnsafeCell<super::local::Locals>,
    /// Index in its home P's allgs shard (for O(1) removal); usize::MAX until it starts.
    pub(crate) reg_index: AtomicUsize,
    /// The spawn reserved a stack for it (`rt::stack::reserve_stack`), not released yet: set
    /// by `spawn_on` before the record is shared, cleared by the M that first runs it once it
    /// has (or failed to get) its stack, or by `Drop` for a record dropped unstarted.
    pub(crate) reserved: AtomicBool,
}

// SAFETY: every field is either atomic, immutable after construction, or covered by the field
// access rules above: `coro`, `task` and `yielder` are touched only by the single M
// that currently runs (or is about to first run) this G. Before it starts, a G holds only its
// task (the user's `F: Send` closure and the `Send` result packet), so handing it to another M
// is a move of `Send` data; once started, its coroutine is never resumed (nor dropped while
// suspended) on any M other than `home` (checked in `Worker::run`), so `!Send` values on the
// goroutine stack never change thread.
unsafe impl Send for G {}
// SAFETY: as above; shared access from other threads reads atomics only.
unsafe impl Sync for G {}

impl G {
    pub(crate) fn new(
        id: u64,
        parent: u64,
        created_at: &'static Location<'static>,
        shared: Arc<Shared>,
    ) -> G {
        G {
            curg: CurG::new(id),
            parent,
            created_at,
            ancestors: Vec::new(),
            state: crate::rt::loom::AtomicU32::new(RUNNABLE),
            home: AtomicUsize::new(0),
            placed: AtomicUsize::new(0),
            placement: AtomicU8::new(PLACE_LOCAL),
            acceptor: AtomicBool::new(false),
            preempted: AtomicBool::new(false),
            shared,
            bubble: None,
            coro: UnsafeCell::new(None),
            task: TaskCell::new(),
            yielder: UnsafeCell::new(std::ptr::null()),
            inbox_next: crate::rt::loom::AtomicPtr::new(std::ptr::null_mut()),
            wait_reason: AtomicU8::new(0),
            wait_since: AtomicU64::new(0),
            ready_at: AtomicU64::new(0),
            trace_unblock: AtomicU64::new(0),
            parked_at: AtomicPtr::new(std::ptr::null_mut()),
            locked: AtomicU32::new(0),
            locals: UnsafeCell::new(Vec::new()),
            reg_index: AtomicUsize::new(usize::MAX),
            reserved: AtomicBool::new(false),
            probe: super::leak::ProbeWord::new(),
        }
    }

    /// Re-initialises a finished record for a new goroutine, in place (a recycled G).
    pub(crate) fn reset(&mut self, id: u64, parent: u64, created_at: &'static Location<'static>) {
        self.curg = CurG::new(id);
        self.parent = parent;
        self.created_at = created_at;
        self.ancestors.clear();
        *self.state.get_mut() = RUNNABLE;
        *self.home.get_mut() = 0;
        *self.placed.get_mut() = 0;
        *self.placement.get_mut() = PLACE_LOCAL;
        *self.acceptor.get_mut() = false;
        *self.preempted.get_mut() = false;
        *self.coro.get_mut() = None;
        self.bubble = None;
        self.task.clear();
        *self.yielder.get_mut() = std::ptr::null();
        *self.inbox_next.get_mut() = std::ptr::null_mut();
        *self.wait_reason.get_mut() = 0;
        *self.wait_since.get_mut() = 0;
        *self.ready_at.get_mut() = 0;
        *self.trace_unblock.get_mut() = 0;
        *self.parked_at.get_mut() = std::ptr::null_mut();
        *self.locked.get_mut() = 0;
        debug_assert!(
            self.locals.get_mut().is_empty(),
            "a finished goroutine dropped its locals"
        );
        *self.reg_index.get_mut() = usize::MAX;
        // A recycled record finished, so its reservation (if any) was released at its start.
        debug_assert!(
            !*self.reserved.get_mut(),
            "a recycled G still holds a reservation"
        );
        self.release_reservation();
    }

    /// Releases the stack reservation of its spawn, if it still holds it.
    /// Only the M that first runs it (or `Drop`, `reset`) calls this, so a load and a store do.
    pub(crate) fn release_reservation(&self) {
        if self.reserved.load(Relaxed) {
            self.reserved.store(false, Relaxed);
            crate::rt::stack::unreserve_stack();
        }
    }

    /// Drops this goroutine's goroutine-local values, at the end of its body.
    ///
    /// # Safety
    /// Called by the goroutine itself, on its own stack, after its task returned.
    pub(crate) unsafe fn drop_locals(&self) {
        // A value's drop may use goroutine locals again: a few passes, then leak the rest.
        for _ in 0..4 {
            // SAFETY: the goroutine's own access (`local.rs` rules); no borrow is held while
            // the values drop.
            let values = std::mem::take(unsafe { &mut *self.locals.get() });
            if values.is_empty() {
                return;
            }
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(values)));
            if r.is_err() {
                eprintln!(
                    "gort: goroutine {}: a goroutine-local value panicked in drop",
                    self.id()
                );
            }
        }
        // SAFETY: as above.
        std::mem::forget(std::mem::take(unsafe { &mut *self.locals.get() }));
    }

    /// The coroutine, for the M that runs this G.
    ///
    /// # Safety
    /// The caller is the M that dequeued this G (or its home M) and no other reference to the
    /// coroutine exists (field access rules).
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn coro_mut(&self) -> &mut Option<Coro> {
        // SAFETY: exclusivity is the caller's contract.
        unsafe { &mut *self.coro.get() }
    }

    /// Stores the goroutine's task (a new or reset record, not yet shared).
    pub(crate) fn install<F, T>(&mut self, task: Task<F, T>)
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.task.install(task);
    }

    /// The goroutine's id (Go's goid).
    #[inline]
    pub(crate) fn id(&self) -> u64 {
        self.curg.goid
    }

    /// Records the yielder of the running coroutine.
    ///
    /// # Safety
    /// Called by the goroutine itself, on its own stack, at its start.
    pub(crate) unsafe fn set_yielder(&self, y: &Yielder<(), ()>) {
        // SAFETY: only the running goroutine touches `yielder` (field access rules).
        unsafe { *self.yielder.get() = y as *const _ };
    }

    /// Suspends the running goroutine back to its M's scheduler loop.
    ///
    /// # Safety
    /// Must be called by this goroutine, on its own stack, after `set_yielder`.
    pub(crate) unsafe fn suspend(&self) {
        // SAFETY: the yielder lives at the root of this goroutine's stack for the goroutine's
        // whole life, and we are running on that stack (caller's contract).
        unsafe { (**self.yielder.get()).suspend(()) }
    }

    pub(crate) fn started(&self) -> bool {
        self.home.load(Acquire) != 0
    }

    pub(crate) fn reason(&self) -> WaitReason {
        WaitReason::from_u8(self.wait_reason.load(Relaxed))
    }

    /// Makes the G runnable if it is parked, or leaves a permit. Returns true when the caller
    /// must enqueue it (it was PARKED).
    pub(crate) fn notify(&self) -> bool {
        super::gstate::notify(&self.state)
    }

    /// Consumes a pending permit of the running G. Returns true if there was one.
    pub(crate) fn take_permit(&self) -> bool {
        super::gstate::take_permit(&self.state)
    }
}

impl Drop for G {
    fn drop(&mut self) {
        // Never started (its runtime shut down with it queued): give its reservation back.
        self.release_reservation();
        if let Some(coro) = self.coro.get_mut().take() {
            if coro.started() && !coro.done() {
                // A started goroutine that never finished (its runtime shut down while it was
                // parked). Unwinding it here would run its destructors on whatever thread drops
                // the last reference, breaking the no-migration rule; instead its stack is
                // leaked. Leaking is safe. So are its goroutine-local values.
                std::mem::forget(coro);
                std::mem::forget(std::mem::take(self.locals.get_mut()));
            }
            // A coroutine that never started drops its closure (`F: Send`) here; one that has
            // finished has nothing left on its stack.
        }
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// A G with no coroutine, for queue tests.
    pub(crate) fn dummy_g(id: u64) -> GRef {
        // Never dropped: under `--cfg gort_model` it holds shuttle atomics, which must not be
        // touched (dropped) outside a shuttle execution.
        thread_local! {
            static SHARED: std::mem::ManuallyDrop<Arc<Shared>> =
                std::mem::ManuallyDrop::new(Shared::for_tests());
        }
        let shared = SHARED.with(|s| Arc::clone(s));
        Arc::new(G::new(id, 0, Location::caller(), shared))
    }
}
