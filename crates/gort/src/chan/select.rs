//! `select`: the arms and the algorithm behind [`select!`](crate::select).
//!
//! Go's selectgo: (1) a random poll order and a lock order by channel address; (2) lock every
//! distinct channel once, in address order (so two selects over the same channels cannot
//! deadlock, and duplicates are fine); (3) try each arm in poll order, and take the first that
//! is ready; (4) with no ready arm and no `default`, link one waiter node per arm, all sharing
//! one `Parking` record, unlock, and park; (5) the first channel to claim the record wins
//! (CAS on `selected`); on wake-up, lock everything again and unlink the other nodes.
//!
//! Arms live in the caller's frame (the macro declares them as locals) and are handed over as
//! a fixed-size array of `&mut dyn Arm`, so a select allocates nothing.

use std::cell::Cell;
use std::panic::Location;

use super::core::{Chan, RecvTry, SendTry, Waiter};
use super::error::{RecvError, SendError};
use super::handles::{self, Need};
use super::{Receiver, Sender};
use crate::rt::loom::Unparker;
use crate::rt::parking::Parking;

/// A ready arm's wake-up, to run after every lock is released.
#[doc(hidden)]
pub struct Wake(Option<Unparker>);

/// The parking record of a blocked select (opaque).
#[doc(hidden)]
pub struct SelectParking(Parking);

/// One arm of a `select` (implementation detail of [`select!`](crate::select)).
///
/// Sealed: `select_arms` trusts every arm's `addr`, `lock` and `unlock` (it skips locking a
/// channel whose address it has already locked), so only gort's [`RecvArm`] and [`SendArm`]
/// may implement it, and its methods cannot be named outside gort. A user impl is rejected:
///
/// ```compile_fail
/// struct Liar;
/// impl gort::chan::Arm for Liar {}
/// ```
///
/// and so is a call of its methods on a real arm:
///
/// ```compile_fail
/// let (_tx, rx) = gort::chan::bounded::<i32>(1);
/// let arm = gort::chan::RecvArm::new(&rx);
/// arm.lock();
/// ```
#[doc(hidden)]
pub trait Arm: sealed::ArmOps {}

impl<T> Arm for RecvArm<'_, T> {}
impl<T> Arm for SendArm<'_, T> {}

mod sealed {
    use super::{SelectParking, Wake};

    /// The operations of an [`Arm`](super::Arm); public in a private module, so nothing
    /// outside gort can implement or call them.
    pub trait ArmOps {
        /// The channel's address, 0 for a disabled (nil) arm.
        fn addr(&self) -> usize;
        /// Locks the channel.
        fn lock(&self);
        /// # Safety
        /// The caller holds the channel's lock.
        unsafe fn unlock(&self);
        /// Tries the operation; `Some` if it completed (the result is stored in the arm).
        /// # Safety
        /// The caller holds the channel's lock.
        unsafe fn try_locked(&mut self) -> Option<Wake>;
        /// Links this arm's waiter node.
        /// # Safety
        /// The caller holds the lock; the arm and `p` stay in place until [`dequeue`](ArmOps::dequeue).
        unsafe fn enqueue(&self, p: &SelectParking, case: usize);
        /// Unlinks the waiter node if still linked.
        /// # Safety
        /// The caller holds the lock.
        unsafe fn dequeue(&self);
        /// Collects the result after this arm was selected while parked.
        fn finish(&mut self);
        /// What the arm needs to ever fire, for the leak detector.
        fn need(&self) -> crate::chan::handles::Need<'_>;
    }
}

/// Things a receive arm accepts: a receiver, or `Option` of one (`None` disables the arm, like
/// a nil channel in Go).
pub trait RecvTarget {
    /// The element type.
    type Item;
    /// The receiver, if the arm is enabled.
    fn receiver(&self) -> Option<&Receiver<Self::Item>>;
}

/// Things a send arm accepts: a sender, or `Option` of one (`None` disables the arm).
pub trait SendTarget {
    /// The element type.
    type Item;
    /// The sender, if the arm is enabled.
    fn sender(&self) -> Option<&Sender<Self::Item>>;
}

impl<T> RecvTarget for Receiver<T> {
    type Item = T;
    fn receiver(&self) -> Option<&Receiver<T>> {
        Some(self)
    }
}
impl<T> RecvTarget for &Receiver<T> {
    type Item = T;
    fn receiver(&self) -> Option<&Receiver<T>> {
        Some(self)
    }
}
impl<T> RecvTarget for Option<Receiver<T>> {
    type Item = T;
    fn receiver(&self) -> Option<&Receiver<T>> {
        self.as_ref()
    }
}
impl<T> RecvTarget for Option<&Receiver<T>> {
    type Item = T;
    fn receiver(&self) -> Option<&Receiver<T>> {
        *self
    }
}
impl<T> SendTarget for Sender<T> {
    type Item = T;
    fn sender(&self) -> Option<&Sender<T>> {
        Some(self)
    }
}
impl<T> SendTarget for &Sender<T> {
    type Item = T;
    fn sender(&self) -> Option<&Sender<T>> {
        Some(self)
    }
}
impl<T> SendTarget for Option<Sender<T>> {
    type Item = T;
    fn sender(&self) -> Option<&Sender<T>> {
        self.as_ref()
    }
}
impl<T> SendTarget for Option<&Sender<T>> {
    type Item = T;
    fn sender(&self) -> Option<&Sender<T>> {
        *self
    }
}

/// A receive arm.
#[doc(hidden)]
pub struct RecvArm<'a, T> {
    chan: Option<&'a Chan<T>>,
    waiter: Waiter<T>,
    result: Option<Result<T, RecvError>>,
}

/// A send arm; holds the value until the select ends (an unselected value is dropped).
#[doc(hidden)]
pub struct SendArm<'a, T> {
    chan: Option<&'a Chan<T>>,
    waiter: Waiter<T>,
    result: Option<Result<(), SendError<T>>>,
}

impl<'a, T> RecvArm<'a, T> {
    /// An arm receiving from `r`.
    pub fn new<R: RecvTarget<Item = T> + ?Sized>(r: &'a R) -> Self {
        RecvArm {
            chan: r.receiver().map(|r| &*r.chan),
            waiter: Waiter::new(None),
            result: None,
        }
    }

    /// The result of the selected arm.
    pub fn take(&mut self) -> Result<T, RecvError> {
        self.result.take().expect("select: arm was not selected")
    }

    /// Never calls `f`: `select!` passes `|pattern| ()` so that the compiler checks the arm's
    /// pattern against the arm's result type as a closure parameter, whose refutability error
    /// points at the user's pattern (a `let` in the macro adds a `let...else` hint inside
    /// gort's source).
    #[inline(always)]
    pub fn check_pattern(&self, f: impl FnOnce(Result<T, RecvError>)) {
        let _ = f;
    }
}

impl<'a, T> SendArm<'a, T> {
    /// An arm sending `v` on `s`.
    pub fn new<S: SendTarget<Item = T> + ?Sized>(s: &'a S, v: T) -> Self {
        SendArm {
            chan: s.sender().map(|s| &*s.chan),
            waiter: Waiter::new(Some(v)),
            result: None,
        }
    }

    /// The result of the selected arm.
    pub fn take(&mut self) -> Result<(), SendError<T>> {
        self.result.take().expect("select: arm was not selected")
    }

    /// See [`RecvArm::check_pattern`].
    #[inline(always)]
    pub fn check_pattern(&self, f: impl FnOnce(Result<(), SendError<T>>)) {
        let _ = f;
    }

    /// The value of an arm that was not selected (after `select_arms` returned, no arm is
    /// linked into a channel, so the value is still in the waiter node).
    pub fn take_unsent(&mut self) -> Option<T> {
        self.waiter.slot.get_mut().take()
    }
}

fn addr_of<T>(c: Option<&Chan<T>>) -> usize {
    c.map_or(0, |c| c as *const Chan<T> as usize)
}

macro_rules! common_arm_methods {
    () => {
        fn addr(&self) -> usize {
            addr_of(self.chan)
        }
        fn lock(&self) {
            if let Some(c) = self.chan {
                c.lock.raw_lock();
            }
        }
        /// # Safety
        /// The caller holds the channel's lock (the `Arm::unlock` contract).
        unsafe fn unlock(&self) {
            if let Some(c) = self.chan {
                // SAFETY: the caller holds the lock (trait contract).
                unsafe { c.lock.raw_unlock() };
            }
        }
    };
}

impl<T> sealed::ArmOps for RecvArm<'_, T> {
    common_arm_methods!();

    /// # Safety
    /// The caller holds the channel's lock (`Arm::try_locked`'s contract).
    unsafe fn try_locked(&mut self) -> Option<Wake> {
        let c = self.chan?;
        // SAFETY: the lock is held (contract); the reference ends with this call.
        let st = unsafe { c.lock.data() };
        match c.recv_locked(st) {
            RecvTry::Got(v, u) => {
                self.result = Some(Ok(v));
                Some(Wake(u))
            }
            RecvTry::Closed => {
                self.result = Some(Err(RecvError));
                Some(Wake(None))
            }
            RecvTry::Empty => None,
        }
    }

    unsafe fn enqueue(&self, p: &SelectParking, case: usize) {
        if let Some(c) = self.chan {
            self.waiter.bind(&p.0, case);
            // SAFETY: lock held; the node stays in the caller's frame until `dequeue` (contract).
            unsafe { c.lock.data().recvq.push_back(&self.waiter) };
        }
    }

    unsafe fn dequeue(&self) {
        if let Some(c) = self.chan {
            // SAFETY: lock held; the node, if linked, is linked in this channel's recvq.
            unsafe { c.lock.data().recvq.remove(&self.waiter) };
        }
    }

    fn finish(&mut self) {
        self.result = Some(self.waiter.take().ok_or(RecvError));
    }

    fn need(&self) -> Need<'_> {
        self.chan.map_or(Need::Never, |c| Need::Sender(&c.refs))
    }
}

impl<T> sealed::ArmOps for SendArm<'_, T> {
    common_arm_methods!();

    /// # Safety
    /// The caller holds the channel's lock (`Arm::try_locked`'s contract).
    unsafe fn try_locked(&mut self) -> Option<Wake> {
        let c = self.chan?;
        let v = self.waiter.take()?;
        // SAFETY: the lock is held (contract); the reference ends with this call.
        let st = unsafe { c.lock.data() };
        match c.send_locked(st, v) {
            SendTry::Sent(u) => {
                self.result = Some(Ok(()));
                Some(Wake(u))
            }
            SendTry::Closed(v) => {
                self.result = Some(Err(SendError(v)));
                Some(Wake(None))
            }
            SendTry::Full(v) => {
                // SAFETY: the node is not linked: the slot is the owner's.
                unsafe { *self.waiter.slot.get() = Some(v) };
                None
            }
        }
    }

    unsafe fn enqueue(&self, p: &SelectParking, case: usize) {
        if let Some(c) = self.chan {
            self.waiter.bind(&p.0, case);
            // SAFETY: lock held; the node stays in the caller's frame until `dequeue` (contract).
            unsafe { c.lock.data().sendq.push_back(&self.waiter) };
        }
    }

    unsafe fn dequeue(&self) {
        if let Some(c) = self.chan {
            // SAFETY: lock held; the node, if linked, is linked in this channel's sendq.
            unsafe { c.lock.data().sendq.remove(&self.waiter) };
        }
    }

    fn finish(&mut self) {
        self.result = Some(if self.waiter.closed.get() {
            Err(SendError(
                self.waiter.take().expect("value returned on close"),
            ))
        } else {
            Ok(())
        });
    }

    fn need(&self) -> Need<'_> {
        self.chan.map_or(Need::Never, |c| Need::Receiver(&c.refs))
    }
}

thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// A cheap per-thread xorshift64* in `0..n` (n > 0), for the poll order.
fn fastrand(n: usize) -> usize {
    RNG.with(|s| {
        let mut x = s.get();
        if x == 0 {
            x = (s as *const _ as u64) ^ 0x9E37_79B9_7F4A_7C15 ^ std::process::id() as u64;
            x |= 1;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        (((x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) * n as u64) >> 32) as usize
    })
}

fn lock_all<const N: usize>(arms: &[&mut dyn Arm; N], order: &[usize]) {
    let mut last = 0;
    for &i in order {
        let a = arms[i].addr();
        if a != last {
            arms[i].lock();
            last = a;
        }
    }
}

/// # Safety
/// The locks were taken by `lock_all` with the same `order`.
unsafe fn unlock_all<const N: usize>(arms: &[&mut dyn Arm; N], order: &[usize]) {
    let mut last = 0;
    for &i in order.iter().rev() {
        let a = arms[i].addr();
        if a != last {
            // SAFETY: locked by lock_all (caller).
            unsafe { arms[i].unlock() };
            last = a;
        }
    }
}

/// Runs a select over `arms`; returns the index of the arm that completed, or `None` when
/// none was ready and `block` is false (the `default` arm). Implementation of
/// [`select!`](crate::select).
#[doc(hidden)]
#[track_caller]
pub fn select_arms<const N: usize>(arms: [&mut dyn Arm; N], block: bool) -> Option<usize> {
    // A preemption point, before any channel is locked (a `select!` with `default` in a loop).
    crate::rt::loom::preempt_point();
    let at = Location::caller();
    // Random poll order (inside-out Fisher-Yates) and address lock order (insertion sort).
    let mut poll = [0usize; N];
    for i in 0..N {
        let j = fastrand(i + 1);
        poll[i] = poll[j];
        poll[j] = i;
    }
    let mut order = [0usize; N];
    let mut n = 0;
    for i in 0..N {
        let a = arms[i].addr();
        if a == 0 {
            continue;
        }
        let mut k = n;
        while k > 0 && arms[order[k - 1]].addr() > a {
            order[k] = order[k - 1];
            k -= 1;
        }
        order[k] = i;
        n += 1;
    }
    let order = &order[..n];
    if n == 0 {
        if block {
            crate::block_forever();
        }
        return None;
    }

    lock_all(&arms, order);
    for &i in &poll {
        // SAFETY: every enabled arm's channel is locked; a disabled arm does nothing.
        if let Some(w) = unsafe { arms[i].try_locked() } {
            // SAFETY: locked above with the same order.
            unsafe { unlock_all(&arms, order) };
            if let Some(u) = w.0 {
                u.unpark();
            }
            return Some(i);
        }
    }
    if !block {
        // SAFETY: locked above with the same order.
        unsafe { unlock_all(&arms, order) };
        return None;
    }

    let parking = SelectParking(Parking::new());
    for &i in order {
        // SAFETY: locked; the arms and `parking` stay in place until the dequeue below.
        unsafe { arms[i].enqueue(&parking, i) };
    }
    // SAFETY: locked above with the same order.
    unsafe { unlock_all(&arms, order) };
    handles::wait_select(&parking.0, at, &arms);
    let k = parking.0.selected();

    lock_all(&arms, order);
    for &i in order {
        // SAFETY: locked; each node is linked (if at all) in its own channel's queue.
        unsafe { arms[i].dequeue() };
    }
    // SAFETY: locked above with the same order.
    unsafe { unlock_all(&arms, order) };
    arms[k].finish();
    Some(k)
}
