//! Channels: Go's `chan T`, with `select`.
//!
//! # The problem
//!
//! Goroutines communicate by sending values over channels: bounded FIFO queues (capacity 0 is
//! a rendezvous) on which a blocked sender or receiver must park its goroutine, not its OS
//! thread, and which `select` can wait on several at a time. The steady state (a producer and
//! a consumer trading values) must not allocate, and a handoff to a parked receiver should
//! cost one lock, one copy and one wake-up.
//!
//! # How
//!
//! Go's design (`runtime/chan.go`, `select.go`), kept nearly verbatim:
//!
//! * One `Chan` (`core.rs`) per channel: a `VecDeque` ring allocated once at creation with
//!   the channel's capacity, a closed flag and two FIFO wait queues (parked receivers and
//!   senders), all under one spin lock that is never held across a park.
//! * A blocked operation builds its waiter node (Go's sudog) **on its own stack**, links it,
//!   unlocks and parks. A send that finds a parked receiver writes the value straight into the
//!   receiver's node and wakes it: no buffer slot is used. A receive from a full buffer with
//!   parked senders takes the head and moves the first sender's value in at the tail.
//! * `select` locks every distinct channel in address order, polls the arms in a random order,
//!   and if none is ready links one node per arm, all pointing at one shared
//!   `Parking` record whose `selected` word a waker must claim
//!   by CAS: the first channel wins, the others skip (and unlink) the stale nodes. See
//!   [`select`] and the [`select!`](crate::select) macro.
//! * A blocked operation parks at once. Cross-P hand-offs (Go avoids many by moving the woken
//!   goroutine to the waker's P, which gort's no-migration rule forbids) stay cheap because an
//!   M that runs out of work spins briefly before it sleeps (`sched/worker.rs`), so a wake-up
//!   usually finds it awake.
//! * Every operation (send, receive, their `try_` and timed forms, `select`, `close`) is a
//!   preemption point at its entry, before the channel's lock (`rt::loom::preempt_point`): a
//!   goroutine polling a channel in a loop yields its P once sysmon flags its time slice. The
//!   queries (`len`, `is_empty`, `is_closed`) are not (see `rt::sched::park::preempt_point`).
//!   The runtime's own calls under other locks (the timer channel's callback, `timer.rs`) use
//!   `Chan`'s methods, which are not either.
//! * `close` wakes every parked receiver (they get [`RecvError`]) and sender (they get their
//!   value back in [`SendError`]).
//!
//! # API choice
//!
//! [`bounded`] returns a ([`Sender`], [`Receiver`]) pair of clonable MPMC handles (Rust
//! style: the direction is in the type, like Go's `chan<- T` / `<-chan T`). Unlike Rust's
//! std and crossbeam, and like Go, *dropping handles does not close a channel*: only
//! [`Sender::close`] does, and a receive that can never complete is a deadlock that the
//! runtime's detector reports. Each channel counts its live handles (`handles.rs`), so a
//! goroutine waiting on a channel whose other side has no handle left is reported as leaked
//! at once, without waiting for a deadlock (the `goroutineleak` profile,
//! [`debug::num_leaked_goroutines`](crate::debug::num_leaked_goroutines)). Go's panics become errors: send on a closed channel returns
//! the value in [`SendError`], a second close returns [`CloseError`]. A nil channel is
//! expressed in `select!` as an `Option` that is `None`.
//!
//! [`unbounded`] (crossbeam's; Go has none) is the same channel with an unlimited capacity:
//! its buffer grows by doubling and halves once a quarter full, so a send never parks and a
//! send arm is always ready. Go leaves it out because it removes backpressure (a slow
//! consumer grows the heap instead of slowing producers), and Rust users reach for it first
//! for the cases that need exactly that: an event loop or logger that must never block on a
//! slow consumer, an actor's mailbox that its own handler sends to, and code ported from
//! crossbeam or std's `mpsc::channel`. Being one more capacity rather than a new flavour, it
//! shares every path, `select`, and the verified parking protocol; the rejected alternative
//! below still holds.
//!
//! # Rejected alternatives
//!
//! * *Flavours per capacity (crossbeam's array/list/zero)*: faster for some shapes, but three
//!   implementations of every path, of `select`, and of the parking protocol to verify.
//!   Go's single design is fast enough for goroutine handoffs, where the park/unpark dominates.
//! * *Lock-free queues with separate waker lists*: the waiter/buffer race then needs a
//!   Dekker-style protocol on every operation; a lock held for a few instructions is simpler
//!   and, with one M per P and no preemption inside the critical section, rarely contended.
//! * *Heap-allocated waiter nodes*: an allocation per blocking operation; stack nodes are
//!   sound because a parked goroutine cannot move (see `sync::wait`).
//!
//! # Invariants and orderings
//!
//! * `buf.len() <= cap`; `recvq` is non-empty only while `buf` is empty; `sendq` only while
//!   `buf` is full (always, for cap 0; never, for an unbounded channel). Both queues only hold nodes of parked operations.
//! * All channel state is accessed under the spin lock (Acquire on lock, Release on unlock),
//!   which orders a send before the matching receive, a close before the receive that sees
//!   it, and the k-th receive before the (k+C)-th send completes (the memory-model section of `docs/DESIGN.md`).
//! * A value handed to a parked operation is published by `done.store(Release)` and read
//!   after `done.load(Acquire)`.
//! * Timed operations (`send_timeout`, `recv_timeout`) are a select with one more arm: a
//!   timer channel (`timer.rs`) whose claim on `selected` races the channel's, as Go's
//!   `select` with a `time.After` arm does.

pub(crate) mod core;
mod error;
mod handles;
mod iter;
mod macros;
pub mod select;
pub(crate) mod timer;

use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

pub use error::{
    CloseError, RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError,
    TrySendError,
};
pub use iter::{IntoIter, Iter, TryIter};
#[doc(hidden)]
pub use select::{select_arms, Arm, RecvArm, SendArm};
pub use select::{RecvTarget, SendTarget};

use self::core::Chan;

/// Creates a channel of capacity `cap` (0: unbuffered, each send waits for its receiver).
/// See [`unbounded`] for one whose sends never wait.
///
/// ```
/// let (tx, rx) = gort::chan::bounded(1);
/// tx.send("hi").unwrap();
/// assert_eq!(rx.recv(), Ok("hi"));
/// tx.close().unwrap();
/// assert!(rx.recv().is_err());
/// ```
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    assert!(
        cap != core::UNBOUNDED,
        "bounded(usize::MAX): use unbounded()"
    );
    let c = Arc::new(Chan::new(cap));
    (Sender { chan: c.clone() }, Receiver { chan: c })
}

/// Creates a channel whose buffer grows as needed, so [`Sender::send`] never waits
/// (crossbeam's `unbounded`; Go has none). Everything else is a channel's: MPMC, FIFO,
/// `close`, `select!` (a send arm is always ready), [`capacity`](Sender::capacity) reads
/// `usize::MAX`.
///
/// Nothing slows a producer down: a consumer that falls behind makes the buffer, and the
/// process, grow without bound (watch [`len`](Receiver::len)). Prefer [`bounded`] where a
/// producer can wait (it is Go's backpressure); use this where it must not (an event loop
/// that must never block on a slow subscriber, a mailbox that receives from its own handler).
/// The buffer doubles as it fills and halves once it is a quarter full.
///
/// ```
/// let (tx, rx) = gort::chan::unbounded();
/// for i in 0..10_000 {
///     tx.send(i).unwrap(); // no receiver yet: never waits
/// }
/// assert_eq!(rx.len(), 10_000);
/// assert_eq!(rx.iter().take(3).collect::<Vec<_>>(), [0, 1, 2]);
/// ```
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    let c = Arc::new(Chan::new(core::UNBOUNDED));
    (Sender { chan: c.clone() }, Receiver { chan: c })
}

/// The sending half of a channel. Cloning makes another handle to the same channel.
pub struct Sender<T> {
    pub(crate) chan: Arc<Chan<T>>,
}

/// The receiving half of a channel. Cloning makes another handle to the same channel.
pub struct Receiver<T> {
    pub(crate) chan: Arc<Chan<T>>,
}

impl<T> Sender<T> {
    /// Sends `v`, parking while the buffer is full and no receiver waits (Go's `c <- v`).
    /// On a closed channel (even one closed while waiting) returns the value in the error.
    #[track_caller]
    pub fn send(&self, v: T) -> Result<(), SendError<T>> {
        crate::rt::loom::preempt_point();
        self.chan.send(v, Location::caller())
    }

    /// Sends without blocking (Go's `select` with a `default`).
    pub fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        crate::rt::loom::preempt_point();
        self.chan.try_send(v)
    }

    /// Sends `v`, giving up after `d` (Go's `select` with a `time.After` arm). The value comes
    /// back in the error on timeout or close.
    #[track_caller]
    pub fn send_timeout(&self, v: T, d: Duration) -> Result<(), SendTimeoutError<T>> {
        let v = match self.try_send(v) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Closed(v)) => return Err(SendTimeoutError::Closed(v)),
            Err(TrySendError::Full(v)) => v,
        };
        if d.is_zero() {
            return Err(SendTimeoutError::Timeout(v));
        }
        let timer = timer::Timeout::after(d);
        let mut send = SendArm::new(self, v);
        let mut timeout = RecvArm::new(&timer.rx);
        match select_arms([&mut send as &mut dyn Arm, &mut timeout], true) {
            Some(0) => send
                .take()
                .map_err(|SendError(v)| SendTimeoutError::Closed(v)),
            _ => Err(SendTimeoutError::Timeout(
                send.take_unsent()
                    .expect("an unselected send arm keeps its value"),
            )),
        }
    }

    /// Closes the channel: receivers drain the buffer and then get `RecvError`; parked
    /// senders get their value back. Closing twice is an error.
    pub fn close(&self) -> Result<(), CloseError> {
        crate::rt::loom::preempt_point();
        self.chan.close()
    }

    /// Number of buffered values (Go's `len(c)`).
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// True when no value is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer capacity (Go's `cap(c)`); `usize::MAX` for an [`unbounded`] channel.
    pub fn capacity(&self) -> usize {
        self.chan.cap()
    }

    /// True once the channel is closed.
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// True when both handles refer to the same channel.
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Receiver<T> {
    /// Receives a value, parking while none is available (Go's `v, ok := <-c`): `Err` once the
    /// channel is closed and drained.
    #[track_caller]
    pub fn recv(&self) -> Result<T, RecvError> {
        crate::rt::loom::preempt_point();
        self.chan.recv(Location::caller())
    }

    /// Receives without blocking.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        crate::rt::loom::preempt_point();
        self.chan.try_recv()
    }

    /// Receives a value, giving up after `d` (Go's `select` with a `time.After` arm).
    #[track_caller]
    pub fn recv_timeout(&self, d: Duration) -> Result<T, RecvTimeoutError> {
        match self.try_recv() {
            Ok(v) => return Ok(v),
            Err(TryRecvError::Closed) => return Err(RecvTimeoutError::Closed),
            Err(TryRecvError::Empty) if d.is_zero() => return Err(RecvTimeoutError::Timeout),
            Err(TryRecvError::Empty) => {}
        }
        let timer = timer::Timeout::after(d);
        let mut recv = RecvArm::new(self);
        let mut timeout = RecvArm::new(&timer.rx);
        match select_arms([&mut recv as &mut dyn Arm, &mut timeout], true) {
            Some(0) => recv.take().map_err(|RecvError| RecvTimeoutError::Closed),
            _ => Err(RecvTimeoutError::Timeout),
        }
    }

    /// Iterates over received values until the channel is closed and drained (Go's
    /// `for v := range c`).
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// Iterates over the values available now, without blocking.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }

    /// Number of buffered values (Go's `len(c)`).
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// True when no value is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer capacity (Go's `cap(c)`); `usize::MAX` for an [`unbounded`] channel.
    pub fn capacity(&self) -> usize {
        self.chan.cap()
    }

    /// True once the channel is closed (values may still be buffered).
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// True when both handles refer to the same channel.
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.refs.add_sender();
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.chan.refs.add_receiver();
        Receiver {
            chan: self.chan.clone(),
        }
    }
}

/// Dropping handles does not close the channel (only [`Sender::close`] does), but the last
/// `Sender` gone makes every receive that waits on the channel a leak the runtime reports
/// (the `goroutineleak` profile, `handles.rs`).
impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.chan.refs.drop_sender();
    }
}

/// The last `Receiver` gone makes every send that waits on the channel a reported leak.
impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.chan.refs.drop_receiver();
    }
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.capacity() {
            core::UNBOUNDED => f.write_str("Sender { cap: unbounded, .. }"),
            c => write!(f, "Sender {{ cap: {c}, .. }}"),
        }
    }
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.capacity() {
            core::UNBOUNDED => f.write_str("Receiver { cap: unbounded, .. }"),
            c => write!(f, "Receiver {{ cap: {c}, .. }}"),
        }
    }
}
