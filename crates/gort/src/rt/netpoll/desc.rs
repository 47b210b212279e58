//! Poll descriptors: per socket, the reader's and the writer's wait state (Go's pollDesc).
//!
//! # Lifetime
//!
//! Descriptors are never freed: a closed socket's descriptor goes back to a free list and is
//! reused (Go's pollCache). So the epoll token (a pointer) always points at a live
//! descriptor, even for an event fetched just before the socket closed. The token's top 16
//! bits carry the descriptor's generation, bumped on every close, so events for an old socket
//! are dropped; a wrapped generation can at worst deliver one spurious "maybe ready", which
//! every waiter tolerates (it retries the syscall).
//!
//! # Per-direction state (under `Dir`'s lock)
//!
//! `ready` means "an edge arrived since the last waiter consumed it": the poller sets it and
//! unparks `waiter`; a waiter that finds it set clears it and retries its syscall. Because the
//! syscall is always tried before waiting and `ready` is checked under the same lock the
//! poller takes, an edge that arrives between EAGAIN and the wait is never lost.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use super::poller::poller;
use crate::rt::sched::g::WaitReason;
use crate::rt::sched::park::{ctx, in_goroutine, park, Unparker};
use crate::rt::timer::clock;
use crate::rt::timer::{Kind, TimerInner};

const PTR_MASK: u64 = (1 << 48) - 1;

#[derive(Default)]
struct DirState {
    ready: bool,
    closed: bool,
    /// Deadline in clock ns; u64::MAX = none.
    deadline: u64,
    /// The goroutine waiting (the common case: one reader, one writer).
    waiter: Option<Unparker>,
    /// Further goroutines waiting in the same direction (concurrent reads of one socket);
    /// an edge wakes them all and each retries its syscall.
    more: Vec<Unparker>,
}

impl DirState {
    fn add_waiter(&mut self, me: Unparker) {
        match &self.waiter {
            Some(w) if w.goid() != me.goid() => self.more.push(me),
            _ => self.waiter = Some(me),
        }
    }

    fn remove_waiter(&mut self, goid: u64) {
        if self.waiter.as_ref().is_some_and(|w| w.goid() == goid) {
            self.waiter = self.more.pop();
        } else {
            self.more.retain(|w| w.goid() != goid);
        }
    }

    /// Takes every waiter, to be unparked after the lock is released.
    fn take_waiters(&mut self) -> (Option<Unparker>, Vec<Unparker>) {
        let more = if self.more.is_empty() {
            Vec::new()
        } else {
            std::mem::take(&mut self.more)
        };
        (self.waiter.take(), more)
    }
}

fn wake((w, more): (Option<Unparker>, Vec<Unparker>)) {
    if let Some(w) = w {
        w.unpark();
    }
    for w in more {
        w.unpark();
    }
}

/// Which side of the socket.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Mode {
    Read = 0,
    Write = 1,
}

pub(crate) struct PollDesc {
    fd: AtomicU64,
    gen: AtomicU64,
    rd: Mutex<DirState>,
    wr: Mutex<DirState>,
    /// Deadline timers (Go's pollDesc.rt/wt): armed by `set_deadline`, they wake the
    /// direction's waiters, which then see the deadline has passed. Made once per descriptor
    /// (descriptors are recycled, never freed), so a wait arms no timer of its own.
    rtimer: OnceLock<Arc<TimerInner>>,
    wtimer: OnceLock<Arc<TimerInner>>,
    /// Copies of the two deadlines (read, write), so the check before every operation is an
    /// atomic load, not a lock. Written after the locked `DirState::deadline`.
    deadlines: [AtomicU64; 2],
    /// Read edges delivered so far (bumped by the poller before it sets `rd.ready`).
    rd_edges: AtomicU64,
    /// `rd_edges` as sampled before the last read that drained the socket (a short TCP read
    /// or EAGAIN); `u64::MAX` when unknown. While the two are equal no data arrived since that
    /// read, so the next read skips its syscall (it would fail with EAGAIN) and waits.
    rd_drained: AtomicU64,
    /// The poller delivered a read-side hang-up or error (FIN, RST): a read returns at once
    /// (EOF or the error) even with no data queued, so the drained hint is off for good.
    rd_hup: AtomicBool,
}

static FREE: Mutex<Vec<&'static PollDesc>> = Mutex::new(Vec::new());

/// Descriptors below this have a bit in [`OWNED`].
const OWNED_FDS: usize = 1 << 16;
/// One bit per descriptor gort's `net` opened a `PollDesc` for (non-blocking sockets whose
/// EAGAIN its callers handle): the interposed socket calls (`rt/interpose/socket.rs`) hand
/// EAGAIN straight back for these, without asking the kernel about the descriptor's mode.
static OWNED: [AtomicU64; OWNED_FDS / 64] = [const { AtomicU64::new(0) }; OWNED_FDS / 64];

fn set_owned(fd: RawFd, on: bool) {
    if let Some(w) = OWNED.get(fd as usize / 64) {
        let bit = 1u64 << (fd as usize % 64);
        if on {
            w.fetch_or(bit, Relaxed);
        } else {
            w.fetch_and(!bit, Relaxed);
        }
    }
}

/// True when `fd` is a socket of gort's `net` (see [`OWNED`]). Read only by the interposed
/// calls (`rt/interpose/socket.rs`), which builds without the feature leave out.
#[inline]
#[cfg_attr(not(feature = "interpose"), allow(dead_code))]
pub(crate) fn is_owned(fd: RawFd) -> bool {
    fd >= 0
        && OWNED
            .get(fd as usize / 64)
            .is_some_and(|w| w.load(Relaxed) & (1u64 << (fd as usize % 64)) != 0)
}

impl PollDesc {
    /// Registers `fd`, a socket of gort's `net`, with the poller and returns its descriptor.
    pub(crate) fn open(fd: RawFd) -> io::Result<&'static PollDesc> {
        let pd = Self::open_any(fd)?;
        set_owned(fd, true);
        Ok(pd)
    }

    /// Registers any pollable `fd` (a socket gort does not own, for an interposed call's
    /// wait) and returns its descriptor; [`close`](Self::close) deregisters it.
    pub(crate) fn open_any(fd: RawFd) -> io::Result<&'static PollDesc> {
        let pd = FREE.lock().unwrap().pop().unwrap_or_else(|| {
            Box::leak(Box::new(PollDesc {
                fd: AtomicU64::new(0),
                gen: AtomicU64::new(0),
                rd: Mutex::new(DirState::default()),
                wr: Mutex::new(DirState::default()),
                rtimer: OnceLock::new(),
                wtimer: OnceLock::new(),
                deadlines: [AtomicU64::new(u64::MAX), AtomicU64::new(u64::MAX)],
                rd_edges: AtomicU64::new(0),
                rd_drained: AtomicU64::new(u64::MAX),
                rd_hup: AtomicBool::new(false),
            }))
        });
        assert!(
            (pd as *const PollDesc as u64) & !PTR_MASK == 0,
            "pointer fits in 48 bits"
        );
        pd.fd.store(fd as u64, Relaxed);
        pd.rd_drained.store(u64::MAX, Relaxed);
        pd.rd_hup.store(false, Relaxed);
        for d in &pd.deadlines {
            d.store(u64::MAX, Relaxed);
        }
        for d in [&pd.rd, &pd.wr] {
            *d.lock().unwrap() = DirState {
                deadline: u64::MAX,
                ..DirState::default()
            };
        }
        if let Err(e) = poller().register(fd, pd.token()) {
            FREE.lock().unwrap().push(pd);
            return Err(e);
        }
        Ok(pd)
    }

    fn token(&self) -> u64 {
        (self as *const PollDesc as u64) | ((self.gen.load(Acquire) & 0xFFFF) << 48)
    }

    /// The descriptor an epoll token names, if its generation is current.
    pub(crate) fn from_token(token: u64) -> Option<&'static PollDesc> {
        let ptr = (token & PTR_MASK) as *const PollDesc;
        // SAFETY: tokens are made by `token()` from a leaked `&'static PollDesc`, and
        // descriptors are never freed (see the module doc), so `ptr` is valid forever.
        let pd = unsafe { &*ptr };
        (pd.gen.load(Acquire) & 0xFFFF == token >> 48).then_some(pd)
    }

    fn dir(&self, mode: Mode) -> &Mutex<DirState> {
        match mode {
            Mode::Read => &self.rd,
            Mode::Write => &self.wr,
        }
    }

    /// Poller: an edge arrived (`hup`: it reports a read-side hang-up or an error).
    pub(crate) fn ready(&self, read: bool, write: bool, hup: bool) {
        if hup {
            // Before the edge count: a reader that samples the count after this edge sees it.
            self.rd_hup.store(true, Release);
        }
        if read {
            self.rd_edges.fetch_add(1, AcqRel);
        }
        for (on, d) in [(read, &self.rd), (write, &self.wr)] {
            if on {
                let w = {
                    let mut s = d.lock().unwrap();
                    s.ready = true;
                    s.take_waiters()
                };
                wake(w);
            }
        }
    }

    fn timer(&'static self, mode: Mode) -> &'static Arc<TimerInner> {
        let cell = match mode {
            Mode::Read => &self.rtimer,
            Mode::Write => &self.wtimer,
        };
        cell.get_or_init(|| TimerInner::new_real(Kind::call(move || self.wake_dir(mode))))
    }

    /// Wakes every waiter of `mode` so it re-evaluates (deadline fired or changed).
    fn wake_dir(&self, mode: Mode) {
        let w = self.dir(mode).lock().unwrap().take_waiters();
        wake(w);
    }

    /// Sets (or clears) a direction's deadline. A waiter already parked re-evaluates: at once
    /// if the deadline changed to the past, else when the deadline timer fires.
    pub(crate) fn set_deadline(&'static self, mode: Mode, t: Option<Instant>) {
        let when = t.map_or(u64::MAX, clock::instant_to_ns);
        self.dir(mode).lock().unwrap().deadline = when;
        self.deadlines[mode as usize].store(when, Release);
        let timer = self.timer(mode);
        if when == u64::MAX {
            timer.stop();
        } else if when <= clock::now_ns() {
            timer.stop();
            self.wake_dir(mode);
        } else {
            timer.reset(when, 0);
        }
    }

    /// The socket is closing: deregister, wake waiters with an error, and recycle.
    ///
    /// Contract: called once, by the owner (`NetFd::drop`), before the fd is closed.
    pub(crate) fn close(&'static self) {
        set_owned(self.fd.load(Relaxed) as RawFd, false);
        poller().deregister(self.fd.load(Relaxed) as RawFd);
        self.gen.fetch_add(1, AcqRel);
        for t in [&self.rtimer, &self.wtimer] {
            if let Some(t) = t.get() {
                t.stop();
            }
        }
        for d in [&self.rd, &self.wr] {
            let w = {
                let mut s = d.lock().unwrap();
                s.closed = true;
                s.take_waiters()
            };
            wake(w);
        }
        FREE.lock().unwrap().push(self);
    }

    /// The read-edge count, sampled before a read syscall.
    pub(crate) fn read_edges(&self) -> u64 {
        self.rd_edges.load(Acquire)
    }

    /// Records that the read which began at edge count `seq` left the socket empty.
    pub(crate) fn set_drained(&self, seq: u64) {
        self.rd_drained.store(seq, Release);
    }

    /// Forgets the drained hint (a read filled its buffer: more data may be queued).
    pub(crate) fn clear_drained(&self) {
        self.rd_drained.store(u64::MAX, Relaxed);
    }

    /// True if the socket was drained and no read edge arrived since: a read would EAGAIN.
    ///
    /// Sound because data (or a FIN, or an error) arriving after the draining read makes the
    /// kernel queue an epoll event, and the poller bumps `rd_edges` when it delivers it:
    /// either we see the bump and read, or the event is delivered after we registered as a
    /// waiter and wakes us. A hang-up that arrived *before* the draining read gives no later
    /// edge, yet the read after it returns EOF at once: epoll reports the socket's state when
    /// the event is harvested, so that edge carried `hup`, which turns the hint off (its store
    /// precedes the edge count the draining read sampled).
    pub(crate) fn drained_unchanged(&self) -> bool {
        let d = self.rd_drained.load(Acquire);
        d != u64::MAX && d == self.rd_edges.load(Acquire) && !self.rd_hup.load(Acquire)
    }

    /// Fails with `TimedOut` if `mode`'s deadline has passed (checked before every operation,
    /// as Go does, so a deadline in the past fails even when data is ready).
    /// (Not `closed`: the owner closes only when dropped, so no operation can race it.)
    pub(crate) fn check(&self, mode: Mode) -> io::Result<()> {
        let deadline = self.deadlines[mode as usize].load(Acquire);
        if deadline != u64::MAX && clock::now_ns() >= deadline {
            return Err(timed_out());
        }
        Ok(())
    }

    /// Waits until the socket may be ready in `mode` (after the caller's syscall returned
    /// EAGAIN). Errors: `TimedOut` past the deadline; `NotConnected`-like on close.
    pub(crate) fn wait(&self, mode: Mode) -> io::Result<()> {
        if !in_goroutine() {
            return self.wait_thread(mode);
        }
        let d = self.dir(mode);
        let mut s = d.lock().unwrap();
        loop {
            if s.closed {
                return Err(closed());
            }
            if s.ready {
                s.ready = false;
                return Ok(());
            }
            let deadline = s.deadline;
            if deadline != u64::MAX && clock::now_ns() >= deadline {
                return Err(timed_out());
            }
            let me = Unparker::current();
            let goid = me.goid();
            s.add_waiter(me);
            drop(s);
            park_io();
            s = d.lock().unwrap();
            s.remove_waiter(goid);
        }
    }

    /// A plain thread waits in poll(2) on the fd itself (the poller's edges are for
    /// goroutines). A deadline changed meanwhile is seen within 100 ms.
    fn wait_thread(&self, mode: Mode) -> io::Result<()> {
        let events = match mode {
            Mode::Read => libc::POLLIN | libc::POLLRDHUP,
            Mode::Write => libc::POLLOUT,
        };
        loop {
            let deadline = {
                let s = self.dir(mode).lock().unwrap();
                if s.closed {
                    return Err(closed());
                }
                s.deadline
            };
            let now = clock::now_ns();
            if deadline != u64::MAX && now >= deadline {
                return Err(timed_out());
            }
            let left_ms = if deadline == u64::MAX {
                100
            } else {
                ((deadline - now).div_ceil(1_000_000)).min(100) as i32
            };
            let mut pfd = libc::pollfd {
                fd: self.fd.load(Relaxed) as RawFd,
                events,
                revents: 0,
            };
            // SAFETY: `pfd` is a valid pollfd array of length 1.
            let r = unsafe { libc::poll(&mut pfd, 1, left_ms) };
            if r > 0 {
                return Ok(());
            }
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
}

/// Parks the calling goroutine on I/O, counting it as a netpoll waiter, which also tells the
/// deadlock detector that it waits for something outside the runtime. The count is per P
/// (`Counters::io_waiters`); the poller's `waiters` counts Ps that have I/O waiters.
fn park_io() {
    let p = poller();
    let c = ctx().expect("in a goroutine");
    let shared = c.shared();
    let mine = &c.p().counters.io_waiters;
    if mine.fetch_add(1, SeqCst) == 0 {
        p.waiters.fetch_add(1, SeqCst);
    }
    // If an idle P could block in the poller but none does, wake one to do it (otherwise
    // only busy Ps' searches and sysmon's 10 ms poll would see this socket's edges).
    if !p.blocked.load(SeqCst) && shared.idle.npidle.load(SeqCst) > 0 {
        shared.wakep();
    }
    park(WaitReason::IoWait);
    // Resumed on the same M (goroutines never migrate), so `c` is still our P.
    if mine.fetch_sub(1, SeqCst) == 1 {
        p.waiters.fetch_sub(1, SeqCst);
    }
}

fn closed() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "use of closed network connection",
    )
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "i/o timeout")
}
