//! The background mark worker: one OS thread that runs cycles when the heap crosses the
//! trigger, so allocating goroutines keep running while it marks (Go's dedicated worker; Go
//! runs 25% of the Ps as workers, a fractional one below 4 Ps: gort runs one thread, which on
//! 2 Ps is more than Go's 0.5 P while marking). A goroutine that allocates past the goal while
//! the worker is behind runs or waits for the cycle itself (`collect::maybe_collect`).

use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::{Condvar, Mutex, OnceLock};

static KICKED: AtomicBool = AtomicBool::new(false);
static PENDING: Mutex<bool> = Mutex::new(false);
static WAKE: Condvar = Condvar::new();
static STARTED: OnceLock<bool> = OnceLock::new();

/// Asks the worker for a cycle; false if it cannot run (thread creation failed).
pub(crate) fn kick() -> bool {
    let ok = *STARTED.get_or_init(|| {
        std::thread::Builder::new()
            .name("gort-gc".into())
            .spawn(run)
            .is_ok()
    });
    if ok && !KICKED.swap(true, AcqRel) {
        *PENDING.lock().unwrap_or_else(|e| e.into_inner()) = true;
        WAKE.notify_one();
    }
    ok
}

fn run() {
    loop {
        {
            let mut p = PENDING.lock().unwrap_or_else(|e| e.into_inner());
            while !*p {
                p = WAKE.wait(p).unwrap_or_else(|e| e.into_inner());
            }
            *p = false;
        }
        super::collect::collect(false);
        KICKED.store(false, Release);
    }
}
