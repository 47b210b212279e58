//! Helpers shared by the profiler tests (`mod common;` in each; a test uses what it needs).
#![allow(dead_code)]

use std::hint::black_box;
use std::time::Duration;

/// CPU time of the calling thread (a goroutine never changes thread once started).
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Spins for `budget` of this thread's CPU time, so that sample counts do not depend on how
/// loaded the machine is (the profiler's timers count CPU time too). Always inlined: each
/// test wraps it in an `#[inline(never)]` function whose name it looks for in the profile.
#[inline(always)]
pub fn spin_cpu(budget: Duration) -> u64 {
    let end = thread_cpu() + budget;
    let mut x = 1u64;
    while thread_cpu() < end {
        for i in 0..10_000u64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
        }
        x = black_box(x);
    }
    x
}

/// Spins until the wall clock reaches `until`, with no runtime call (a CPU hog as a stall
/// report or a profiler sees one). Always inlined, as [`spin_cpu`].
#[inline(always)]
pub fn spin_until(until: std::time::Instant) -> u64 {
    let mut x = 0u64;
    while std::time::Instant::now() < until {
        x = black_box(x.wrapping_mul(31).wrapping_add(7));
    }
    x
}

/// A GET of `target` from the HTTP server on 127.0.0.1:`port`: (the response head, the body).
#[allow(dead_code)]
pub fn http_get(port: u16, target: &str) -> (String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    (head, buf[split + 4..].to_vec())
}
