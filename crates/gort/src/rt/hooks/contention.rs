//! The mutex and block profiles' recording side in the runtime core: contention events
//! recorded by the sync and channel code (the `crate::prof` tool builds the profiles).
//!
//! * Block (Go's `SetBlockProfileRate`): `Parking::wait` (`sync/wait.rs`), the one place a
//!   blocked channel, select or sync operation parks, times the wait when the rate is non-zero
//!   and samples an event of `d` ns with probability `d / rate` (always when `d >= rate`).
//! * Mutex (Go's `SetMutexProfileFraction`): a goroutine that parks in `Mutex`/`RwLock`
//!   stamps its waiter node with the time; the unlocker that wakes it charges the wait to its
//!   own stack (as Go's `semrelease` does), sampling 1 in `fraction` events.
//!
//! Off, each costs one relaxed load on the slow (parking) path and nothing on fast paths.
//! Values are scaled as Go's `saveblockevent` does, so totals estimate all events.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use crate::alloc::fpwalk::{self, MAX_DEPTH};

static MUTEX_FRACTION: AtomicU64 = AtomicU64::new(0);
static BLOCK_RATE: AtomicU64 = AtomicU64::new(0);

/// Recorded events by stack.
#[derive(Default)]
pub(crate) struct Table {
    /// stack -> (count, delay ns), both scaled.
    events: HashMap<Vec<usize>, (f64, f64)>,
}

pub(crate) static MUTEX_EVENTS: Mutex<Option<Table>> = Mutex::new(None);
pub(crate) static BLOCK_EVENTS: Mutex<Option<Table>> = Mutex::new(None);

/// The events of `table` so far: (stack, (count, delay ns)), both scaled.
pub(crate) fn events(table: &Mutex<Option<Table>>) -> Vec<(Vec<usize>, (f64, f64))> {
    table
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .map(|t| t.events.iter().map(|(k, v)| (k.clone(), *v)).collect())
        .unwrap_or_default()
}

/// `crate::prof::set_mutex_profile_fraction`. Sets the fraction of mutex contention events reported (Go's
/// `runtime.SetMutexProfileFraction`): on average 1 in `rate`; 0 turns it off; a negative
/// `rate` only reads the current value. Returns the previous value.
pub(crate) fn set_mutex_fraction(rate: i64) -> i64 {
    let prev = MUTEX_FRACTION.load(Relaxed) as i64;
    if rate >= 0 {
        MUTEX_FRACTION.store(rate as u64, Relaxed);
    }
    prev
}

/// `crate::prof::set_block_profile_rate`. Sets the block profile rate (Go's `runtime.SetBlockProfileRate`): aim to sample one
/// blocking event per `rate` nanoseconds spent blocked; 1 records every event, 0 (or less)
/// turns it off.
pub(crate) fn set_block_rate(rate: i64) {
    BLOCK_RATE.store(rate.max(0) as u64, Relaxed);
}

/// Monotonic nanoseconds (never 0).
pub(crate) fn nanotime() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC is always supported.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64).max(1)
}

fn rand64() -> u64 {
    use std::cell::Cell;
    thread_local! { static X: Cell<u64> = const { Cell::new(0) }; }
    X.with(|x| {
        let mut v = x.get();
        if v == 0 {
            v = nanotime() | 1;
        }
        v ^= v << 13;
        v ^= v >> 7;
        v ^= v << 17;
        x.set(v);
        v
    })
}

/// Start of a blocking wait: a timestamp, or 0 when the block profile is off.
#[inline]
pub(crate) fn block_start() -> u64 {
    if BLOCK_RATE.load(Relaxed) == 0 {
        0
    } else {
        nanotime()
    }
}

/// End of a blocking wait that started at `t0` (non-zero).
#[cold]
pub(crate) fn block_end(t0: u64) {
    let rate = BLOCK_RATE.load(Relaxed);
    let d = nanotime().saturating_sub(t0).max(1);
    if let Some((count, delay)) = block_weight(d, rate, rand64()) {
        record(&BLOCK_EVENTS, count, delay);
    }
}

/// Go's `blocksampled` + `saveblockevent` for an event of `d` ns at `rate` with random `r`:
/// an event of `d >= rate` is always kept as itself; a shorter one is kept with probability
/// `d / rate` and then stands for `rate / d` events totalling `rate` ns, so the expected
/// totals equal the true ones.
fn block_weight(d: u64, rate: u64, r: u64) -> Option<(f64, f64)> {
    if rate == 0 {
        None
    } else if d >= rate {
        Some((1.0, d as f64))
    } else if r % rate < d {
        Some((rate as f64 / d as f64, rate as f64))
    } else {
        None
    }
}

/// Whether mutex waits should be timestamped (one relaxed load).
#[inline]
pub(crate) fn mutex_profiling() -> bool {
    MUTEX_FRACTION.load(Relaxed) != 0
}

/// The unlocker woke a waiter that started waiting at `since` (non-zero).
#[cold]
pub(crate) fn mutex_event(since: u64) {
    let rate = MUTEX_FRACTION.load(Relaxed);
    let d = nanotime().saturating_sub(since);
    if let Some((count, delay)) = mutex_weight(d, rate, rand64()) {
        record(&MUTEX_EVENTS, count, delay);
    }
}

/// Go's `mutexevent`: 1 in `rate` events is kept and stands for `rate` events.
fn mutex_weight(d: u64, rate: u64, r: u64) -> Option<(f64, f64)> {
    if rate == 0 || !r.is_multiple_of(rate) {
        None
    } else {
        Some((rate as f64, rate as f64 * d as f64))
    }
}

#[inline(never)]
fn record(table: &Mutex<Option<Table>>, count: f64, delay: f64) {
    let mut pcs = [0usize; MAX_DEPTH];
    let n = fpwalk::capture(&mut pcs);
    let mut t = table.lock().unwrap_or_else(|e| e.into_inner());
    let e = t
        .get_or_insert_with(Table::default)
        .events
        .entry(pcs[..n].to_vec())
        .or_default();
    e.0 += count;
    e.1 += delay;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_sampling_is_unbiased_like_go() {
        assert_eq!(block_weight(5, 0, 0), None);
        assert_eq!(block_weight(2_000, 1_000, 999), Some((1.0, 2_000.0)));
        assert_eq!(block_weight(250, 1_000, 100), Some((4.0, 1_000.0)));
        assert_eq!(block_weight(250, 1_000, 300), None);
        // Over every random residue, the expected count is 1 and the expected delay is d.
        let (rate, d) = (1_000u64, 250u64);
        let (mut n, mut t) = (0.0, 0.0);
        for r in 0..rate {
            if let Some((c, x)) = block_weight(d, rate, r) {
                n += c;
                t += x;
            }
        }
        assert_eq!((n / rate as f64, t / rate as f64), (1.0, d as f64));
    }

    #[test]
    fn mutex_sampling_keeps_one_in_rate() {
        assert_eq!(mutex_weight(10, 0, 0), None);
        assert_eq!(mutex_weight(10, 1, 12345), Some((1.0, 10.0)));
        let kept = (0..1_000u64)
            .filter(|&r| mutex_weight(10, 5, r).is_some())
            .count();
        assert_eq!(kept, 200);
        assert_eq!(mutex_weight(10, 5, 0), Some((5.0, 50.0)));
    }
}
