//! The sleep family: `clock_nanosleep` (std's `thread::sleep`), `nanosleep`, `usleep`,
//! `sleep`. In a goroutine they park it on the runtime's timer heap
//! (`rt::timer::sleep`); elsewhere they make libc's system call.
//!
//! Differences from libc in a goroutine, both invisible to std: a sleep is never cut short
//! by a signal (no `EINTR`: gort's timer wakes the goroutine, not a signal), so the remaining
//! time written to `rem` is always zero; and a sleep past the end of a synctest bubble's fake
//! clock follows that clock, as `gort::time::sleep` does.

use std::time::Duration;

use libc::{c_int, c_long, c_uint, clockid_t, timespec};

use super::{may_park, set_errno};

/// A valid relative or absolute `timespec` as a duration, or `EINVAL`.
fn duration_of(ts: &timespec) -> Result<Duration, c_int> {
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return Err(libc::EINVAL);
    }
    Ok(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// The time left until the absolute `ts` on `clock`, or the error to return.
fn until(clock: clockid_t, ts: &timespec) -> Result<Duration, c_int> {
    let target = duration_of(ts)?;
    let mut now = timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec.
    if unsafe { libc::clock_gettime(clock, &mut now) } != 0 {
        return Err(libc::EINVAL);
    }
    let now = Duration::new(now.tv_sec as u64, now.tv_nsec as u32);
    Ok(target.saturating_sub(now))
}

fn zero(rem: *mut timespec) {
    if !rem.is_null() {
        // SAFETY: the caller passed a writable `rem` (libc's contract for these calls).
        unsafe {
            *rem = timespec {
                tv_sec: 0,
                tv_nsec: 0,
            }
        };
    }
}

/// The clocks a goroutine's sleep may follow: the ones libc's sleep measures in real time.
fn parkable_clock(clock: clockid_t) -> bool {
    matches!(
        clock,
        libc::CLOCK_MONOTONIC | libc::CLOCK_REALTIME | libc::CLOCK_BOOTTIME
    )
}

/// `clock_nanosleep(2)`: returns 0 or an error number (not `errno`).
///
/// # Safety
/// libc's contract: `req` points at a valid `timespec`; `rem` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn clock_nanosleep(
    clock: clockid_t,
    flags: c_int,
    req: *const timespec,
    rem: *mut timespec,
) -> c_int {
    if may_park() && parkable_clock(clock) && !req.is_null() {
        // SAFETY: the caller's contract.
        let ts = unsafe { &*req };
        let d = if flags & libc::TIMER_ABSTIME != 0 {
            until(clock, ts)
        } else {
            duration_of(ts)
        };
        return match d {
            Ok(d) => {
                crate::rt::timer::sleep(d);
                if flags & libc::TIMER_ABSTIME == 0 {
                    zero(rem);
                }
                0
            }
            Err(e) => e,
        };
    }
    // SAFETY: the system call with the caller's arguments, as libc's wrapper makes it.
    let r = unsafe { libc::syscall(libc::SYS_clock_nanosleep, clock, flags, req, rem) };
    if r == 0 {
        0
    } else {
        // SAFETY: reading the calling thread's errno slot.
        unsafe { *libc::__errno_location() }
    }
}

/// `nanosleep(2)`: 0, or -1 with `errno`.
///
/// # Safety
/// libc's contract: `req` points at a valid `timespec`; `rem` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn nanosleep(req: *const timespec, rem: *mut timespec) -> c_int {
    // SAFETY: the caller's contract, passed on.
    match unsafe { clock_nanosleep(libc::CLOCK_REALTIME, 0, req, rem) } {
        0 => 0,
        e => {
            set_errno(e);
            -1
        }
    }
}

/// `usleep(3)`: 0, or -1 with `errno`.
#[no_mangle]
pub extern "C" fn usleep(usec: libc::useconds_t) -> c_int {
    let ts = timespec {
        tv_sec: (usec / 1_000_000) as libc::time_t,
        tv_nsec: ((usec % 1_000_000) * 1000) as c_long,
    };
    // SAFETY: `ts` is a valid timespec; no `rem`.
    unsafe { nanosleep(&ts, std::ptr::null_mut()) }
}

/// `sleep(3)`: the seconds left unslept (0 unless a signal cut a thread's sleep short).
#[no_mangle]
pub extern "C" fn sleep(secs: c_uint) -> c_uint {
    let ts = timespec {
        tv_sec: secs as libc::time_t,
        tv_nsec: 0,
    };
    let mut rem = timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` and `rem` are valid timespecs.
    if unsafe { nanosleep(&ts, &mut rem) } == 0 {
        0
    } else {
        rem.tv_sec as c_uint + u32::from(rem.tv_nsec > 0)
    }
}

/// See `super::link`.
pub(crate) fn link() {
    std::hint::black_box(clock_nanosleep as *const () as usize);
    std::hint::black_box(nanosleep as *const () as usize);
    std::hint::black_box(usleep as *const () as usize);
    std::hint::black_box(sleep as *const () as usize);
}
