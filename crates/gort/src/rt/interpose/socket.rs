//! Socket I/O: `recv`, `recvfrom`, `recvmsg`, `read`, `readv`, `send`, `sendto`, `sendmsg`,
//! `write`, `writev`, `accept`, `accept4`, `connect` and `poll`, as std's `net` and
//! socket-based crates call them.
//!
//! In a goroutine, on a socket in blocking mode: the call is first made with `MSG_DONTWAIT`
//! (a flag of the call, so the descriptor's mode, as other threads and processes see it,
//! never changes). Done, or failed with anything but `EAGAIN`: that is the answer. `EAGAIN`:
//! the goroutine waits for readiness on the netpoller, until the socket's `SO_RCVTIMEO` or
//! `SO_SNDTIMEO` deadline if one is set (then the answer is `EAGAIN`, as the kernel gives it),
//! and tries again. A partial send on a stream socket goes on sending the rest, as a blocking
//! send does. The wait registers the descriptor with the poller for its length only (a
//! table of waiting descriptors with a count of waiters each), so a descriptor closed or
//! reused by its owner later leaves nothing behind.
//!
//! Passed straight to the kernel: any call outside a goroutine, on a descriptor in
//! non-blocking mode (its caller handles `EAGAIN`), on gort's own sockets
//! (`netpoll::desc::is_owned`), and `read`/`write`/`readv`/`writev` on descriptors that
//! are not sockets (the `MSG_DONTWAIT` attempt fails with `ENOTSOCK`: files, pipes, ttys
//! keep their blocking behaviour). Run on the blocking pool: a blocking `connect` (no flag
//! makes one call non-blocking), `recv` with `MSG_WAITALL`, a `poll` of several descriptors
//! or of a descriptor the poller cannot watch. `accept` on a blocking listener waits for
//! readability, then accepts (a connection taken by another thread in between makes that
//! accept block, as it would have).
//!
//! Differences a caller can see: none in results; a wait is never cut short by a signal
//! (no `EINTR`).

use std::collections::HashMap;
use std::os::fd::RawFd;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use libc::{c_int, c_void, iovec, msghdr, nfds_t, pollfd, size_t, sockaddr, socklen_t, ssize_t};

use super::{may_park, set_errno};
use crate::rt::netpoll::desc::{is_owned, Mode, PollDesc};

fn errno() -> c_int {
    // SAFETY: reading the calling thread's errno slot.
    unsafe { *libc::__errno_location() }
}

// ---- the kernel's calls, as libc's wrappers make them ----

/// # Safety
/// As `recvfrom(2)`.
unsafe fn sys_recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    alen: *mut socklen_t,
) -> ssize_t {
    // SAFETY: the caller's contract.
    unsafe { libc::syscall(libc::SYS_recvfrom, fd, buf, len, flags, addr, alen) as ssize_t }
}

/// # Safety
/// As `sendto(2)`.
unsafe fn sys_sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    alen: socklen_t,
) -> ssize_t {
    // SAFETY: the caller's contract.
    unsafe { libc::syscall(libc::SYS_sendto, fd, buf, len, flags, addr, alen) as ssize_t }
}

/// # Safety
/// As `recvmsg(2)`.
unsafe fn sys_recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t {
    // SAFETY: the caller's contract.
    unsafe { libc::syscall(libc::SYS_recvmsg, fd, msg, flags) as ssize_t }
}

/// # Safety
/// As `sendmsg(2)`.
unsafe fn sys_sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    // SAFETY: the caller's contract.
    unsafe { libc::syscall(libc::SYS_sendmsg, fd, msg, flags) as ssize_t }
}

// ---- when and how to wait ----

/// After an attempt failed with `EAGAIN` on `fd`: `None` if the caller must get `EAGAIN`
/// (a non-blocking descriptor, or one of gort's), else the deadline of a wait (`Some(None)`:
/// none), from `SO_RCVTIMEO`/`SO_SNDTIMEO`.
fn wait_plan(fd: c_int, mode: Mode) -> Option<Option<Instant>> {
    if is_owned(fd) {
        return None;
    }
    // SAFETY: F_GETFL takes no argument and only reads the descriptor's flags.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if fl < 0 || fl & libc::O_NONBLOCK != 0 {
        return None;
    }
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    let mut len = std::mem::size_of::<libc::timeval>() as socklen_t;
    let opt = match mode {
        Mode::Read => libc::SO_RCVTIMEO,
        Mode::Write => libc::SO_SNDTIMEO,
    };
    // SAFETY: `tv` and `len` are valid and sized for the option.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            &mut tv as *mut libc::timeval as *mut c_void,
            &mut len,
        )
    };
    if r != 0 || (tv.tv_sec == 0 && tv.tv_usec == 0) {
        return Some(None);
    }
    let d = Duration::new(tv.tv_sec as u64, 0) + Duration::from_micros(tv.tv_usec as u64);
    Some(Some(Instant::now() + d))
}

/// Descriptors with goroutines waiting in an interposed call, and how many.
static WAITING: Mutex<Option<HashMap<RawFd, (&'static PollDesc, usize)>>> = Mutex::new(None);

/// Why a wait ended without readiness.
enum WaitError {
    /// The deadline passed: the call fails with `EAGAIN`.
    TimedOut,
    /// The poller cannot watch this descriptor: make the call on the blocking pool.
    Unpollable,
}

/// Waits, parking the goroutine, until `fd` may be ready in `mode` or `deadline` passes.
fn wait(fd: c_int, mode: Mode, deadline: Option<Instant>) -> Result<(), WaitError> {
    let pd = {
        let mut t = WAITING.lock().unwrap_or_else(|e| e.into_inner());
        let t = t.get_or_insert_with(HashMap::new);
        match t.get_mut(&fd) {
            Some((pd, n)) => {
                *n += 1;
                *pd
            }
            None => {
                let pd = PollDesc::open_any(fd).map_err(|_| WaitError::Unpollable)?;
                t.insert(fd, (pd, 1));
                pd
            }
        }
    };
    if deadline.is_some() {
        pd.set_deadline(mode, deadline);
    }
    let r = pd.wait(mode);
    if deadline.is_some() {
        pd.set_deadline(mode, None);
    }
    {
        let mut t = WAITING.lock().unwrap_or_else(|e| e.into_inner());
        let t = t.get_or_insert_with(HashMap::new);
        if let Some((_, n)) = t.get_mut(&fd) {
            *n -= 1;
            if *n == 0 {
                t.remove(&fd);
                pd.close();
            }
        }
    }
    r.map_err(|_| WaitError::TimedOut)
}

/// Runs `f` (a blocking call returning -1 with `errno` on failure) on the blocking pool,
/// parking the goroutine, and passes its `errno` back.
fn on_pool(f: impl FnOnce() -> isize + Send + 'static) -> isize {
    let (r, e) = crate::rt::sched::blocking::blocking(move || {
        let r = f();
        (r, errno())
    });
    if r < 0 {
        set_errno(e);
    }
    r
}

/// A raw pointer the blocking pool may carry: the goroutine that owns what it points at is
/// parked until the pool's call returns.
#[derive(Clone, Copy)]
struct Carried(usize);

/// The shape of every interposed receive or send: `attempt(flags)` makes the call with
/// `MSG_DONTWAIT` added; returns its result, waiting and retrying while it is `EAGAIN` on a
/// blocking socket. `Err(())`: not a socket (`ENOTSOCK`), the caller makes its plain call.
fn with_waits(fd: c_int, mode: Mode, mut attempt: impl FnMut() -> ssize_t) -> Result<ssize_t, ()> {
    let mut plan: Option<Option<Instant>> = None;
    loop {
        let r = attempt();
        if r >= 0 {
            return Ok(r);
        }
        let e = errno();
        if e == libc::ENOTSOCK {
            return Err(());
        }
        if e != libc::EAGAIN {
            return Ok(r);
        }
        let deadline = match plan {
            Some(d) => d,
            None => match wait_plan(fd, mode) {
                None => return Ok(r), // non-blocking: the caller gets EAGAIN
                Some(d) => *plan.insert(d),
            },
        };
        match wait(fd, mode, deadline) {
            Ok(()) => {}
            Err(WaitError::TimedOut) => {
                set_errno(libc::EAGAIN);
                return Ok(-1);
            }
            Err(WaitError::Unpollable) => return Err(()),
        }
    }
}

/// A send on a blocking stream socket sends everything (unless an error or the timeout
/// stops it), as the kernel's blocking send does: continue after a partial send.
fn send_all(
    fd: c_int,
    len: usize,
    mut attempt: impl FnMut(usize) -> ssize_t,
) -> Result<ssize_t, ()> {
    let mut done = 0usize;
    loop {
        let r = with_waits(fd, Mode::Write, || attempt(done))?;
        if r < 0 {
            return Ok(if done > 0 { done as ssize_t } else { r });
        }
        done += r as usize;
        if done >= len || r == 0 {
            return Ok(done as ssize_t);
        }
        // Partial: only a stream socket does this. Non-blocking ones return it as is.
        if wait_plan(fd, Mode::Write).is_none() {
            return Ok(done as ssize_t);
        }
    }
}

// ---- the interposed calls ----

/// `recvfrom(2)`.
///
/// # Safety
/// libc's contract for `recvfrom`.
#[no_mangle]
pub unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    alen: *mut socklen_t,
) -> ssize_t {
    if may_park() && flags & (libc::MSG_DONTWAIT | libc::MSG_WAITALL) == 0 {
        // SAFETY (each attempt): the caller's arguments, with one more flag.
        let r = with_waits(fd, Mode::Read, || unsafe {
            sys_recvfrom(fd, buf, len, flags | libc::MSG_DONTWAIT, addr, alen)
        });
        if let Ok(r) = r {
            return r;
        }
    } else if may_park() && flags & libc::MSG_WAITALL != 0 {
        let (b, a, l) = (
            Carried(buf as usize),
            Carried(addr as usize),
            Carried(alen as usize),
        );
        return on_pool(move || {
            // SAFETY: the caller's arguments; the caller is parked until this returns.
            unsafe {
                sys_recvfrom(
                    fd,
                    b.0 as *mut c_void,
                    len,
                    flags,
                    a.0 as *mut sockaddr,
                    l.0 as *mut socklen_t,
                )
            }
        });
    }
    // SAFETY: the caller's contract.
    unsafe { sys_recvfrom(fd, buf, len, flags, addr, alen) }
}

/// `recv(2)`.
///
/// # Safety
/// libc's contract for `recv`.
#[no_mangle]
pub unsafe extern "C" fn recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t {
    // SAFETY: the caller's contract; no address wanted.
    unsafe {
        recvfrom(
            fd,
            buf,
            len,
            flags,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    }
}

/// `read(2)`: a socket's as `recv`, anything else the kernel's.
///
/// # Safety
/// libc's contract for `read`.
#[no_mangle]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, len: size_t) -> ssize_t {
    if may_park() {
        // SAFETY (each attempt): the caller's arguments as a receive.
        let r = with_waits(fd, Mode::Read, || unsafe {
            sys_recvfrom(
                fd,
                buf,
                len,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        });
        if let Ok(r) = r {
            return r;
        }
    }
    // SAFETY: the caller's contract.
    unsafe { libc::syscall(libc::SYS_read, fd, buf, len) as ssize_t }
}

/// `recvmsg(2)`.
///
/// # Safety
/// libc's contract for `recvmsg`.
#[no_mangle]
pub unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t {
    if may_park() && flags & (libc::MSG_DONTWAIT | libc::MSG_WAITALL) == 0 {
        // SAFETY (each attempt): the caller's arguments, with one more flag.
        let r = with_waits(fd, Mode::Read, || unsafe {
            sys_recvmsg(fd, msg, flags | libc::MSG_DONTWAIT)
        });
        if let Ok(r) = r {
            return r;
        }
    }
    // SAFETY: the caller's contract.
    unsafe { sys_recvmsg(fd, msg, flags) }
}

/// `readv(2)`: a socket's as `recvmsg`, anything else the kernel's.
///
/// # Safety
/// libc's contract for `readv`.
#[no_mangle]
pub unsafe extern "C" fn readv(fd: c_int, iov: *const iovec, n: c_int) -> ssize_t {
    if may_park() && n >= 0 {
        // SAFETY: a zeroed msghdr is valid; it carries the caller's iovec array.
        let mut m: msghdr = unsafe { std::mem::zeroed() };
        m.msg_iov = iov as *mut iovec;
        m.msg_iovlen = n as _;
        // SAFETY (each attempt): the caller's buffers, as a receive.
        let r = with_waits(fd, Mode::Read, || unsafe {
            sys_recvmsg(fd, &mut m, libc::MSG_DONTWAIT)
        });
        if let Ok(r) = r {
            return r;
        }
    }
    // SAFETY: the caller's contract.
    unsafe { libc::syscall(libc::SYS_readv, fd, iov, n) as ssize_t }
}

/// `sendto(2)`.
///
/// # Safety
/// libc's contract for `sendto`.
#[no_mangle]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    alen: socklen_t,
) -> ssize_t {
    if may_park() && flags & libc::MSG_DONTWAIT == 0 {
        let r = send_all(fd, len, |done| {
            // SAFETY: the caller's arguments, past what was sent, with one more flag.
            unsafe {
                sys_sendto(
                    fd,
                    (buf as *const u8).add(done) as *const c_void,
                    len - done,
                    flags | libc::MSG_DONTWAIT,
                    addr,
                    alen,
                )
            }
        });
        if let Ok(r) = r {
            return r;
        }
    }
    // SAFETY: the caller's contract.
    unsafe { sys_sendto(fd, buf, len, flags, addr, alen) }
}

/// `send(2)`.
///
/// # Safety
/// libc's contract for `send`.
#[no_mangle]
pub unsafe extern "C" fn send(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> ssize_t {
    // SAFETY: the caller's contract; no address.
    unsafe { sendto(fd, buf, len, flags, std::ptr::null(), 0) }
}

/// `write(2)`: a socket's as `send` (without `SIGPIPE`'s suppression: a write raises it, as
/// the kernel's does), anything else the kernel's.
///
/// # Safety
/// libc's contract for `write`.
#[no_mangle]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, len: size_t) -> ssize_t {
    if may_park() {
        let r = send_all(fd, len, |done| {
            // SAFETY: the caller's buffer past what was sent, as a send.
            unsafe {
                sys_sendto(
                    fd,
                    (buf as *const u8).add(done) as *const c_void,
                    len - done,
                    libc::MSG_DONTWAIT,
                    std::ptr::null(),
                    0,
                )
            }
        });
        if let Ok(r) = r {
            return r;
        }
    }
    // SAFETY: the caller's contract.
    unsafe { libc::syscall(libc::SYS_write, fd, buf, len) as ssize_t }
}

/// `sendmsg(2)`.
///
/// # Safety
/// libc's contract for `sendmsg`.
#[no_mangle]
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    if may_park() && flags & libc::MSG_DONTWAIT == 0 {
        // SAFETY (each attempt): the caller's arguments, with one more flag. (A partial
        // send of a message is returned as is: the iovec array is the caller's.)
        let r = with_waits(fd, Mode::Write, || unsafe {
            sys_sendmsg(fd, msg, flags | libc::MSG_DONTWAIT)
        });
        if let Ok(r) = r {
            return r;
        }
    }
    // SAFETY: the caller's contract.
    unsafe { sys_sendmsg(fd, msg, flags) }
}

/// `writev(2)`: a socket's as `sendmsg`, anything else the kernel's.
///
/// # Safety
/// libc's contract for `writev`.
#[no_mangle]
pub unsafe extern "C" fn writev(fd: c_int, iov: *const iovec, n: c_int) -> ssize_t {
    if may_park() && n >= 0 {
        // SAFETY: a zeroed msghdr is valid; it carries the caller's iovec array.
        let mut m: msghdr = unsafe { std::mem::zeroed() };
        m.msg_iov = iov as *mut iovec;
        m.msg_iovlen = n as _;
        // SAFETY (each attempt): the caller's buffers, as a send.
        let r = with_waits(fd, Mode::Write, || unsafe {
            sys_sendmsg(fd, &m, libc::MSG_DONTWAIT)
        });
        if let Ok(r) = r {
            return r;
        }
    }
    // SAFETY: the caller's contract.
    unsafe { libc::syscall(libc::SYS_writev, fd, iov, n) as ssize_t }
}

/// `accept4(2)`.
///
/// # Safety
/// libc's contract for `accept4`.
#[no_mangle]
pub unsafe extern "C" fn accept4(
    fd: c_int,
    addr: *mut sockaddr,
    alen: *mut socklen_t,
    flags: c_int,
) -> c_int {
    if may_park() {
        if let Some(deadline) = wait_plan(fd, Mode::Read) {
            loop {
                let mut p = pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd, no wait.
                let ready = unsafe { libc::syscall(libc::SYS_poll, &mut p, 1, 0) } != 0;
                if ready {
                    break;
                }
                match wait(fd, Mode::Read, deadline) {
                    Ok(()) => {}
                    Err(WaitError::TimedOut) => {
                        set_errno(libc::EAGAIN);
                        return -1;
                    }
                    Err(WaitError::Unpollable) => break,
                }
            }
        }
    }
    // SAFETY: the caller's contract.
    unsafe { libc::syscall(libc::SYS_accept4, fd, addr, alen, flags) as c_int }
}

/// `accept(2)`.
///
/// # Safety
/// libc's contract for `accept`.
#[no_mangle]
pub unsafe extern "C" fn accept(fd: c_int, addr: *mut sockaddr, alen: *mut socklen_t) -> c_int {
    // SAFETY: the caller's contract; no flags.
    unsafe { accept4(fd, addr, alen, 0) }
}

/// `connect(2)`: on a blocking socket, from a goroutine, made on the blocking pool.
///
/// # Safety
/// libc's contract for `connect`.
#[no_mangle]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, alen: socklen_t) -> c_int {
    if may_park() && !is_owned(fd) {
        // SAFETY: F_GETFL only reads the descriptor's flags.
        let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if fl >= 0 && fl & libc::O_NONBLOCK == 0 {
            let a = Carried(addr as usize);
            return on_pool(move || {
                // SAFETY: the caller's arguments; the caller is parked until this returns.
                unsafe {
                    libc::syscall(libc::SYS_connect, fd, a.0 as *const sockaddr, alen) as isize
                }
            }) as c_int;
        }
    }
    // SAFETY: the caller's contract.
    unsafe { libc::syscall(libc::SYS_connect, fd, addr, alen) as c_int }
}

/// `poll(2)`: no descriptors is a sleep; one descriptor waits on the netpoller; more, on the
/// blocking pool.
///
/// # Safety
/// libc's contract for `poll`.
#[no_mangle]
pub unsafe extern "C" fn poll(fds: *mut pollfd, n: nfds_t, timeout: c_int) -> c_int {
    // SAFETY (every syscall here): the caller's array and count.
    let sys = |t: c_int| unsafe { libc::syscall(libc::SYS_poll, fds, n, t) as c_int };
    if !may_park() || timeout == 0 {
        return sys(timeout);
    }
    let deadline = (timeout > 0).then(|| Instant::now() + Duration::from_millis(timeout as u64));
    if n == 0 {
        match deadline {
            Some(d) => crate::rt::timer::sleep(d.saturating_duration_since(Instant::now())),
            None => crate::rt::sched::park::block_forever(),
        }
        return 0;
    }
    // SAFETY: n >= 1, so the caller's array has a first element (copied out: the kernel
    // writes its `revents` below).
    let (pfd, events) = unsafe { ((*fds).fd, (*fds).events) };
    let mode = match (events & libc::POLLIN != 0, events & libc::POLLOUT != 0) {
        (true, false) => Some(Mode::Read),
        (false, true) => Some(Mode::Write),
        _ => None,
    };
    if n == 1 && !is_owned(pfd) {
        if let Some(mode) = mode {
            loop {
                let r = sys(0);
                if r != 0 {
                    return r;
                }
                match wait(pfd, mode, deadline) {
                    Ok(()) => {}
                    Err(WaitError::TimedOut) => return sys(0),
                    Err(WaitError::Unpollable) => break,
                }
            }
        }
    }
    let f = Carried(fds as usize);
    on_pool(move || {
        // SAFETY: the caller's array; the caller is parked until this returns.
        unsafe { libc::syscall(libc::SYS_poll, f.0 as *mut pollfd, n, timeout) as isize }
    }) as c_int
}

/// See `super::link`.
pub(crate) fn link() {
    for f in [
        recvfrom as *const (),
        recv as *const (),
        read as *const (),
        recvmsg as *const (),
        readv as *const (),
        sendto as *const (),
        send as *const (),
        write as *const (),
        sendmsg as *const (),
        writev as *const (),
        accept4 as *const (),
        accept as *const (),
        connect as *const (),
        poll as *const (),
    ] {
        std::hint::black_box(f);
    }
}
