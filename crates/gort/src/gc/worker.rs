//! The background mark workers (Go's gcBgMarkWorker), on OS threads rather than Ps.
//!
//! * The *collector* thread (`gort-gc`) runs cycles when the heap crosses the trigger; during
//!   the concurrent mark it is the first worker.
//! * Go sizes marking at 25% of GOMAXPROCS (`work::worker_split`): whole dedicated workers when
//!   that rounds well (4 Ps: 1; 8 Ps: 2), else a *fractional* worker (2 Ps: a quarter of each).
//!   The collector plays the first dedicated worker, or the fractional one: it then marks in
//!   slices and sleeps to hold its CPU use to the fractional goal ([`Throttle`]), except while
//!   the mutators leave CPUs idle (Go's idle-mode workers), measured from the process's CPU
//!   time. Further dedicated workers are helper threads (`gort-gc-mark`) that drain the work
//!   pool while the mark phase is open ([`start_helpers`] / [`stop_helpers`]).
//! * Assists (`assist.rs`) do the rest when the workers fall behind the allocation.
//!
//! Rejected: running workers as goroutines on Ps (as Go does): a worker would then have to be
//! preemptible at any point of the trace of an object, and a P-less thread that allocates
//! (gort's GC heap is usable from any thread) could not be paced at all.

use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::mark::Marker;
use super::work;

static KICKED: AtomicBool = AtomicBool::new(false);
/// The mutators left a CPU idle when the last mark ended (the next mark starts in idle mode).
static LAST_IDLE: AtomicBool = AtomicBool::new(true);
static PENDING: Mutex<bool> = Mutex::new(false);
static WAKE: Condvar = Condvar::new();
static STARTED: OnceLock<bool> = OnceLock::new();

/// Starts the worker thread once; false if it could not be created.
fn started() -> bool {
    *STARTED.get_or_init(|| {
        std::thread::Builder::new()
            .name("gort-gc".into())
            .spawn(run)
            .is_ok()
    })
}

/// Asks the worker for a cycle; false if it cannot run (thread creation failed).
pub(crate) fn kick() -> bool {
    let ok = started();
    if ok && !KICKED.swap(true, AcqRel) {
        *PENDING.lock().unwrap_or_else(|e| e.into_inner()) = true;
        WAKE.notify_one();
    }
    ok
}

/// Hands the worker a cycle an allocating thread began (`collect::begin_here`): unlike
/// [`kick`], always sets the request under the lock, so a worker still finishing the previous
/// cycle (with `KICKED` set) runs again instead of sleeping while marking is on. False if the
/// worker cannot run.
pub(crate) fn kick_begun() -> bool {
    let ok = started();
    if ok {
        KICKED.store(true, Release);
        *PENDING.lock().unwrap_or_else(|e| e.into_inner()) = true;
        WAKE.notify_one();
    }
    ok
}

fn run() {
    // A panic here would end the thread mid-cycle (marking on, perhaps the world stopped,
    // `COLLECT` held): no cycle would ever finish and every allocating thread would assist or
    // wait forever. Go's runtime throws; so does gort.
    if std::panic::catch_unwind(cycles).is_err() {
        super::gctrace::gc_eprintln!("fatal error: gort gc: the collector thread panicked (above)");
        std::process::abort();
    }
}

fn cycles() {
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

/// The helper workers' shared state.
struct Phase {
    /// Incremented by each `start_helpers`.
    gen: u64,
    /// Helpers wanted in this phase (indices below it work).
    wanted: usize,
    /// The phase is open.
    open: bool,
    /// Helpers inside the phase.
    inside: usize,
    /// Helper threads started.
    threads: usize,
}

static PHASE: Mutex<Phase> = Mutex::new(Phase {
    gen: 0,
    wanted: 0,
    open: false,
    inside: 0,
    threads: 0,
});
static PHASE_CV: Condvar = Condvar::new();

fn phase() -> std::sync::MutexGuard<'static, Phase> {
    PHASE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Opens the mark phase for `n` helper workers (starting threads as needed; fewer if thread
/// creation fails).
pub(crate) fn start_helpers(n: usize) {
    if n == 0 {
        return;
    }
    let mut p = phase();
    while p.threads < n {
        let idx = p.threads;
        let ok = std::thread::Builder::new()
            .name("gort-gc-mark".into())
            .spawn(move || helper(idx))
            .is_ok();
        if !ok {
            break;
        }
        p.threads += 1;
    }
    p.gen += 1;
    p.wanted = n;
    p.open = true;
    PHASE_CV.notify_all();
}

/// Closes the mark phase and waits until every helper left it (their grey objects traced or
/// back in the pool, their counts flushed).
pub(crate) fn stop_helpers() {
    let mut p = phase();
    if !p.open {
        return;
    }
    p.open = false;
    PHASE_CV.notify_all();
    while p.inside > 0 {
        p = PHASE_CV.wait(p).unwrap_or_else(|e| e.into_inner());
    }
}

fn helper(idx: usize) {
    let mut seen = 0;
    loop {
        {
            let mut p = phase();
            while !(p.open && p.gen != seen && idx < p.wanted) {
                if p.open && p.gen != seen {
                    seen = p.gen; // not wanted this phase
                }
                p = PHASE_CV.wait(p).unwrap_or_else(|e| e.into_inner());
            }
            seen = p.gen;
            p.inside += 1;
        }
        let mut m = super::mark::marker();
        let mut idle_spins = 0u32;
        while phase().open {
            if m.take_work() {
                m.drain_shared(None);
                work::idle();
                idle_spins = 0;
            } else {
                idle_spins += 1;
                if idle_spins < 16 {
                    std::thread::yield_now();
                } else {
                    std::thread::sleep(Duration::from_micros(50));
                }
            }
        }
        m.flush_scan();
        work::MARKED.fetch_add(m.marked_bytes, Relaxed);
        let mut p = phase();
        p.inside -= 1;
        PHASE_CV.notify_all();
    }
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock ids used are supported on Linux.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// This thread's CPU time.
pub(crate) fn thread_cpu_ns() -> u64 {
    clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// Holds the collector's marking to a CPU share (the fractional worker), except while the
/// mutators leave CPUs idle.
pub(crate) struct Throttle {
    /// CPUs of marking allowed (0: unthrottled, a dedicated worker).
    share: f64,
    procs: f64,
    t0: Instant,
    cpu0: u64,
    win_wall: Instant,
    win_proc: u64,
    win_mine: u64,
    idle_mode: bool,
    /// Nanoseconds of marking done in idle mode (Go's idle worker time).
    pub idle_ns: u64,
}

impl Throttle {
    /// `share`: CPUs of marking allowed (0 = no limit), `procs`: Ps.
    pub(crate) fn new(share: f64, procs: usize) -> Throttle {
        let now = Instant::now();
        let mine = thread_cpu_ns();
        Throttle {
            share,
            procs: procs as f64,
            t0: now,
            cpu0: mine,
            win_wall: now,
            win_proc: clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID),
            win_mine: mine,
            idle_mode: LAST_IDLE.load(Relaxed),
            idle_ns: 0,
        }
    }

    /// Called between slices of marking: sleeps (after handing the grey objects to the pool,
    /// for assists) while the collector is ahead of its share.
    pub(crate) fn check(&mut self, m: &mut Marker) {
        if self.share == 0.0 {
            return;
        }
        let now = Instant::now();
        let mine = thread_cpu_ns();
        let win = now - self.win_wall;
        if win >= Duration::from_millis(1) {
            let proc_cpu = clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID);
            let others = (proc_cpu - self.win_proc).saturating_sub(mine - self.win_mine);
            let busy = others as f64 / win.as_nanos() as f64;
            let was_idle = self.idle_mode;
            self.idle_mode = self.procs - busy >= 0.75;
            LAST_IDLE.store(self.idle_mode, Relaxed);
            if was_idle {
                self.idle_ns += mine - self.win_mine;
            }
            self.win_wall = now;
            self.win_proc = proc_cpu;
            self.win_mine = mine;
        }
        if self.idle_mode {
            return;
        }
        let used = (mine - self.cpu0).saturating_sub(self.idle_ns) as f64;
        let allowed = self.share * (now - self.t0).as_nanos() as f64;
        // 200 us of slack: the worker marks in slices of at least that much.
        if used > allowed + 200_000.0 {
            let ahead = ((used - allowed) / self.share) as u64;
            let d = Duration::from_nanos(ahead.clamp(100_000, 2_000_000));
            m.give_all();
            thread_sleep(d);
        }
    }
}

/// Sleeps the OS thread, also when it runs a goroutine. The collector holds `COLLECT` while
/// it throttles, and may run on a goroutine (`gort::gc()`, or an allocation that collects
/// inline). `std::thread::sleep` is interposed there (`rt::interpose::sleep`) and parks the
/// goroutine; its M then ran another goroutine, which allocated, needed a collection and
/// blocked the M on `COLLECT`, while the holder, pinned to that M, could never resume: every
/// thread waiting on a lock nobody visible held (`tests/gc_atomic.rs` under
/// `GODEBUG=gctorture=50`, about one run in ten; `tests/gc_collect_on_goroutines.rs`).
pub(crate) fn thread_sleep(d: Duration) {
    let ts = libc::timespec {
        tv_sec: d.as_secs() as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `ts` is a valid timespec; no remainder is asked for. The system call itself,
    // not libc's wrapper (which the runtime interposes). An early return on a signal only
    // shortens the throttle's pause.
    unsafe {
        libc::syscall(
            libc::SYS_clock_nanosleep,
            libc::CLOCK_MONOTONIC,
            0,
            &ts as *const libc::timespec,
            std::ptr::null_mut::<libc::timespec>(),
        )
    };
}
