//! The netpoller: one process-wide edge-triggered epoll instance (through mio), an eventfd
//! waker to interrupt a blocking wait, and a descriptor per socket holding its reader and
//! writer (Go's `netpoll_epoll.go` + `netpoll.go`). mio rather than `polling`: its `Poll` is
//! edge-triggered only, which is the mode we want, and carries no tracing spans per wait.
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
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Registry, Token, Waker};

use super::desc::PollDesc;
use crate::rt::sched::p::P;
use crate::rt::timer::clock;

const MAX_EVENTS: usize = 128;
/// Token of the waker (descriptor tokens are non-null pointers).
const WAKE_TOKEN: usize = 0;

pub(crate) struct Poller {
    /// The epoll instance and its event buffer; holding this lock is the right to wait.
    poll: Mutex<(mio::Poll, Events)>,
    /// A handle to the same epoll instance for (de)registration without the wait lock.
    registry: Registry,
    /// An eventfd registered under [`WAKE_TOKEN`] (mio's `Waker`).
    waker: Waker,
    /// Ps (of any runtime) with goroutines parked waiting for readiness (Go's
    /// netpollWaiters, counted per P in `Counters::io_waiters`).
    pub(crate) waiters: AtomicUsize,
    /// An M is blocked in epoll_wait.
    pub(crate) blocked: AtomicBool,
    /// An interrupt was sent and not consumed yet (Go's netpollWakeSig).
    wake_sig: AtomicBool,
    /// Clock ns of the last poll (for sysmon).
    pub(crate) last_poll: AtomicU64,
}

// The poller is a static: its epoll fd and eventfd live for the process.

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

impl Poller {
    fn new() -> io::Result<Poller> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = Waker::new(&registry, Token(WAKE_TOKEN))?;
        INITED.store(true, Release);
        Ok(Poller {
            poll: Mutex::new((poll, Events::with_capacity(MAX_EVENTS))),
            registry,
            waker,
            waiters: AtomicUsize::new(0),
            blocked: AtomicBool::new(false),
            wake_sig: AtomicBool::new(false),
            last_poll: AtomicU64::new(0),
        })
    }

    /// Registers `fd` once, edge-triggered (mio's only mode on epoll), for both directions.
    pub(crate) fn register(&self, fd: RawFd, token: u64) -> io::Result<()> {
        self.registry.register(
            &mut SourceFd(&fd),
            Token(token as usize),
            Interest::READABLE | Interest::WRITABLE,
        )
    }

    pub(crate) fn deregister(&self, fd: RawFd) {
        // Failure (fd never registered) is harmless.
        let _ = self.registry.deregister(&mut SourceFd(&fd));
    }

    /// Polls once. `timeout`: `Some(ZERO)` = non-blocking (gives up if another M polls),
    /// `None` = until an event or interrupt. Delivers readiness to waiting goroutines and
    /// threads; returns the number of events.
    fn poll(&self, timeout: Option<Duration>) -> usize {
        let mut guard = if timeout == Some(Duration::ZERO) {
            match self.poll.try_lock() {
                Ok(g) => g,
                Err(_) => return 0,
            }
        } else {
            self.poll.lock().unwrap_or_else(|e| e.into_inner())
        };
        let (poll, events) = &mut *guard;
        // EINTR (a profiling signal) and other errors count as "no events": the caller's loop
        // polls again.
        let ok = poll.poll(events, timeout).is_ok();
        self.last_poll.store(clock::now_ns(), Relaxed);
        if !ok {
            return 0;
        }
        let mut got = [(0usize, false, false, false); MAX_EVENTS];
        let mut n = 0;
        for ev in events.iter() {
            let hup = ev.is_read_closed() || ev.is_error();
            let read = ev.is_readable() || hup;
            let write = ev.is_writable() || ev.is_write_closed() || ev.is_error();
            got[n] = (ev.token().0, read, write, hup);
            n += 1;
        }
        drop(guard);
        for &(token, read, write, hup) in &got[..n] {
            if token == WAKE_TOKEN {
                // mio's eventfd waker is edge-triggered: nothing to drain.
                self.wake_sig.store(false, Release);
                continue;
            }
            if let Some(pd) = PollDesc::from_token(token as u64) {
                pd.ready(read, write, hup);
            }
        }
        n
    }

    /// Breaks a blocking poll (coalesced: one wake until the poller consumes it).
    fn interrupt(&self) {
        if self.wake_sig.swap(true, AcqRel) {
            return;
        }
        if self.waker.wake().is_err() {
            // Cannot happen for an eventfd short of fd corruption; let the next wake retry.
            self.wake_sig.store(false, Release);
        }
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
        Some(p) if p.waiters.load(Relaxed) > 0 && !p.blocked.load(Relaxed) => {
            p.poll(Some(Duration::ZERO))
        }
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
            p.poll(Some(Duration::ZERO))
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
    // `until(MAX)` is None: no timer, wait for an event. mio rounds a timeout up to whole
    // milliseconds, so we do not wake just before the timer and spin.
    crate::rt::sched::idle::gated_sleep(&p.in_netpoll, has_work, || {
        poller.poll(clock::until(until));
    });
    poller.blocked.store(false, SeqCst);
    true
}
