//! TCP reads that also report how many bytes stay queued (Linux's `TCP_INQ`).
//!
//! The drained hint (`fd.rs::read_stream`) needs to know when a read emptied the receive
//! queue. A short read says so; a read that fills the caller's buffer exactly does not, and
//! request/response code often reads exactly the size it expects (`read_exact` of a header or
//! a fixed-size message). With `TCP_INQ` on, every `recvmsg` carries a `TCP_CM_INQ` control
//! message holding the bytes left after it: 0 means drained, so the next read can wait for an
//! edge instead of making a syscall that fails with EAGAIN. Kernels without it (before 4.18)
//! refuse the option and reads fall back to plain short-read detection.

use std::io;
use std::os::fd::RawFd;

/// Turns `TCP_INQ` on for `fd`; false if the kernel does not know it.
pub(crate) fn enable(fd: RawFd) -> bool {
    let one: libc::c_int = 1;
    // SAFETY: `fd` is an open socket owned by the caller; the option value is a valid c_int
    // whose size we pass.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INQ,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    r == 0
}

/// Reads into `buf` with `recvmsg`; returns the byte count and, when the kernel sent it, the
/// number of bytes still queued after this read.
pub(crate) fn recv(fd: RawFd, buf: &mut [u8]) -> io::Result<(usize, Option<usize>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // Room for one cmsghdr with an int (u64s keep it aligned for cmsghdr).
    let mut cbuf = [0u64; 4];
    // SAFETY: msghdr is plain old data; all-zero is a valid (empty) value, filled in below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cbuf) as _;
    // SAFETY: `msg` points at one iovec over `buf` (valid for writes of its length) and at
    // `cbuf` (valid for writes of msg_controllen bytes); both outlive the call.
    let n = unsafe { libc::recvmsg(fd, &mut msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut inq = None;
    // SAFETY: the CMSG_* macros walk the control buffer the kernel filled, within
    // msg_controllen (which the kernel set to the bytes it wrote).
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            let h = &*c;
            if h.cmsg_level == libc::IPPROTO_TCP && h.cmsg_type == libc::TCP_CM_INQ {
                let v = libc::CMSG_DATA(c).cast::<libc::c_int>().read_unaligned();
                inq = usize::try_from(v).ok();
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok((n as usize, inq))
}

/// A plain `recv` (no control message: cheaper than `recvmsg` in the kernel), for reads
/// whose shortness alone tells whether they drained the queue.
pub(crate) fn recv_plain(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of its length for the duration of the call.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    #[test]
    fn reports_bytes_left_after_each_read() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut a = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (b, _) = l.accept().unwrap();
        if !enable(b.as_raw_fd()) {
            eprintln!("skipped: this kernel has no TCP_INQ");
            return;
        }
        a.write_all(&[7u8; 100]).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mut buf = [0u8; 64];
        assert_eq!(recv(b.as_raw_fd(), &mut buf).unwrap(), (64, Some(36)));
        assert_eq!(recv(b.as_raw_fd(), &mut buf).unwrap(), (36, Some(0)));
    }
}
