//! Unix domain stream sockets: `UnixListener`, `UnixStream`.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net as stdunix;
use std::path::Path;
use std::time::Instant;

use super::fd::NetFd;
use crate::rt::netpoll::desc::Mode;

/// A Unix socket server (Go's `net.UnixListener`).
pub struct UnixListener {
    fd: NetFd<stdunix::UnixListener>,
}

super::fd::std_conversions!(UnixListener, stdunix::UnixListener, "Unix listener");
super::fd::std_conversions!(UnixStream, stdunix::UnixStream, "Unix stream");

impl std::fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnixListener")
    }
}

impl UnixListener {
    /// Binds to the path `p` (which must not exist).
    pub fn bind<P: AsRef<Path>>(p: P) -> io::Result<UnixListener> {
        UnixListener::wrap(stdunix::UnixListener::bind(p)?)
    }

    fn wrap(l: stdunix::UnixListener) -> io::Result<UnixListener> {
        l.set_nonblocking(true)?;
        Ok(UnixListener { fd: NetFd::new(l)? })
    }

    /// Waits for a connection.
    pub fn accept(&self) -> io::Result<UnixStream> {
        let (s, _) = self.fd.io(Mode::Read, |l| l.accept())?;
        crate::rt::sched::spawn::mark_acceptor();
        UnixStream::wrap(s)
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.sock.as_raw_fd()
    }
}

/// A Unix stream connection; `Read`/`Write` also for `&UnixStream`.
pub struct UnixStream {
    fd: NetFd<stdunix::UnixStream>,
}

impl std::fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnixStream")
    }
}

impl UnixStream {
    /// Connects to the socket at `p` (a local connect completes or fails at once).
    pub fn connect<P: AsRef<Path>>(p: P) -> io::Result<UnixStream> {
        UnixStream::wrap(stdunix::UnixStream::connect(p)?)
    }

    /// A connected pair.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = stdunix::UnixStream::pair()?;
        Ok((UnixStream::wrap(a)?, UnixStream::wrap(b)?))
    }

    fn wrap(s: stdunix::UnixStream) -> io::Result<UnixStream> {
        s.set_nonblocking(true)?;
        Ok(UnixStream { fd: NetFd::new(s)? })
    }

    /// Shuts down one or both directions.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.fd.sock.shutdown(how)
    }

    /// Read deadline (None clears).
    pub fn set_read_deadline(&self, t: Option<Instant>) {
        self.fd.set_deadline(Mode::Read, t)
    }

    /// Write deadline (None clears).
    pub fn set_write_deadline(&self, t: Option<Instant>) {
        self.fd.set_deadline(Mode::Write, t)
    }
}

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.sock.as_raw_fd()
    }
}

impl Read for &UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd.io(Mode::Read, |mut s| s.read(buf))
    }
}

impl Read for UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for &UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.fd.io(Mode::Write, |mut s| s.write(buf))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
