//! An accept loop that survives fd exhaustion (Go's `net/http.Server.Serve` back-off).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use super::tcp::{TcpListener, TcpStream};

/// Errors after which accepting again may succeed (Go: `ne.Temporary()` in `Serve`).
pub fn is_temporary(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM | libc::ECONNABORTED)
    )
}

/// First and last back-off delays after a temporary accept error (5 ms doubling to 1 s).
pub const BACKOFF_MIN: Duration = Duration::from_millis(5);
/// See [`BACKOFF_MIN`].
pub const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Accepts connections forever, running `handler` in a new goroutine for each. On a
/// temporary error (EMFILE: out of file descriptors, ...) it sleeps 5 ms, doubling to 1 s
/// while errors continue, then keeps serving. Returns the first other error (e.g. a deadline
/// set with [`TcpListener::set_deadline`] passing).
pub fn serve<F>(l: &TcpListener, handler: F) -> io::Result<()>
where
    F: Fn(TcpStream) + Send + Sync + 'static,
{
    let handler = Arc::new(handler);
    let mut delay = Duration::ZERO;
    loop {
        match l.accept() {
            Ok((s, _)) => {
                delay = Duration::ZERO;
                let h = handler.clone();
                crate::go(move || h(s));
            }
            Err(e) if is_temporary(&e) => {
                delay = if delay.is_zero() {
                    BACKOFF_MIN
                } else {
                    (delay * 2).min(BACKOFF_MAX)
                };
                crate::time::sleep(delay);
            }
            Err(e) => return Err(e),
        }
    }
}
