//! `NetFd`: a non-blocking std socket plus its poll descriptor; every blocking-style
//! operation is "try the syscall; on EAGAIN wait for an edge; retry" (Go's netFD/poll.FD).

use std::io;
use std::os::fd::AsRawFd;
use std::time::Instant;

use crate::rt::netpoll::desc::{Mode, PollDesc};

pub(crate) struct NetFd<S: AsRawFd> {
    pub(crate) sock: S,
    pd: &'static PollDesc,
}

impl<S: AsRawFd> NetFd<S> {
    /// Takes a socket already set non-blocking and registers it with the poller.
    pub(crate) fn new(sock: S) -> io::Result<NetFd<S>> {
        let pd = PollDesc::open(sock.as_raw_fd())?;
        Ok(NetFd { sock, pd })
    }

    /// Runs `op` until it does not return `WouldBlock`, parking in between.
    pub(crate) fn io<R>(
        &self,
        mode: Mode,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        crate::rt::sched::park::preempt_point();
        self.pd.check(mode)?;
        loop {
            match op(&self.sock) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.pd.wait(mode)?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }

    /// A read of a byte stream whose short reads mean "the queue is now empty" (TCP): after
    /// such a read (or EAGAIN), the next read waits for a new edge without first trying a
    /// syscall that would fail with EAGAIN. That saves a syscall per message on
    /// request/response traffic, where Go (poll.FD.Read) always tries first.
    ///
    /// `op` returns the bytes read and, when known, the bytes still queued after the read
    /// (`TCP_INQ`): 0 there means drained even when the read filled the buffer.
    pub(crate) fn read_stream(
        &self,
        buf_len: usize,
        mut op: impl FnMut(&S) -> io::Result<(usize, Option<usize>)>,
    ) -> io::Result<usize> {
        crate::rt::sched::park::preempt_point();
        self.pd.check(Mode::Read)?;
        // After a wait, always try the syscall: the wait may have ended on a plain thread's
        // poll(2), which delivers no edge to the hint.
        let mut try_first = !self.pd.drained_unchanged();
        loop {
            if try_first {
                let seq = self.pd.read_edges();
                match op(&self.sock) {
                    Ok((n, left)) if n > 0 && (n < buf_len || left == Some(0)) => {
                        self.pd.set_drained(seq);
                        return Ok(n);
                    }
                    Ok((n, _)) => {
                        self.pd.clear_drained();
                        return Ok(n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.pd.set_drained(seq),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
            self.pd.wait(Mode::Read)?;
            try_first = true;
        }
    }

    pub(crate) fn set_deadline(&self, mode: Mode, t: Option<Instant>) {
        self.pd.set_deadline(mode, t)
    }
}

impl<S: AsRawFd> NetFd<S> {
    /// Takes the socket back: deregistered from the poller (waiters get "use of closed
    /// network connection"), still non-blocking.
    pub(crate) fn into_inner(self) -> S {
        let me = std::mem::ManuallyDrop::new(self);
        me.pd.close();
        // SAFETY: `me` is never used or dropped again (ManuallyDrop), so the socket is moved
        // out exactly once; `pd` is a `&'static`, nothing to drop.
        unsafe { std::ptr::read(&me.sock) }
    }
}

/// Conversions between a gort socket type and its std twin, and the fd traits: `from_std`,
/// `into_std` (made blocking again, as std expects), `AsFd`, `AsRawFd` is elsewhere,
/// `From<$gort> for OwnedFd`, `TryFrom<OwnedFd>` and `TryFrom<$std>` (registration with the
/// poller can fail).
macro_rules! std_conversions {
    ($gort:ident, $std:ty, $what:literal) => {
        impl $gort {
            #[doc = concat!("Wraps a std ", $what, " (made non-blocking here) so that its")]
            /// operations park the calling goroutine.
            pub fn from_std(s: $std) -> std::io::Result<$gort> {
                $gort::wrap(s)
            }

            #[doc = concat!("Gives the socket back as a std ", $what, ", blocking again, for")]
            /// crates that want std types. Goroutines parked on it get "use of closed network
            /// connection".
            pub fn into_std(self) -> std::io::Result<$std> {
                let s = self.fd.into_inner();
                s.set_nonblocking(false)?;
                Ok(s)
            }
        }

        impl std::os::fd::AsFd for $gort {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.fd.sock.as_fd()
            }
        }

        impl From<$gort> for std::os::fd::OwnedFd {
            fn from(s: $gort) -> std::os::fd::OwnedFd {
                s.fd.into_inner().into()
            }
        }

        impl TryFrom<std::os::fd::OwnedFd> for $gort {
            type Error = std::io::Error;
            fn try_from(fd: std::os::fd::OwnedFd) -> std::io::Result<$gort> {
                $gort::wrap(<$std>::from(fd))
            }
        }

        impl TryFrom<$std> for $gort {
            type Error = std::io::Error;
            fn try_from(s: $std) -> std::io::Result<$gort> {
                $gort::wrap(s)
            }
        }
    };
}
pub(crate) use std_conversions;

impl<S: AsRawFd> Drop for NetFd<S> {
    fn drop(&mut self) {
        // Before the socket (a field, dropped after this) closes the fd.
        self.pd.close();
    }
}
