//! Wait queues: intrusive lists of waiter nodes that live on the stacks of parked goroutines,
//! and the [`Parking`] record through which a waker hands a result to one parked operation.
//!
//! # Why the nodes may live on a stack
//!
//! A blocking operation (channel send, `select`, `Mutex::lock`, ...) builds its node in its
//! own stack frame, links it into a list under the list's lock, unlocks and parks. The frame
//! cannot be left, and so the node cannot move or be freed, until [`Parking::wait`] returns,
//! which is only after a waker set `done`; and the owner unlinks every node it linked before
//! it returns. A parked goroutine's stack is not freed, not moved and not resumed elsewhere
//! (gort's no-migration rule: a goroutine resumes only on its own M, and its stack is freed
//! only after its body returns). So a pointer to a linked node is valid while the list lock is
//! held, and after a claim (below) until the waker sets `done`. Steady-state blocking allocates
//! nothing.
//!
//! # The hand-off protocol (wake-one-of-many)
//!
//! ```text
//!  waker (holds the list lock)               owner
//!  pop node n                                 link node(s); unlock; park until done
//!  n.parking.try_claim(case)  -- CAS NONE->case; on failure another list won: skip n
//!  write the result into n (value, closed)
//!  u = clone(unparker); done.store(true, Release)   ... done.load(Acquire) == true
//!  unlock; u.unpark()                          lock lists again, unlink the other nodes
//! ```
//!
//! `selected` is shared by all nodes of one `select`, so exactly one waker claims it; the CAS
//! is AcqRel so the winner's writes are ordered after the owner's enqueue. After `done` is set
//! the waker touches nothing of the owner's: it unparks through its own clone of the unparker,
//! since the owner may see `done` on a spurious wake-up and return (freeing its frame) first.

use std::cell::Cell;
use std::panic::Location;
use std::ptr;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};

use super::loom::{park, AtomicBool, AtomicUsize, Unparker};
use crate::WaitReason;

/// No case selected yet.
pub(crate) const NONE: usize = usize::MAX;

/// The rendezvous of one blocked operation (shared by all nodes of a `select`).
pub(crate) struct Parking {
    selected: AtomicUsize,
    done: AtomicBool,
    unparker: Unparker,
}

impl Parking {
    /// A fresh record for the calling goroutine.
    #[inline]
    pub(crate) fn new() -> Parking {
        Parking {
            selected: AtomicUsize::new(NONE),
            done: AtomicBool::new(false),
            unparker: Unparker::current(),
        }
    }

    /// Claims this operation for `case`; false if some other waker already did.
    #[inline]
    pub(crate) fn try_claim(&self, case: usize) -> bool {
        self.selected
            .compare_exchange(NONE, case, AcqRel, Relaxed)
            .is_ok()
    }

    /// The case a waker claimed (valid after [`wait`](Self::wait)).
    #[inline]
    pub(crate) fn selected(&self) -> usize {
        self.selected.load(Acquire)
    }

    /// Publishes the result written by the claiming waker; returns the unparker to call once
    /// the waker has released its lock.
    ///
    /// # Safety
    /// The caller claimed this record with `try_claim` and has finished writing the result. It
    /// must not touch the record, nor the node it came from, after this call.
    #[inline]
    pub(crate) unsafe fn complete(&self) -> Unparker {
        let u = self.unparker.clone();
        self.done.store(true, Release);
        u
    }

    /// Parks until a waker completes this record. The one place a blocked operation waits
    /// (timed operations add a timer channel arm to a select, whose claim races here).
    #[inline]
    pub(crate) fn wait(&self, reason: WaitReason, at: &'static Location<'static>) {
        // Park until completed. A spin-then-park variant (spinning while the P had nothing
        // else to run) was removed: with 2 Ps it made a many-to-many stress test hang (a lost
        // wake-up not yet explained, see the closing note of the channels issue); the M's own
        // bounded spin before sleeping (`sched/worker.rs`, IDLE_SPIN) keeps cross-P hand-offs
        // off the futex path instead.
        let t0 = crate::rt::hooks::contention::block_start(); // block profile: 0 when off
        while !self.done.load(Acquire) {
            park(reason, at);
        }
        if t0 != 0 {
            crate::rt::hooks::contention::block_end(t0);
        }
    }

    /// [`wait`](Self::wait), with `probe` published to the leak detector for the length of
    /// the wait (`rt/sched/leak.rs`); outside a goroutine (and under the model checker, where
    /// there are no goroutines) a plain `wait`.
    #[inline]
    pub(crate) fn wait_probed(
        &self,
        reason: WaitReason,
        at: &'static Location<'static>,
        probe: &crate::rt::sched::leak::Probe,
    ) {
        let Some(g) = self.unparker.goroutine() else {
            return self.wait(reason, at);
        };
        // SAFETY: `probe` outlives this call, and the word is cleared after the wait's last
        // park, before the goroutine can park for anything else.
        unsafe { g.probe.set(probe) };
        self.wait(reason, at);
        g.probe.clear();
    }

    /// True once a waker has claimed this record (its wait will end). The leak detector's
    /// probes read it after the handle counts (Acquire, see `rt/sched/leak.rs`).
    #[inline]
    pub(crate) fn is_claimed(&self) -> bool {
        self.selected.load(Acquire) != NONE
    }
}

/// Links of an intrusive list node. Touched only under the lock of the list it is in.
pub(crate) struct Links<N> {
    prev: Cell<*const N>,
    next: Cell<*const N>,
    linked: Cell<bool>,
}

impl<N> Links<N> {
    pub(crate) const fn new() -> Self {
        Links {
            prev: Cell::new(ptr::null()),
            next: Cell::new(ptr::null()),
            linked: Cell::new(false),
        }
    }
}

/// A node type of a [`WaitList`].
///
/// # Safety
/// `links` must return the same `Links` for the node's whole life.
pub(crate) unsafe trait Node: Sized {
    fn links(&self) -> &Links<Self>;
}

/// A FIFO of waiter nodes (Go's waitq of sudogs).
///
/// Invariant: every node in the list is valid (see the module docs) and has `linked` set; the
/// list and the links of its nodes are accessed only under the lock that owns the list.
pub(crate) struct WaitList<N> {
    head: *const N,
    tail: *const N,
}

// SAFETY: the raw pointers are to nodes whose owners wait for the list's lock holder; the list
// is only accessed under its owner's lock (see the invariant).
unsafe impl<N> Send for WaitList<N> {}

impl<N: Node> WaitList<N> {
    pub(crate) const fn new() -> Self {
        WaitList {
            head: ptr::null(),
            tail: ptr::null(),
        }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    /// Appends `n`.
    ///
    /// # Safety
    /// `n` is valid, not linked, and stays valid until unlinked.
    pub(crate) unsafe fn push_back(&mut self, n: *const N) {
        // SAFETY: the caller's contract; the list's nodes are valid (invariant).
        unsafe {
            let l = (*n).links();
            l.prev.set(self.tail);
            l.next.set(ptr::null());
            l.linked.set(true);
            match self.tail.as_ref() {
                Some(t) => t.links().next.set(n),
                None => self.head = n,
            }
        }
        self.tail = n;
    }

    /// Prepends `n` (LIFO waiters: a mutex waiter that already waited once).
    ///
    /// # Safety
    /// As for [`push_back`](Self::push_back).
    pub(crate) unsafe fn push_front(&mut self, n: *const N) {
        // SAFETY: as push_back.
        unsafe {
            let l = (*n).links();
            l.next.set(self.head);
            l.prev.set(ptr::null());
            l.linked.set(true);
            match self.head.as_ref() {
                Some(h) => h.links().prev.set(n),
                None => self.tail = n,
            }
        }
        self.head = n;
    }

    /// The first node, if any.
    #[inline]
    pub(crate) fn front(&self) -> Option<*const N> {
        (!self.head.is_null()).then_some(self.head)
    }

    /// Unlinks and returns the first node.
    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<*const N> {
        let n = self.head;
        if n.is_null() {
            return None;
        }
        // SAFETY: `n` is in the list, hence valid.
        unsafe { self.unlink(n) };
        Some(n)
    }

    /// Unlinks `n` if it is linked (in this list: a node is only ever in one list).
    ///
    /// # Safety
    /// `n` is valid, and if linked, linked in this list.
    pub(crate) unsafe fn remove(&mut self, n: *const N) -> bool {
        // SAFETY: `n` is valid (caller).
        if unsafe { !(*n).links().linked.get() } {
            return false;
        }
        // SAFETY: linked in this list (caller).
        unsafe { self.unlink(n) };
        true
    }

    /// # Safety
    /// `n` is linked in this list.
    unsafe fn unlink(&mut self, n: *const N) {
        // SAFETY: `n` and its neighbours are in the list, hence valid.
        unsafe {
            let l = (*n).links();
            let (p, nx) = (l.prev.get(), l.next.get());
            match p.as_ref() {
                Some(p) => p.links().next.set(nx),
                None => self.head = nx,
            }
            match nx.as_ref() {
                Some(x) => x.links().prev.set(p),
                None => self.tail = p,
            }
            l.prev.set(ptr::null());
            l.next.set(ptr::null());
            l.linked.set(false);
        }
    }
}

/// A waiter node carrying nothing but its parking record (semaphores, Cond).
pub(crate) struct PlainWaiter {
    pub(crate) parking: Parking,
    /// Units wanted (semaphores); written by the owner before linking.
    pub(crate) want: Cell<u64>,
    /// When the owner started waiting, for the mutex profile (0: not profiled).
    pub(crate) since: Cell<u64>,
    links: Links<PlainWaiter>,
}

impl PlainWaiter {
    pub(crate) fn new(want: u64) -> Self {
        PlainWaiter {
            parking: Parking::new(),
            want: Cell::new(want),
            since: Cell::new(0),
            links: Links::new(),
        }
    }
}

// SAFETY: `links` is a plain field.
unsafe impl Node for PlainWaiter {
    fn links(&self) -> &Links<Self> {
        &self.links
    }
}
