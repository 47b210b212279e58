//! UDP: `UdpSocket` with parking send/receive and deadlines.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

use super::fd::NetFd;
use super::resolve::{each_addr, resolve};
use crate::rt::netpoll::desc::Mode;

/// A UDP socket (Go's `net.UDPConn`).
pub struct UdpSocket {
    fd: NetFd<std::net::UdpSocket>,
}

impl std::fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpSocket")
            .field("addr", &self.local_addr().ok())
            .finish()
    }
}

super::fd::std_conversions!(UdpSocket, std::net::UdpSocket, "socket");

impl UdpSocket {
    fn wrap(s: std::net::UdpSocket) -> io::Result<UdpSocket> {
        s.set_nonblocking(true)?;
        Ok(UdpSocket { fd: NetFd::new(s)? })
    }

    /// Binds to `addr`.
    pub fn bind<A: ToSocketAddrs + Send + 'static>(addr: A) -> io::Result<UdpSocket> {
        each_addr(resolve(addr)?, |a| {
            UdpSocket::wrap(std::net::UdpSocket::bind(a)?)
        })
    }

    /// Sets the default peer for `send`/`recv`.
    pub fn connect<A: ToSocketAddrs + Send + 'static>(&self, addr: A) -> io::Result<()> {
        each_addr(resolve(addr)?, |a| self.fd.sock.connect(a))
    }

    /// Sends a datagram to `addr`.
    pub fn send_to(&self, buf: &[u8], addr: SocketAddr) -> io::Result<usize> {
        self.fd.io(Mode::Write, |s| s.send_to(buf, addr))
    }

    /// Receives a datagram, parking until one arrives.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.fd.io(Mode::Read, |s| s.recv_from(buf))
    }

    /// Sends to the connected peer.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.fd.io(Mode::Write, |s| s.send(buf))
    }

    /// Receives from the connected peer.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd.io(Mode::Read, |s| s.recv(buf))
    }

    /// Local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.sock.local_addr()
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

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.sock.as_raw_fd()
    }
}
