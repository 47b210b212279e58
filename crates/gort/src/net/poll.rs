//! The netpoller: one process-wide edge-triggered epoll instance, an eventfd to interrupt a
//! blocking wait, and a descriptor per socket holding its reader and writer (Go's
//! `netpoll_epoll.go` + `netpoll.go`).
//!
//! Who polls: a P's M without a poll in progress, non-blocking, in `find_runnable` before it
//! steals; one idle M at a time, blocking until its P's next timer (`block`); sysmon when
//! nobody polled for 10 ms. The lock around the event buffer is the "one poller at a time"
//! token: non-blocking pollers only `try_lock` it.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Mutex, OnceLock};

use super::desc::PollDesc;
use crate::sched::p::P;
use crate::time::clock;

const MAX_EVENTS: usize = 128;
/// Token of the interrupt eventfd (descriptor tokens are non-null pointers).
const WAKE_TOKEN: u64 = 0;

pub(crate) struct Poller {
    epfd: RawFd,
    evfd: RawFd,
    /// The event buffer; holding this lock is the right to call epoll_wait.
    events: Mutex<Vec<libc::epoll_event>>,
    /// Goroutines parked waiting for readiness (Go's netpollWaiters).
    pub(crate) waiters: AtomicUsize,
    /// An M is blocked in epoll_wait.
    pub(crate) blocked: AtomicBool,
    /// An interrupt was sent and not consumed yet (Go's netpollWakeSig).
    wake_sig: AtomicBool,
    /// Clock ns of the last poll (for sysmon).
    pub(crate) last_poll: AtomicU64,
}

// The fds live for the process (the poller is a static); nothing closes them.

pub(crate) fn poller() -> &'static Poller {
    static POLLER: OnceLock<Poller> = OnceLock::new();
    POLLER.get_or_init(|| Poller::new().expect("gort: cannot create the netpoller"))
}

fn inited() -> Option<&'static Poller> {
    // Avoid creating the epoll instance just to find nobody uses it.
    if INITED.load(Acquire) {
        Some(poller())
    } else {
        None
    }
}

static INITED: AtomicBool = AtomicBool::new(false);

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

impl Poller {
    fn new() -> io::Result<Poller> {
        // SAFETY: plain syscalls with valid flag arguments; we own the returned fds.
        let epfd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: as above.
        let evfd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: WAKE_TOKEN,
        };
        // SAFETY: epfd and evfd are open fds we own; `ev` is a valid epoll_event.
        cvt(unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, evfd, &mut ev) })?;
        INITED.store(true, Release);
        Ok(Poller {
            epfd,
            evfd,
            events: Mutex::new(vec![libc::epoll_event { events: 0, u64: 0 }; MAX_EVENTS]),
            waiters: AtomicUsize::new(0),
            blocked: AtomicBool::new(false),
            wake_sig: AtomicBool::new(false),
            last_poll: AtomicU64::new(0),
        })
    }

    /// Registers `fd` once, edge-triggered, for both directions.
    pub(crate) fn register(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
            u64: token,
        };
        // SAFETY: `fd` is an open socket owned by the caller; `ev` is valid.
        cvt(unsafe { libc::epoll_ctl(self.epfd, libc::EPOLL_CTL_ADD, fd, &mut ev) }).map(drop)
    }

    pub(crate) fn deregister(&self, fd: RawFd) {
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: as in register; failure (fd never registered) is harmless.
        unsafe { libc::epoll_ctl(self.epfd, libc::EPOLL_CTL_DEL, fd, &mut ev) };
    }

    /// Polls once. `timeout_ms`: 0 = non-blocking (gives up if another M polls), -1 = forever.
    /// Delivers readiness to waiting goroutines/threads; returns the number of events.
    fn poll(&self, timeout_ms: i32) -> usize {
        let mut buf = if timeout_ms == 0 {
            match self.events.try_lock() {
                Ok(b) => b,
                Err(_) => return 0,
            }
        } else {
            self.events.lock().unwrap()
        };
        // SAFETY: `buf` holds MAX_EVENTS initialised epoll_events that we exclusively borrow.
        let n =
            unsafe { libc::epoll_wait(self.epfd, buf.as_mut_ptr(), MAX_EVENTS as i32, timeout_ms) };
        self.last_poll.store(clock::now_ns(), Relaxed);
        if n <= 0 {
            return 0;
        }
        let mut got = [(0u64, 0u32); MAX_EVENTS];
        for (i, ev) in buf[..n as usize].iter().enumerate() {
            got[i] = (ev.u64, ev.events);
        }
        drop(buf);
        for &(token, events) in &got[..n as usize] {
            if token == WAKE_TOKEN {
                let mut v = 0u64;
                // SAFETY: reads 8 bytes into `v` from our own non-blocking eventfd.
                unsafe { libc::read(self.evfd, (&mut v as *mut u64).cast(), 8) };
                self.wake_sig.store(false, Release);
                continue;
            }
            let read = events
                & (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32
                != 0;
            let write = events & (libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0;
            if let Some(pd) = PollDesc::from_token(token) {
                pd.ready(read, write);
            }
        }
        n as usize
    }

    /// Breaks a blocking poll (coalesced: one write until the poller consumes it).
    fn interrupt(&self) {
        if self.wake_sig.swap(true, AcqRel) {
            return;
        }
        let one = 1u64;
        // SAFETY: writes 8 bytes from `one` to our own eventfd.
        unsafe { libc::write(self.evfd, (&one as *const u64).cast(), 8) };
    }
}

/// Breaks an M out of a blocking poll.
pub(crate) fn interrupt() {
    if let Some(p) = inited() {
        p.interrupt();
    }
}

/// Non-blocking poll from the scheduler's search: only if some goroutine waits on I/O and no
/// M is blocked in the poller (it gets the events anyway: Go's `sched.lastpoll != 0` test).
/// Without the second condition a P that runs dry after every message polls once per
/// message (one epoll_wait per echo round trip, measured), mostly for nothing.
pub(crate) fn poll_nonblocking() -> usize {
    match inited() {
        Some(p) if p.waiters.load(Relaxed) > 0 && !p.blocked.load(Relaxed) => p.poll(0),
        _ => 0,
    }
}

/// True if goroutines wait on I/O (so some M should be polling).
pub(crate) fn has_waiters() -> bool {
    inited().is_some_and(|p| p.waiters.load(SeqCst) > 0)
}

/// sysmon: poll if goroutines wait on I/O and nobody polled for `ns`.
pub(crate) fn poll_if_stale(ns: u64) -> usize {
    match inited() {
        Some(p)
            if p.waiters.load(Relaxed) > 0
                && clock::now_ns().saturating_sub(p.last_poll.load(Relaxed)) >= ns =>
        {
            p.poll(0)
        }
        _ => 0,
    }
}

/// An idle M: blocks in the poller until an event, an interrupt, or `until` (clock ns; MAX =
/// no timer). Returns false without blocking if no goroutine waits on I/O or another M is
/// already blocked there; the caller then parks its thread instead.
///
/// `has_work` is re-checked after `p.in_netpoll` is published (SeqCst): a waker either sees
/// the flag and interrupts us, or we see its work here (pairs with `P::unpark_m`).
pub(crate) fn block(p: &P, until: u64, has_work: impl Fn() -> bool) -> bool {
    let Some(poller) = inited() else {
        return false;
    };
    if poller.waiters.load(SeqCst) == 0
        || poller
            .blocked
            .compare_exchange(false, true, SeqCst, Relaxed)
            .is_err()
    {
        return false;
    }
    p.in_netpoll.store(true, SeqCst);
    std::sync::atomic::fence(SeqCst);
    if !has_work() {
        let timeout = match clock::until(until) {
            None => -1,
            // Round up so we do not wake just before the timer and spin.
            Some(d) => d.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32,
        };
        poller.poll(timeout);
    }
    p.in_netpoll.store(false, SeqCst);
    poller.blocked.store(false, SeqCst);
    true
}
