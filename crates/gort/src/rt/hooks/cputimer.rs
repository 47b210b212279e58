//! The CPU profiler's hook in the runtime core: the runtime threads that get a CPU-profiling
//! timer, and their timers (`crate::prof` starts and stops them).
//!
//! Every runtime worker thread (M), blocking-pool thread and thread inside `block_on`
//! registers for its lifetime (or the call's) with [`register_thread`]. While a CPU profile
//! runs, each registered thread has a POSIX timer on its own CPU clock
//! (`pthread_getcpuclockid`) that sends SIGPROF to that thread (`SIGEV_THREAD_ID`) every
//! period of CPU time it consumes: per-thread accounting, so no sample is lost to signal
//! coalescing at high CPU use (the flaw of a process-wide `setitimer`), and the signal lands
//! on the thread that burned the time, whose stack is the one to sample.
//!
//! `start`/`stop` and thread registration hold one mutex, so a thread that registers while a
//! profile starts or stops is either armed by the starter or arms itself, never both or
//! neither. The registry is never touched by the signal handler.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

struct Entry {
    tid: libc::pid_t,
    thread: libc::pthread_t,
    /// The armed timer (`timer_t` as an address), if profiling.
    timer: Option<usize>,
}

struct Registry {
    threads: Vec<Entry>,
    /// The sampling period in ns while a profile runs, else 0.
    period_ns: u64,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    threads: Vec::new(),
    period_ns: 0,
});

/// Timers that failed to arm (reported in the profile's comments).
pub(crate) static ARM_FAILURES: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

fn lock() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Creates and starts a SIGPROF timer on `e`'s CPU clock, directed at `e`'s thread.
fn arm(e: &mut Entry, period_ns: u64, offset_ns: u64) {
    // SAFETY: `clock` and `timer` are valid out-parameters; `e.thread` is a live thread (it
    // removes its entry under the registry lock before exiting, and we hold that lock); the
    // sigevent is zero-initialised and then given SIGEV_THREAD_ID with a tid of this process.
    unsafe {
        let mut clock: libc::clockid_t = 0;
        if libc::pthread_getcpuclockid(e.thread, &mut clock) != 0 {
            ARM_FAILURES.fetch_add(1, Relaxed);
            return;
        }
        let mut sev: libc::sigevent = std::mem::zeroed();
        sev.sigev_notify = libc::SIGEV_THREAD_ID;
        sev.sigev_signo = libc::SIGPROF;
        sev.sigev_notify_thread_id = e.tid;
        let mut timer: libc::timer_t = std::ptr::null_mut();
        if libc::timer_create(clock, &mut sev, &mut timer) != 0 {
            ARM_FAILURES.fetch_add(1, Relaxed);
            return;
        }
        let ts = |ns: u64| libc::timespec {
            tv_sec: (ns / 1_000_000_000) as libc::time_t,
            tv_nsec: (ns % 1_000_000_000) as libc::c_long,
        };
        let spec = libc::itimerspec {
            it_interval: ts(period_ns),
            it_value: ts(offset_ns.clamp(1, period_ns)),
        };
        if libc::timer_settime(timer, 0, &spec, std::ptr::null_mut()) != 0 {
            libc::timer_delete(timer);
            ARM_FAILURES.fetch_add(1, Relaxed);
            return;
        }
        e.timer = Some(timer as usize);
    }
}

fn disarm(e: &mut Entry) {
    if let Some(t) = e.timer.take() {
        // SAFETY: `t` was returned by timer_create and is deleted once (taken out of the entry).
        unsafe { libc::timer_delete(t as libc::timer_t) };
    }
}

/// Arms every registered thread (profile start). The first expiry of each timer is spread
/// over the period so that threads do not sample in lockstep.
pub(crate) fn start(period_ns: u64) {
    let mut r = lock();
    r.period_ns = period_ns;
    let n = r.threads.len() as u64 + 1;
    for (i, e) in r.threads.iter_mut().enumerate() {
        arm(e, period_ns, period_ns * (i as u64 + 1) / n);
    }
}

/// Deletes every timer (profile stop).
pub(crate) fn stop() {
    let mut r = lock();
    r.period_ns = 0;
    for e in r.threads.iter_mut() {
        disarm(e);
    }
}

/// Registration of the current thread; unregisters (and deletes its timer) when dropped.
pub(crate) struct ThreadGuard {
    registered: bool,
    _not_send: std::marker::PhantomData<*const ()>,
}

/// Registers the calling thread for CPU profiling until the guard drops. Nested calls on one
/// thread are counted; the outermost registers. Caches the thread's stack bounds for the
/// signal handler.
pub(crate) fn register_thread() -> ThreadGuard {
    let depth = DEPTH.with(|d| {
        d.set(d.get() + 1);
        d.get()
    });
    if depth > 1 {
        return ThreadGuard {
            registered: false,
            _not_send: std::marker::PhantomData,
        };
    }
    crate::rt::current::cache_thread_stack();
    // SIGPROF runs on the alternate signal stack: make sure it is gort's (large enough for a
    // walk on CPUs with large signal frames), not std's 8 KiB one.
    crate::rt::stack::ensure_sigaltstack();
    // SAFETY: gettid and pthread_self have no preconditions.
    let (tid, thread) = unsafe { (libc::gettid(), libc::pthread_self()) };
    let mut e = Entry {
        tid,
        thread,
        timer: None,
    };
    let mut r = lock();
    if r.period_ns != 0 {
        let p = r.period_ns;
        arm(&mut e, p, p / 2);
    }
    r.threads.push(e);
    ThreadGuard {
        registered: true,
        _not_send: std::marker::PhantomData,
    }
}

impl Drop for ThreadGuard {
    fn drop(&mut self) {
        let _ = DEPTH.try_with(|d| d.set(d.get().saturating_sub(1)));
        if !self.registered {
            return;
        }
        // SAFETY: no preconditions.
        let tid = unsafe { libc::gettid() };
        let mut r = lock();
        if let Some(i) = r.threads.iter().position(|e| e.tid == tid) {
            let mut e = r.threads.swap_remove(i);
            disarm(&mut e);
        }
    }
}

/// Number of registered threads (tests and diagnostics).
pub(crate) fn registered() -> usize {
    lock().threads.len()
}
