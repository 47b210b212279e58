//! The blocking pool: `gort::blocking(f)` runs `f` on an extra thread while the calling
//! goroutine parks and its P goes on running other goroutines.
//!
//! This is Go's "a blocking syscall parks an M, not the P", made explicit: gort cannot hand a
//! P to another M in the middle of a goroutine (the goroutine's stack is pinned to its M), so
//! calls known to block are moved off the M instead. Threads are created on demand, up to
//! 10,000 (Go's default thread limit), and exit after 10 s idle.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::g::WaitReason;
use super::park::{current, park, Unparker, Waiter};

type Job = Box<dyn FnOnce() + Send>;

const MAX_THREADS: usize = 10_000;
const IDLE_EXIT: Duration = Duration::from_secs(10);

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    idle: usize,
    threads: usize,
    shutdown: bool,
}

/// The pool of threads for blocking calls.
#[derive(Default)]
pub(crate) struct BlockingPool {
    state: Arc<(Mutex<State>, Condvar)>,
}

impl BlockingPool {
    pub(crate) fn new() -> BlockingPool {
        BlockingPool::default()
    }

    /// Threads alive and idle, for schedtrace.
    pub(crate) fn counts(&self) -> (usize, usize) {
        let s = self.state.0.lock().unwrap();
        (s.threads, s.idle)
    }

    fn submit(&self, job: Job) {
        let (lock, cv) = &*self.state;
        let mut s = lock.lock().unwrap();
        s.queue.push_back(job);
        if s.idle > 0 {
            cv.notify_one();
            return;
        }
        if s.threads >= MAX_THREADS {
            // Queued: an existing thread takes it when done (Go would crash here instead).
            return;
        }
        s.threads += 1;
        drop(s);
        let state = self.state.clone();
        let spawned = std::thread::Builder::new()
            .name("gort-blocking".into())
            .spawn(move || pool_thread(state));
        if spawned.is_err() {
            let mut s = lock.lock().unwrap();
            s.threads -= 1;
            if s.threads == 0 {
                // No thread can run it: run jobs inline rather than lose them.
                let jobs: Vec<Job> = s.queue.drain(..).collect();
                drop(s);
                jobs.into_iter().for_each(|j| j());
            }
        }
    }

    pub(crate) fn shutdown(&self) {
        let (lock, cv) = &*self.state;
        lock.lock().unwrap().shutdown = true;
        cv.notify_all();
    }
}

fn pool_thread(state: Arc<(Mutex<State>, Condvar)>) {
    let _prof = crate::rt::hooks::cputimer::register_thread(); // CPU-profile timer while profiling
    let (lock, cv) = &*state;
    let mut s = lock.lock().unwrap();
    loop {
        if let Some(job) = s.queue.pop_front() {
            drop(s);
            job();
            s = lock.lock().unwrap();
            continue;
        }
        if s.shutdown {
            break;
        }
        s.idle += 1;
        let (guard, timeout) = cv.wait_timeout(s, IDLE_EXIT).unwrap();
        s = guard;
        s.idle -= 1;
        if timeout.timed_out() && s.queue.is_empty() {
            break;
        }
    }
    s.threads -= 1;
}

/// Runs `f` on the blocking pool and parks the calling goroutine until it returns; its P runs
/// other goroutines meanwhile. Outside a goroutine `f` runs inline. A panic in `f` is resumed
/// in the caller.
///
/// Use it for calls that block the OS thread: file I/O, DNS resolution, C libraries, long
/// `std::sync` waits.
pub fn blocking<F, R>(f: F) -> R
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let Some((c, _)) = current() else {
        return f();
    };
    let shared = c.shared();
    struct Slot<R> {
        done: AtomicBool,
        result: Mutex<Option<std::thread::Result<R>>>,
    }
    let slot = Arc::new(Slot {
        done: AtomicBool::new(false),
        result: Mutex::new(None),
    });
    let s2 = slot.clone();
    let me = Unparker::current();
    let Waiter::G(g) = &me.0 else {
        unreachable!("current() found a goroutine")
    };
    let shared_arc = g.shared.clone();
    let rt = g.shared.clone();
    shared.pending.fetch_add(1, AcqRel);
    // Go's goroutines in a system call (`/sched/goroutines/not-in-go:goroutines`).
    rt.in_blocking.fetch_add(1, Relaxed);
    shared.blocking.submit(Box::new(move || {
        crate::rt::exectrace::blocking_begin(me.goid());
        let r = catch_unwind(AssertUnwindSafe(f));
        crate::rt::exectrace::blocking_end(me.goid());
        *s2.result.lock().unwrap() = Some(r);
        s2.done.store(true, Release);
        me.unpark();
        // After the wake-up, so the deadlock check never sees this goroutine parked with
        // nothing pending.
        shared_arc.pending.fetch_sub(1, AcqRel);
    }));
    while !slot.done.load(Acquire) {
        park(WaitReason::Syscall);
    }
    rt.in_blocking.fetch_sub(1, Relaxed);
    let r = slot
        .result
        .lock()
        .unwrap()
        .take()
        .expect("blocking call result");
    match r {
        Ok(v) => v,
        Err(p) => std::panic::resume_unwind(p),
    }
}
