//! The channel core: a ring buffer, a closed flag and two wait queues under one spin lock
//! (Go's `hchan`). Operations come in two halves: `*_locked` functions that try an operation
//! with the lock held (shared by plain operations and `select`), and the blocking wrappers.

use std::cell::{Cell, UnsafeCell};
use std::collections::VecDeque;
use std::panic::Location;
use std::ptr;

use super::error::{CloseError, RecvError, SendError, TryRecvError, TrySendError};
use super::handles::{self, Need, Refs};
use crate::rt::loom::Unparker;
use crate::rt::parking::{Links, Node, Parking, WaitList};
use crate::rt::spinlock::SpinLock;
use crate::WaitReason;

/// A parked sender or receiver (Go's sudog), on its owner's stack (see `sync::wait`).
///
/// Field access: `parking` and `case` are written by the owner before linking and read-only
/// afterwards; `slot` and `closed` belong to the owner except between a waker's successful
/// claim and its `complete` (under the channel lock), when they belong to that waker.
pub(crate) struct Waiter<T> {
    parking: Cell<*const Parking>,
    case: Cell<usize>,
    /// A sender's value, or the value handed to a receiver.
    pub(crate) slot: UnsafeCell<Option<T>>,
    /// Set by `close` when it wakes this waiter.
    pub(crate) closed: Cell<bool>,
    links: Links<Waiter<T>>,
}

impl<T> Waiter<T> {
    pub(crate) fn new(slot: Option<T>) -> Self {
        Waiter {
            parking: Cell::new(ptr::null()),
            case: Cell::new(0),
            slot: UnsafeCell::new(slot),
            closed: Cell::new(false),
            links: Links::new(),
        }
    }

    /// Binds the node to the parking record of its operation (before linking).
    pub(crate) fn bind(&self, parking: &Parking, case: usize) {
        self.parking.set(parking);
        self.case.set(case);
    }

    /// Takes the slot's value (owner only, after `wait` or before linking).
    pub(crate) fn take(&self) -> Option<T> {
        // SAFETY: the owner calls this while the node is not claimed by a waker (field rules).
        unsafe { (*self.slot.get()).take() }
    }
}

// SAFETY: `links` is a plain field.
unsafe impl<T> Node for Waiter<T> {
    fn links(&self) -> &Links<Self> {
        &self.links
    }
}

pub(crate) struct State<T> {
    buf: VecDeque<T>,
    closed: bool,
    pub(crate) recvq: WaitList<Waiter<T>>,
    pub(crate) sendq: WaitList<Waiter<T>>,
}

/// The shared channel object behind `Sender` and `Receiver`.
pub(crate) struct Chan<T> {
    pub(crate) lock: SpinLock<State<T>>,
    /// `UNBOUNDED` for `unbounded()`: the buffer then grows as needed, so a send never waits.
    cap: usize,
    /// Live `Sender` and `Receiver` handles (`handles.rs`): touched by clone and drop only.
    pub(crate) refs: Refs,
}

/// The capacity of an unbounded channel.
pub(crate) const UNBOUNDED: usize = usize::MAX;

/// An unbounded channel's buffer gives memory back once it is a quarter full, down to this
/// many slots (it keeps what it needs for its steady state, so that allocates nothing).
const UNBOUNDED_KEEP: usize = 64;

/// Outcome of a send attempt with the lock held.
pub(crate) enum SendTry<T> {
    /// Sent; wake this receiver after unlocking.
    Sent(Option<Unparker>),
    Full(T),
    Closed(T),
}

/// Outcome of a receive attempt with the lock held.
pub(crate) enum RecvTry<T> {
    /// Received; wake this sender after unlocking.
    Got(T, Option<Unparker>),
    Empty,
    Closed,
}

/// Pops the first waiter whose operation can still be claimed, claiming it.
fn pop_claimed<T>(q: &mut WaitList<Waiter<T>>) -> Option<&Waiter<T>> {
    while let Some(w) = q.pop_front() {
        // SAFETY: a node popped under the channel lock is valid until we complete its parking
        // record (wait.rs); its `parking` pointer is to the owner's frame, valid as long.
        let w = unsafe { &*w };
        // SAFETY: as above.
        if unsafe { &*w.parking.get() }.try_claim(w.case.get()) {
            return Some(w);
        }
        // Another channel already won this `select`; its owner will find the node unlinked.
    }
    None
}

/// Releases the channel lock, then wakes the waiter an operation completed (if any): wake-ups
/// happen outside the lock so the woken goroutine does not spin on it.
fn unlock_and_wake<G>(st: G, u: Option<Unparker>) {
    drop(st);
    if let Some(u) = u {
        u.unpark();
    }
}

/// Completes a claimed waiter.
///
/// # Safety
/// `w` was returned by `pop_claimed` and its result is written; `w` is not used afterwards.
unsafe fn complete<T>(w: &Waiter<T>) -> Unparker {
    // SAFETY: claimed (caller), so the parking record is valid until this call returns.
    unsafe { (*w.parking.get()).complete() }
}

impl<T> Chan<T> {
    pub(crate) fn new(cap: usize) -> Self {
        Chan {
            lock: SpinLock::new(State {
                // An unbounded buffer starts empty and grows by doubling.
                buf: VecDeque::with_capacity(if cap == UNBOUNDED { 0 } else { cap }),
                closed: false,
                recvq: WaitList::new(),
                sendq: WaitList::new(),
            }),
            cap,
            refs: Refs::new(),
        }
    }

    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// Slots allocated for the buffer (tests of the unbounded buffer's shrinking).
    #[cfg(test)]
    pub(crate) fn allocated(&self) -> usize {
        self.lock.lock().buf.capacity()
    }

    pub(crate) fn len(&self) -> usize {
        self.lock.lock().buf.len()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock.lock().closed
    }

    /// Tries to send with the lock held.
    pub(crate) fn send_locked(&self, st: &mut State<T>, v: T) -> SendTry<T> {
        if st.closed {
            return SendTry::Closed(v);
        }
        if let Some(w) = pop_claimed(&mut st.recvq) {
            // SAFETY: claimed: the slot is ours until `complete` (Waiter field rules).
            unsafe { *w.slot.get() = Some(v) };
            // SAFETY: claimed by pop_claimed, result written, `w` unused afterwards.
            return SendTry::Sent(Some(unsafe { complete(w) }));
        }
        if st.buf.len() < self.cap {
            st.buf.push_back(v);
            return SendTry::Sent(None);
        }
        SendTry::Full(v)
    }

    /// Tries to receive with the lock held.
    pub(crate) fn recv_locked(&self, st: &mut State<T>) -> RecvTry<T> {
        if let Some(v) = st.buf.pop_front() {
            if self.cap == UNBOUNDED {
                // (No sender ever parks on an unbounded channel.) After a burst, halve the
                // buffer once it is a quarter full: amortised O(1), and memory follows demand.
                let c = st.buf.capacity();
                if c > UNBOUNDED_KEEP && st.buf.len() <= c / 4 {
                    st.buf.shrink_to((c / 2).max(UNBOUNDED_KEEP));
                }
                return RecvTry::Got(v, None);
            }
            // A full buffer with parked senders: move the first sender's value in behind.
            if let Some(w) = pop_claimed(&mut st.sendq) {
                // SAFETY: claimed: the slot is ours until `complete`.
                let sv = unsafe { (*w.slot.get()).take() };
                st.buf.extend(sv);
                // SAFETY: claimed, result written, `w` unused afterwards.
                return RecvTry::Got(v, Some(unsafe { complete(w) }));
            }
            return RecvTry::Got(v, None);
        }
        if let Some(w) = pop_claimed(&mut st.sendq) {
            // SAFETY: claimed: the slot is ours until `complete`.
            let v = unsafe { (*w.slot.get()).take() }.expect("a parked sender holds its value");
            // SAFETY: claimed, result written, `w` unused afterwards.
            return RecvTry::Got(v, Some(unsafe { complete(w) }));
        }
        if st.closed {
            RecvTry::Closed
        } else {
            RecvTry::Empty
        }
    }

    /// Blocking send.
    pub(crate) fn send(&self, v: T, at: &'static Location<'static>) -> Result<(), SendError<T>> {
        let mut st = self.lock.lock();
        match self.send_locked(&mut st, v) {
            SendTry::Sent(u) => {
                unlock_and_wake(st, u);
                Ok(())
            }
            SendTry::Closed(v) => Err(SendError(v)),
            SendTry::Full(v) => {
                let parking = Parking::new();
                let w = Waiter::new(Some(v));
                w.bind(&parking, 0);
                // SAFETY: `w` is valid and unlinked, and stays in this frame until `wait`
                // returns, by which time the waker has unlinked it (wait.rs).
                unsafe { st.sendq.push_back(&w) };
                drop(st);
                handles::wait(
                    &parking,
                    WaitReason::ChanSend,
                    at,
                    Need::Receiver(&self.refs),
                );
                if w.closed.get() {
                    Err(SendError(w.take().expect("value returned on close")))
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Non-blocking send.
    pub(crate) fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        let mut st = self.lock.lock();
        match self.send_locked(&mut st, v) {
            SendTry::Sent(u) => {
                unlock_and_wake(st, u);
                Ok(())
            }
            SendTry::Closed(v) => Err(TrySendError::Closed(v)),
            SendTry::Full(v) => Err(TrySendError::Full(v)),
        }
    }

    /// Blocking receive.
    pub(crate) fn recv(&self, at: &'static Location<'static>) -> Result<T, RecvError> {
        let mut st = self.lock.lock();
        match self.recv_locked(&mut st) {
            RecvTry::Got(v, u) => {
                unlock_and_wake(st, u);
                Ok(v)
            }
            RecvTry::Closed => Err(RecvError),
            RecvTry::Empty => {
                let parking = Parking::new();
                let w = Waiter::new(None);
                w.bind(&parking, 0);
                // SAFETY: as in `send`.
                unsafe { st.recvq.push_back(&w) };
                drop(st);
                handles::wait(
                    &parking,
                    WaitReason::ChanReceive,
                    at,
                    Need::Sender(&self.refs),
                );
                w.take().ok_or(RecvError)
            }
        }
    }

    /// Non-blocking receive.
    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut st = self.lock.lock();
        match self.recv_locked(&mut st) {
            RecvTry::Got(v, u) => {
                unlock_and_wake(st, u);
                Ok(v)
            }
            RecvTry::Closed => Err(TryRecvError::Closed),
            RecvTry::Empty => Err(TryRecvError::Empty),
        }
    }

    /// Closes the channel and wakes every waiter (receivers get `RecvError`, senders their
    /// value back in a `SendError`).
    pub(crate) fn close(&self) -> Result<(), CloseError> {
        let mut st = self.lock.lock();
        if st.closed {
            return Err(CloseError);
        }
        st.closed = true;
        // Waking under the lock keeps close allocation-free; close is rare.
        while let Some(w) = pop_claimed(&mut st.recvq) {
            w.closed.set(true);
            // SAFETY: claimed, result written (slot stays None), `w` unused afterwards.
            unsafe { complete(w) }.unpark();
        }
        while let Some(w) = pop_claimed(&mut st.sendq) {
            w.closed.set(true);
            // SAFETY: claimed; the value stays in the slot for its owner; `w` unused afterwards.
            unsafe { complete(w) }.unpark();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unbounded_buffer_grows_and_gives_memory_back() {
        let at = Location::caller();
        let c = Chan::new(UNBOUNDED);
        assert_eq!(c.allocated(), 0);
        for i in 0..100_000 {
            c.send(i, at).unwrap();
        }
        assert_eq!(c.len(), 100_000);
        assert!(c.allocated() >= 100_000);
        for i in 0..100_000 {
            assert_eq!(c.recv(at), Ok(i));
        }
        assert!(c.allocated() <= 4 * UNBOUNDED_KEEP, "{}", c.allocated());
        // A steady state below the floor keeps its buffer (no allocation per value).
        for i in 0..1000 {
            c.send(i, at).unwrap();
            c.send(i, at).unwrap();
            c.recv(at).unwrap();
            c.recv(at).unwrap();
        }
        assert!(c.allocated() >= 2);
        // Bounded buffers never change size.
        let b = Chan::new(5);
        for i in 0..5 {
            b.send(i, at).unwrap();
        }
        for _ in 0..5 {
            b.recv(at).unwrap();
        }
        assert_eq!(b.allocated(), 5);
    }
}
