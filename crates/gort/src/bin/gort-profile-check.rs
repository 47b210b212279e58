//! Test helper for `tests/env_profiles.rs`: a plain `#[gort::main]` program (no flags, no
//! profiling code) that burns CPU in goroutines and allocates, so that `GORT_CPUPROFILE`,
//! `GORT_MEMPROFILE` and `GORT_TRACE` have something to show.

fn work(seed: u64) -> u64 {
    let mut v: Vec<Vec<u64>> = Vec::new();
    let mut x = seed;
    let t0 = std::time::Instant::now();
    while t0.elapsed() < std::time::Duration::from_millis(300) {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        v.push(vec![x; 8]);
        if v.len() > 1000 {
            v.clear();
        }
    }
    x
}

/// A plain thread reading `b` to its end; returns the bytes read.
fn drain(mut b: std::os::unix::net::UnixStream) -> std::thread::JoinHandle<usize> {
    use std::io::Read;
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut n = 0;
        while let Ok(k) = b.read(&mut buf) {
            if k == 0 {
                break;
            }
            n += k;
        }
        n
    })
}

/// `syscalls` mode: a writer that sends one byte per `write` (a server that flushes every
/// line), with a plain thread reading the other end: bound by system calls.
fn syscall_bound() {
    use std::io::Write;
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let reader = drain(b);
    let mut a = gort::net::UnixStream::from_std(a).unwrap();
    let t0 = std::time::Instant::now();
    let mut sent = 0;
    while t0.elapsed() < std::time::Duration::from_millis(500) {
        a.write_all(b"x").unwrap();
        sent += 1;
    }
    drop(a);
    assert_eq!(reader.join().unwrap(), sent);
    println!("done {sent}");
}

/// `libc-send` mode: one byte per call of glibc's own `send` (looked up past any interposer
/// with `dlsym(RTLD_NEXT)`), made by [`libc_send_one`] on a goroutine, with a plain thread
/// reading the other end. glibc's `__send` in a multi-threaded process pushes `rbp` and keeps
/// its cancellation state there: a frame-pointer walk from a sample inside it loses the caller.
fn libc_send_bound() {
    use std::os::fd::AsRawFd;
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let reader = drain(b);
    type Send = unsafe extern "C" fn(i32, *const libc::c_void, usize, i32) -> isize;
    // SAFETY: dlsym with a valid C string; the symbol, if found, is libc's send(2).
    let f = unsafe { libc::dlsym(libc::RTLD_NEXT, c"send".as_ptr()) };
    assert!(!f.is_null(), "libc's send");
    // SAFETY: libc's `send` has this signature.
    let send: Send = unsafe { std::mem::transmute::<*mut libc::c_void, Send>(f) };
    let t0 = std::time::Instant::now();
    let mut sent = 0;
    while t0.elapsed() < std::time::Duration::from_millis(500) {
        sent += libc_send_one(send, a.as_raw_fd());
    }
    drop(a);
    assert_eq!(reader.join().unwrap(), sent);
    println!("done {sent}");
}

#[inline(never)]
fn libc_send_one(
    send: unsafe extern "C" fn(i32, *const libc::c_void, usize, i32) -> isize,
    fd: i32,
) -> usize {
    // SAFETY: `fd` is an open socket and the buffer is one valid byte.
    let r = unsafe { send(fd, b"x".as_ptr().cast(), 1, 0) };
    assert_eq!(r, 1, "send: {}", std::io::Error::last_os_error());
    std::hint::black_box(r) as usize
}

#[gort::main]
fn main() {
    if std::env::args().nth(1).as_deref() == Some("syscalls") {
        return syscall_bound();
    }
    if std::env::args().nth(1).as_deref() == Some("libc-send") {
        return libc_send_bound();
    }
    let hs: Vec<_> = (0..2).map(|i| gort::go(move || work(i))).collect();
    let sum: u64 = hs
        .into_iter()
        .map(|h| h.join().unwrap())
        .fold(0, u64::wrapping_add);
    println!("done {}", sum % 7);
}
