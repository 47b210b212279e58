//! TCP: `TcpListener` and `TcpStream`, blocking-style methods that park the goroutine.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

use super::fd::NetFd;
use super::resolve::{each_addr, resolve};
use crate::rt::netpoll::desc::Mode;

super::fd::std_conversions!(TcpListener, std::net::TcpListener, "listener");
super::fd::std_conversions!(TcpStream, std::net::TcpStream, "stream");

/// A TCP socket server, listening for connections (Go's `net.TCPListener`).
pub struct TcpListener {
    fd: NetFd<std::net::TcpListener>,
}

impl std::fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpListener")
            .field("addr", &self.local_addr().ok())
            .finish()
    }
}

impl TcpListener {
    /// Binds to `addr` (backlog 1024, SO_REUSEADDR as Go sets it).
    pub fn bind<A: ToSocketAddrs + Send + 'static>(addr: A) -> io::Result<TcpListener> {
        each_addr(resolve(addr)?, |a| {
            let s = Socket::new(Domain::for_address(a), Type::STREAM.cloexec(), None)?;
            s.set_reuse_address(true)?;
            s.bind(&a.into())?;
            s.listen(1024)?;
            TcpListener::wrap(s.into())
        })
    }

    fn wrap(l: std::net::TcpListener) -> io::Result<TcpListener> {
        l.set_nonblocking(true)?;
        Ok(TcpListener { fd: NetFd::new(l)? })
    }

    /// Waits for a connection. Errors such as EMFILE are returned as they are; see
    /// [`serve`](super::serve) for an accept loop that backs off on them.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (s, a) = self.fd.io(Mode::Read, |l| l.accept())?;
        // Its handlers are long-lived and independent: spread them (`Placement::Auto`).
        crate::rt::sched::spawn::mark_acceptor();
        Ok((TcpStream::wrap(s)?, a))
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.sock.local_addr()
    }

    /// Deadline for `accept` (None clears it).
    pub fn set_deadline(&self, t: Option<Instant>) {
        self.fd.set_deadline(Mode::Read, t)
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.sock.as_raw_fd()
    }
}

/// A TCP connection (Go's `net.TCPConn`). `Read` and `Write` are implemented for it and for
/// `&TcpStream`, so one goroutine may read while another writes (share it in an `Arc`).
pub struct TcpStream {
    fd: NetFd<std::net::TcpStream>,
    /// `TCP_INQ` is on: reads learn whether they drained the receive queue (`inq.rs`).
    inq: bool,
    /// The last read filled its buffer, so the next one asks for `TCP_INQ` (a `recvmsg` with
    /// a control message); after a short read, which says "drained" by itself, reads use the
    /// cheaper plain `recv`. Readers with buffers larger than their messages (most servers)
    /// so skip `recvmsg`'s extra cost; exact-size readers keep the hint.
    inq_next: AtomicBool,
}

impl std::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .finish()
    }
}

impl TcpStream {
    /// Connects to `addr`, parking until the handshake completes. TCP_NODELAY is set, as Go
    /// does.
    pub fn connect<A: ToSocketAddrs + Send + 'static>(addr: A) -> io::Result<TcpStream> {
        each_addr(resolve(addr)?, |a| TcpStream::connect_addr(a, None))
    }

    /// Connects with a time limit (TimedOut when it passes).
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        TcpStream::connect_addr(*addr, Some(Instant::now() + timeout))
    }

    fn connect_addr(a: SocketAddr, deadline: Option<Instant>) -> io::Result<TcpStream> {
        let s = Socket::new(
            Domain::for_address(a),
            Type::STREAM.nonblocking().cloexec(),
            None,
        )?;
        let fd = NetFd::new(std::net::TcpStream::from(s))?;
        fd.set_deadline(Mode::Write, deadline);
        let sock = socket2::SockRef::from(&fd.sock);
        match sock.connect(&a.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
                // Writable means the handshake finished, one way or the other.
                fd.io(Mode::Write, |s| {
                    let sr = socket2::SockRef::from(s);
                    if let Some(err) = sr.take_error()? {
                        return Err(err);
                    }
                    match s.peer_addr() {
                        Ok(_) => Ok(()),
                        Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                            Err(io::ErrorKind::WouldBlock.into())
                        }
                        Err(e) => Err(e),
                    }
                })?;
            }
            Err(e) => return Err(e),
        }
        fd.set_deadline(Mode::Write, None);
        fd.sock.set_nodelay(true)?;
        let inq = super::inq::enable(fd.sock.as_raw_fd());
        Ok(TcpStream {
            fd,
            inq,
            inq_next: AtomicBool::new(true),
        })
    }

    fn wrap(s: std::net::TcpStream) -> io::Result<TcpStream> {
        s.set_nonblocking(true)?;
        let _ = s.set_nodelay(true);
        let inq = super::inq::enable(s.as_raw_fd());
        Ok(TcpStream {
            fd: NetFd::new(s)?,
            inq,
            inq_next: AtomicBool::new(true),
        })
    }

    /// Remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.fd.sock.peer_addr()
    }

    /// Local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.sock.local_addr()
    }

    /// Shuts down one or both directions (e.g. `Write` sends FIN; the peer reads EOF).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.fd.sock.shutdown(how)
    }

    /// TCP_NODELAY.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.fd.sock.set_nodelay(on)
    }

    /// SO_LINGER (`Some(0)` makes close send a reset).
    pub fn set_linger(&self, d: Option<Duration>) -> io::Result<()> {
        socket2::SockRef::from(&self.fd.sock).set_linger(d)
    }

    /// Deadline for reads: a read waiting past it fails with `TimedOut`; one started after it
    /// fails at once. `None` clears it. Takes effect for a read already waiting.
    pub fn set_read_deadline(&self, t: Option<Instant>) {
        self.fd.set_deadline(Mode::Read, t)
    }

    /// Deadline for writes (see [`TcpStream::set_read_deadline`]).
    pub fn set_write_deadline(&self, t: Option<Instant>) {
        self.fd.set_deadline(Mode::Write, t)
    }

    /// Both deadlines.
    pub fn set_deadline(&self, t: Option<Instant>) {
        self.set_read_deadline(t);
        self.set_write_deadline(t);
    }

    fn read_impl(&self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len();
        if !self.inq {
            return self.fd.read_stream(len, |mut s| Ok((s.read(buf)?, None)));
        }
        let n = self.fd.read_stream(len, |s| {
            if self.inq_next.load(Relaxed) {
                super::inq::recv(s.as_raw_fd(), buf)
            } else {
                Ok((super::inq::recv_plain(s.as_raw_fd(), buf)?, None))
            }
        })?;
        self.inq_next.store(n == len && n > 0, Relaxed);
        Ok(n)
    }

    fn write_impl(&self, buf: &[u8]) -> io::Result<usize> {
        self.fd.io(Mode::Write, |mut s| s.write(buf))
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.sock.as_raw_fd()
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_impl(buf)
    }
}

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_impl(buf)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_impl(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_impl(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
