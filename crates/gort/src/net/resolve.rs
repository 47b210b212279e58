//! Name resolution off the P: `getaddrinfo` blocks its thread, so it runs on the blocking
//! pool (`gort::blocking`), as Go's cgo resolver runs on a thread of its own.

use std::any::Any;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// Resolves `addr` to socket addresses. A `SocketAddr` (or a slice/array of them, or a
/// string that parses as one) resolves inline; anything else runs `to_socket_addrs` on the
/// blocking pool so the calling goroutine's P keeps running others.
pub fn resolve<A>(addr: A) -> io::Result<Vec<SocketAddr>>
where
    A: ToSocketAddrs + Send + 'static,
{
    let any = &addr as &dyn Any;
    if let Some(a) = any.downcast_ref::<SocketAddr>() {
        return Ok(vec![*a]);
    }
    if let Some(s) = any.downcast_ref::<&'static str>() {
        if let Ok(a) = s.parse::<SocketAddr>() {
            return Ok(vec![a]);
        }
    }
    if let Some(s) = any.downcast_ref::<String>() {
        if let Ok(a) = s.parse::<SocketAddr>() {
            return Ok(vec![a]);
        }
    }
    crate::blocking(move || addr.to_socket_addrs().map(|it| it.collect()))
}

/// Tries `f` on each address in turn, returning the first success or the last error.
pub(crate) fn each_addr<T>(
    addrs: Vec<SocketAddr>,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no addresses to use");
    for a in addrs {
        match f(a) {
            Ok(v) => return Ok(v),
            Err(e) => last = e,
        }
    }
    Err(last)
}
