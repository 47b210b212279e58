//! The goroutine state machine's transitions, on one `AtomicU32` (see the table in `g.rs`).
//!
//! Kept apart from `G`, on the shim's atomics, so it is model-checked with shuttle
//! (`model_tests.rs`, `--cfg gort_model`).

use std::sync::atomic::Ordering::{AcqRel, Acquire};

use crate::rt::loom::AtomicU32;

pub(crate) const RUNNABLE: u32 = 0;
pub(crate) const RUNNING: u32 = 1;
pub(crate) const PARKED: u32 = 2;
pub(crate) const DEAD: u32 = 3;
pub(crate) const NOTIFIED: u32 = 4;
/// Set on a PARKED goroutine by the leak detector while it reads the goroutine's probe
/// (Go's `_Gscan`): an unpark waits it out, so the parked frame the probe points into stays
/// in place (`leak.rs`). Never set in any other state.
pub(crate) const SCAN: u32 = 8;
/// The flag bits; `state & !FLAGS` is one of RUNNABLE, RUNNING, PARKED, DEAD.
pub(crate) const FLAGS: u32 = NOTIFIED | SCAN;

/// Any thread: makes the goroutine runnable if it is parked, or leaves a permit. Returns true
/// when the caller must enqueue it (it was PARKED).
pub(crate) fn notify(state: &AtomicU32) -> bool {
    let mut s = state.load(Acquire);
    let mut step = 0;
    loop {
        let (new, wake) = if s == PARKED {
            (RUNNABLE, true)
        } else if s & NOTIFIED != 0 || s == DEAD {
            return false;
        } else if s & SCAN != 0 {
            // The leak detector is reading this parked goroutine's probe: a few loads.
            crate::rt::loom::spin(step);
            step += 1;
            s = state.load(Acquire);
            continue;
        } else {
            (s | NOTIFIED, false)
        };
        match state.compare_exchange_weak(s, new, AcqRel, Acquire) {
            Ok(_) => return wake,
            Err(cur) => s = cur,
        }
    }
}

/// The leak detector: pins a PARKED goroutine (PARKED -> PARKED|SCAN) so that it cannot be
/// made runnable until [`unpin`]; false if it is not parked. Waits out another detector's pin.
pub(crate) fn pin_parked(state: &AtomicU32) -> bool {
    let mut step = 0;
    loop {
        match state.compare_exchange(PARKED, PARKED | SCAN, Acquire, Acquire) {
            Ok(_) => return true,
            Err(s) if s == PARKED | SCAN => {
                crate::rt::loom::spin(step);
                step += 1;
            }
            Err(_) => return false,
        }
    }
}

/// The leak detector: ends a [`pin_parked`] (Release: its reads of the parked frame happen
/// before the goroutine can run again).
pub(crate) fn unpin(state: &AtomicU32) {
    state.fetch_and(!SCAN, std::sync::atomic::Ordering::Release);
}

/// The running goroutine: consumes a pending permit. Returns true if there was one.
pub(crate) fn take_permit(state: &AtomicU32) -> bool {
    state
        .compare_exchange(RUNNING | NOTIFIED, RUNNING, AcqRel, Acquire)
        .is_ok()
}

/// The M, after a goroutine switched out to park: commits the park. Returns false if an
/// unpark raced with the switch; the permit is then consumed and the goroutine must go on
/// running.
pub(crate) fn commit_park(state: &AtomicU32) -> bool {
    if state
        .compare_exchange(RUNNING, PARKED, AcqRel, Acquire)
        .is_ok()
    {
        return true;
    }
    state.store(RUNNING, std::sync::atomic::Ordering::Release);
    false
}

/// The M: RUNNABLE -> RUNNING, keeping a pending permit. Debug builds check the from-state
/// (a PARKED goroutine resumed by mistake would otherwise silently become DEAD).
pub(crate) fn start_running(state: &AtomicU32) {
    let prev = state.fetch_add(RUNNING, AcqRel);
    debug_assert_eq!(
        prev & !NOTIFIED,
        RUNNABLE,
        "gort: start_running from state {prev:#x}, not RUNNABLE"
    );
}

/// The M: RUNNING -> RUNNABLE (a yield), keeping a pending permit. Debug builds check the
/// from-state.
pub(crate) fn stop_running(state: &AtomicU32) {
    let prev = state.fetch_sub(RUNNING, AcqRel);
    debug_assert_eq!(
        prev & !NOTIFIED,
        RUNNING,
        "gort: stop_running from state {prev:#x}, not RUNNING"
    );
}
