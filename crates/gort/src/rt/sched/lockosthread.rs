//! `lock_os_thread` / `unlock_os_thread`: Go's LockOSThread.
//!
//! A goroutine already runs on one OS thread for its whole life (the no-migration rule), so
//! locking only has to keep *other* goroutines off that thread: while the lock is held, the M
//! runs nothing but the locked goroutine. Unstarted goroutines queued on its P are left for
//! other Ps to steal (the P counts as stalled), new spawns from the locked goroutine go to the
//! global queue, and goroutines already pinned to this M wait until the lock is released.

use std::sync::atomic::Ordering::{AcqRel, Release};

use super::park::current;

/// Wires the calling goroutine to its OS thread: no other goroutine runs on that thread until
/// as many [`unlock_os_thread`] calls as lock calls have been made. Calls nest. Outside a
/// goroutine it does nothing (a plain thread is already exclusively its own).
pub fn lock_os_thread() {
    if let Some((c, g)) = current() {
        if g.locked.fetch_add(1, AcqRel) == 0 {
            c.p().locked_g.store(g as *const _ as *mut _, Release);
            // Everything unstarted queued here may now be taken by other Ps.
            if let Some(next) = c.p().swap_runnext(None) {
                if next.started() {
                    super::worker::requeue(c, next);
                } else {
                    c.shared().global_push([next]);
                }
            }
            c.shared().wakep();
        }
    }
}

/// Undoes one [`lock_os_thread`]. Unbalanced calls are ignored, as in Go.
pub fn unlock_os_thread() {
    if let Some((c, g)) = current() {
        let prev = g
            .locked
            .fetch_update(AcqRel, std::sync::atomic::Ordering::Acquire, |n| {
                n.checked_sub(1)
            });
        if prev == Ok(1) {
            c.p().locked_g.store(std::ptr::null_mut(), Release);
            c.p().stalled.store(false, Release);
        }
    }
}

/// True while the calling goroutine holds its thread locked.
pub fn is_thread_locked() -> bool {
    current().is_some_and(|(_, g)| g.locked.load(std::sync::atomic::Ordering::Relaxed) > 0)
}
