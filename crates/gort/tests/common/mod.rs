//! Helpers shared by the profiler tests (`mod common;` in each).

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
