//! The runtime: its shared state, the builder and the `Runtime` handle.

use std::collections::VecDeque;
use std::panic::Location;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Instant;

use super::blocking::BlockingPool;
use super::g::{GRef, G};
use super::p::P;
use super::spawn::{spawn_on, JoinHandle};
use crate::env::{ConfigError, GoDebug};
use crate::rt::stack::{GlobalStackPool, StackError, StackPool};

/// Default goroutine stack reservation. Memory is committed only as the stack is used.
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// Everything the Ms of one runtime share.
pub(crate) struct Shared {
    pub(crate) ps: Box<[P]>,
    global: Mutex<VecDeque<GRef>>,
    /// Finished G records shared between Ps (Go's sched.gFree): Ps that only free (they run
    /// goroutines others spawned) hand batches to Ps that only allocate.
    pub(crate) gfree: Mutex<Vec<GRef>>,
    pub(crate) global_len: AtomicUsize,
    /// Idle Ps and spinning Ms (`idle.rs`).
    pub(crate) idle: super::idle::IdleSet,
    /// Ps whose M waits for its locked goroutine (counted as idle by the deadlock check).
    pub(crate) nlockedwait: AtomicUsize,
    pub(crate) next_goid: AtomicU64,
    /// Goroutines spawned from outside any P of this runtime (the rest are counted per P).
    pub(crate) ext_spawned: AtomicU64,
    /// Outstanding work that will wake goroutines from outside the run queues: blocking-pool
    /// calls and armed timers (network waits are counted per P, `Counters::io_waiters`). A
    /// deadlock needs this and those to be zero.
    pub(crate) pending: AtomicUsize,
    /// Wake-ups done from outside the runtime's Ms; with the per-P counters, the deadlock
    /// check requires all of them to stand still.
    pub(crate) epoch: AtomicU64,
    /// Some wake-up came from a thread that is not one of this runtime's Ms (a plain thread,
    /// the blocking pool, sysmon's poll): the deadlock check then waits `OUTSIDE_GRACE` of
    /// quiet before it declares one (`sysmon::check_deadlock`).
    pub(crate) outside_woke: AtomicBool,
    /// Quiet spells the deadlock check reported as a warning instead (`outside_woke`).
    pub(crate) deadlock_warnings: AtomicU64,
    /// allgs of started goroutines, sharded by home P (registered by the home M at start, so
    /// each shard's lock is taken by one M, plus diagnostics).
    pub(crate) allgs: Box<[Mutex<Vec<GRef>>]>,
    pub(crate) stacks: GlobalStackPool,
    pub(crate) blocking: BlockingPool,
    pub(crate) shutdown: AtomicBool,
    pub(crate) start: Instant,
    /// A coarse clock (ns since `start`) for park timestamps: updated by sysmon every tick
    /// (at most 10 ms apart while any P runs) and by each M leaving idle, so parking reads no
    /// clock. Goroutine dumps only print waits of a minute or more.
    pub(crate) coarse_ns: AtomicU64,
    pub(crate) godebug: GoDebug,
    pub(crate) detect_deadlock: bool,
    /// Set once a deadlock is found: the report (Go's message and the goroutine list).
    pub(crate) deadlock: OnceLock<String>,
    /// `Builder::stall_is_error`: a stall past the dump threshold is declared (`stall.rs`).
    pub(crate) stall_is_error: bool,
    /// Set once such a stall is declared: its full report. The runtime is then poisoned.
    pub(crate) stall_error: OnceLock<String>,
    /// Stall episodes that produced a report (sysmon increments; `stall.rs`).
    pub(crate) stall_reports: AtomicU64,
    /// Threads outside the runtime waiting on it (block_on, join from a plain thread): woken
    /// when a deadlock is found.
    pub(crate) external_waiters: Mutex<Vec<std::thread::Thread>>,
    pub(crate) sysmon_lock: Mutex<bool>,
    /// True while sysmon sleeps without a timeout (every P idle); a P leaving idle wakes it.
    pub(crate) sysmon_deep_sleep: AtomicBool,
    pub(crate) sysmon_cv: Condvar,
    /// Threads created by this runtime (Ms: workers, sysmon, blocking pool), for schedtrace.
    pub(crate) threads: AtomicUsize,
    /// Goroutines parked in `gort::blocking` while their call runs on the pool (Go's
    /// goroutines in a system call), for `gort::metrics`.
    pub(crate) in_blocking: AtomicUsize,
}

impl Shared {
    fn new(
        nprocs: usize,
        stack_size: usize,
        godebug: GoDebug,
        detect_deadlock: bool,
        stall_is_error: bool,
    ) -> Shared {
        Shared {
            ps: (0..nprocs)
                .map(|i| {
                    let p = P::new(i, StackPool::new());
                    // schedstress: every preemption point yields (park.rs never clears it).
                    p.preempt.store(godebug.schedstress, Relaxed);
                    p
                })
                .collect(),
            global: Mutex::new(VecDeque::new()),
            gfree: Mutex::new(Vec::new()),
            global_len: AtomicUsize::new(0),
            idle: super::idle::IdleSet::new(nprocs),
            nlockedwait: AtomicUsize::new(0),
            next_goid: AtomicU64::new(1),
            ext_spawned: AtomicU64::new(0),
            pending: AtomicUsize::new(0),
            epoch: AtomicU64::new(0),
            outside_woke: AtomicBool::new(false),
            deadlock_warnings: AtomicU64::new(0),
            allgs: (0..nprocs).map(|_| Mutex::new(Vec::new())).collect(),
            stacks: GlobalStackPool::new(stack_size),
            blocking: BlockingPool::new(),
            shutdown: AtomicBool::new(false),
            start: Instant::now(),
            coarse_ns: AtomicU64::new(0),
            godebug,
            detect_deadlock,
            deadlock: OnceLock::new(),
            stall_is_error,
            stall_error: OnceLock::new(),
            stall_reports: AtomicU64::new(0),
            external_waiters: Mutex::new(Vec::new()),
            sysmon_lock: Mutex::new(false),
            sysmon_deep_sleep: AtomicBool::new(false),
            sysmon_cv: Condvar::new(),
            threads: AtomicUsize::new(0),
            in_blocking: AtomicUsize::new(0),
        }
    }

    #[cfg(test)]
    pub(crate) fn for_tests() -> Arc<Shared> {
        Arc::new(Shared::new(
            1,
            DEFAULT_STACK_SIZE,
            GoDebug::default(),
            false,
            false,
        ))
    }

    pub(crate) fn nprocs(&self) -> usize {
        self.ps.len()
    }

    pub(crate) fn nanotime(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Reads the clock and refreshes the coarse clock.
    pub(crate) fn tick_coarse(&self) -> u64 {
        let now = self.nanotime();
        self.coarse_ns.store(now, Relaxed);
        now
    }

    /// Adds unstarted goroutines to the global queue and wakes an idle P.
    pub(crate) fn global_push(&self, gs: impl IntoIterator<Item = GRef>) {
        let mut q = self.global.lock().unwrap();
        q.extend(gs);
        self.global_len.store(q.len(), SeqCst);
        drop(q);
        self.wakep();
    }

    /// Takes up to `max` goroutines from the global queue.
    pub(crate) fn global_take(&self, max: usize, out: &mut Vec<GRef>) {
        if self.global_len.load(Acquire) == 0 {
            return;
        }
        let mut q = self.global.lock().unwrap();
        let n = max.min(q.len());
        out.extend(q.drain(..n));
        self.global_len.store(q.len(), SeqCst);
    }

    /// Go's wakep: if a P is idle and no M is spinning, wake one to look for work (the
    /// protocol and its fence are in `idle.rs`).
    pub(crate) fn wakep(&self) {
        if let Some(pid) = self.idle.wake_one() {
            self.ps[pid].unpark_m();
        }
    }

    /// Takes back the resident count that handing `g` over before its first run
    /// (`Worker::rehome`) made on the P it chose; nothing if it was not handed over or the
    /// count was already taken back.
    pub(crate) fn unplace(&self, g: &super::g::G) {
        let x = g.placed.load(Relaxed);
        if x != 0 && x != super::g::PLACED_UNCOUNTED {
            self.ps[x - 1].counters.resident.fetch_sub(1, Relaxed);
            g.placed.store(super::g::PLACED_UNCOUNTED, Relaxed);
        }
    }

    /// Wakes sysmon early (the last P went idle, or work arrived while it slept long).
    pub(crate) fn poke_sysmon(&self) {
        let mut poked = self.sysmon_lock.lock().unwrap();
        *poked = true;
        self.sysmon_cv.notify_one();
    }

    /// Live goroutines: spawned and not finished.
    pub(crate) fn ngoroutines(&self) -> usize {
        let mut n = self.ext_spawned.load(SeqCst) as i64;
        for p in self.ps.iter() {
            n += p.counters.spawned.load(SeqCst) as i64 - p.counters.exited.load(SeqCst) as i64;
        }
        n.max(0) as usize
    }

    /// Goroutines parked now.
    pub(crate) fn nparked(&self) -> i64 {
        self.ps.iter().map(|p| p.counters.parked.load(SeqCst)).sum()
    }

    /// A number that changes whenever a goroutine is spawned, exits or is woken.
    pub(crate) fn activity(&self) -> u64 {
        let mut n = self
            .epoch
            .load(SeqCst)
            .wrapping_add(self.ext_spawned.load(SeqCst));
        for p in self.ps.iter() {
            let c = &p.counters;
            n = n
                .wrapping_add(c.spawned.load(SeqCst))
                .wrapping_add(c.exited.load(SeqCst))
                .wrapping_add(c.readied.load(SeqCst));
        }
        n
    }

    /// Called by the home M when `g` starts.
    pub(crate) fn register_g(&self, g: &GRef, home: usize) {
        let mut shard = self.allgs[home].lock().unwrap();
        g.reg_index.store(shard.len(), Relaxed);
        shard.push(g.clone());
    }

    /// Called by the home M when `g` is gone (no-op if it never started).
    pub(crate) fn unregister_g(&self, g: &G) {
        let i = g.reg_index.load(Relaxed);
        if i == usize::MAX {
            return;
        }
        let home = g.home.load(Relaxed) - 1;
        let mut shard = self.allgs[home].lock().unwrap();
        shard.swap_remove(i);
        if let Some(moved) = shard.get(i) {
            moved.reg_index.store(i, Relaxed);
        }
    }

    /// A snapshot of every live goroutine.
    pub(crate) fn all_gs(&self) -> Vec<GRef> {
        let mut v: Vec<GRef> = self
            .allgs
            .iter()
            .flat_map(|s| s.lock().unwrap().clone())
            .collect();
        v.sort_by_key(|g| g.id());
        v
    }

    pub(crate) fn is_deadlocked(&self) -> bool {
        self.deadlock.get().is_some()
    }

    /// Registers the calling plain thread as waiting on this runtime.
    pub(crate) fn add_external_waiter(&self) {
        self.external_waiters
            .lock()
            .unwrap()
            .push(std::thread::current());
    }

    pub(crate) fn remove_external_waiter(&self) {
        let me = std::thread::current().id();
        let mut w = self.external_waiters.lock().unwrap();
        if let Some(i) = w.iter().position(|t| t.id() == me) {
            w.swap_remove(i);
        }
    }

    /// Declares a deadlock: records the report and wakes every outside waiter.
    pub(crate) fn declare_deadlock(&self, report: String) {
        if self.deadlock.set(report).is_ok() {
            for t in self.external_waiters.lock().unwrap().iter() {
                t.unpark();
            }
        }
    }

    /// Declares the runtime stalled (`Builder::stall_is_error`): records the report and wakes
    /// every outside waiter, which returns it as `Error::Stall`.
    pub(crate) fn declare_stall(&self, report: String) {
        if self.stall_error.set(report).is_ok() {
            for t in self.external_waiters.lock().unwrap().iter() {
                t.unpark();
            }
        }
    }

    /// Why outside waiters must stop waiting, if they must: a deadlock or a declared stall.
    pub(crate) fn failure(&self) -> Option<Error> {
        if let Some(r) = self.deadlock.get() {
            return Some(Error::Deadlock(r.clone()));
        }
        self.stall_error.get().map(|r| Error::Stall(r.clone()))
    }

    pub(crate) fn bump_epoch(&self) {
        self.epoch.fetch_add(1, AcqRel);
    }

    /// A wake-up from outside the runtime's Ms (`park::ready_notified`).
    pub(crate) fn outside_wake(&self) {
        self.bump_epoch();
        if !self.outside_woke.load(Relaxed) {
            self.outside_woke.store(true, Relaxed);
        }
    }
}

/// An error starting or using the runtime.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A bad setting (GOMAXPROCS, GODEBUG, a builder value).
    Config(ConfigError),
    /// A goroutine stack could not be mapped.
    Stack(StackError),
    /// The OS refused to start a runtime thread.
    Thread(std::io::Error),
    /// Every goroutine is parked and nothing can wake them.
    Deadlock(String),
    /// With [`Builder::stall_is_error`]: a goroutine kept its P's thread past the
    /// `GODEBUG=stalldump` threshold (default 1000 ms) while other goroutines waited for that
    /// P. The report names the goroutine, the P, what the thread does (CPU loop, futex wait,
    /// system call) and the program's source line, then lists every goroutine, as a deadlock
    /// report does. The runtime is poisoned: see [`Builder::stall_is_error`].
    Stall(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Config(e) => write!(f, "{e}"),
            Error::Stack(e) => write!(f, "{e}"),
            Error::Thread(e) => write!(f, "cannot start a runtime thread: {e}"),
            Error::Deadlock(report) | Error::Stall(report) => write!(f, "{report}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config(e)
    }
}

impl From<StackError> for Error {
    fn from(e: StackError) -> Self {
        Error::Stack(e)
    }
}

/// GOMAXPROCS as the GC heap's collector takes it (`gc::procs`: its worker split, its CPU fraction, gctrace's
/// `N P`): the Ps of the live runtimes, summed, but not past the CPU count unless one runtime
/// alone has more Ps (then its count); 0 while no runtime is live. So with one runtime it is
/// that runtime's GOMAXPROCS, whichever thread collects (a goroutine, a plain thread, the
/// background worker). Recomputed at `build` and at a runtime's drop only, from
/// [`LIVE_RUNTIME_PROCS`].
///
/// Why summed and capped: the mutators of every runtime allocate on the one heap, so the
/// collector's quarter of the Ps is of all of them; but a process that adds a runtime beside
/// the default one (`gort::go` outside any runtime) on a 64-CPU machine must not get 32 mark
/// workers for 64 CPUs. Rejected: the calling goroutine's runtime (the previous rule: a
/// background cycle and a forced one of the same program got different worker splits and
/// different `N P`), the CPU count alone (ignores GOMAXPROCS).
static COLLECTOR_PROCS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
/// The GOMAXPROCS of each live runtime.
static LIVE_RUNTIME_PROCS: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());

/// A runtime with `nprocs` Ps started (`up`) or stopped.
pub(crate) fn runtime_procs(nprocs: usize, up: bool) {
    let mut live = LIVE_RUNTIME_PROCS.lock().unwrap_or_else(|e| e.into_inner());
    if up {
        live.push(nprocs);
    } else if let Some(i) = live.iter().position(|&n| n == nprocs) {
        live.swap_remove(i);
    }
    let sum: usize = live.iter().sum();
    let cap = live
        .iter()
        .copied()
        .max()
        .unwrap_or(0)
        .max(crate::env::ncpu());
    COLLECTOR_PROCS.store(sum.min(cap), std::sync::atomic::Ordering::Relaxed);
}

/// [`COLLECTOR_PROCS`]: 0 while no runtime is live. Read by the GC heap (`gc::procs`), which
/// sits above the scheduler and so reads it here rather than being told.
pub(crate) fn collector_procs() -> usize {
    COLLECTOR_PROCS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Configures and starts a [`Runtime`].
///
/// ```
/// let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
/// assert_eq!(rt.block_on(|| 6 * 7), 42);
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    gomaxprocs: Option<usize>,
    stack_size: usize,
    godebug: Option<GoDebug>,
    /// The GC keys (`env::GC_GODEBUG_KEYS`) the `godebug` string names: applied to the
    /// process-wide collector at `build`.
    gc_keys: Vec<&'static str>,
    detect_deadlock: bool,
    stall_is_error: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// Defaults: GOMAXPROCS and GODEBUG from the environment, 256 KiB stacks, deadlock
    /// detection on. Without `GOMAXPROCS`, the number of Ps is Go 1.25's container-aware
    /// default (the affinity mask's CPUs, lowered to the CPU cgroup limit rounded up, at
    /// least 2; [`crate::env::cgroup`]), read when the runtime is built.
    pub fn new() -> Builder {
        Builder {
            gomaxprocs: None,
            stack_size: DEFAULT_STACK_SIZE,
            godebug: None,
            gc_keys: Vec::new(),
            detect_deadlock: true,
            stall_is_error: false,
        }
    }

    /// Number of Ps (overrides the `GOMAXPROCS` environment variable).
    pub fn gomaxprocs(mut self, n: usize) -> Builder {
        self.gomaxprocs = Some(n);
        self
    }

    /// Usable size of each goroutine stack (virtual; committed lazily). Rounded up to pages.
    /// From 16 KiB to 1 GiB (Go's maximum); [`build`](Builder::build) refuses other sizes with
    /// [`Error::Config`].
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = bytes;
        self
    }

    /// GODEBUG settings (overrides the `GODEBUG` environment variable for this runtime's
    /// scheduler settings; a later call replaces an earlier one).
    ///
    /// The collector's keys (`gctrace`, `gccheckmark`, `gctorture`, `allocfreetrace`) are
    /// process-wide, as the GC heap is: those the string names are set for the whole process
    /// by [`build`](Builder::build), taking effect at the heap's next allocation or collection
    /// (the runtime built last wins, as with
    /// [`gort::gc::set_torture`](crate::gc::set_torture)); those it does not name keep their
    /// value (from the `GODEBUG` environment variable, read once). So
    /// `.godebug("gctrace=1")` prints a `gctrace` line per cycle from then on, and
    /// `.godebug("schedtrace=100")` leaves an environment's `gctrace=1` on.
    ///
    /// ```
    /// let rt = gort::Builder::new().godebug("gctrace=1").unwrap().build().unwrap();
    /// rt.block_on(gort::gc::gc); // prints `gc N @...s ...: ... (forced)` on stderr
    /// ```
    pub fn godebug(mut self, s: &str) -> Result<Builder, ConfigError> {
        self.godebug = Some(GoDebug::parse(s)?);
        // Go's parsegodebug: comma-separated `key=value` fields, keys matched exactly.
        self.gc_keys = crate::env::GC_GODEBUG_KEYS
            .into_iter()
            .filter(|k| {
                s.split(',')
                    .any(|f| f.split_once('=').is_some_and(|(n, _)| n == *k))
            })
            .collect();
        Ok(self)
    }

    /// Turns the deadlock detector off. It assumes that only goroutines wake goroutines; a
    /// program whose goroutines wait for plain OS threads may want it off.
    pub fn detect_deadlock(mut self, on: bool) -> Builder {
        self.detect_deadlock = on;
        self
    }

    /// Makes a stall an error (default off): when a goroutine keeps its P's thread past the
    /// `GODEBUG=stalldump` threshold (default 1000 ms; 1000 ms also when dumps are off)
    /// while other goroutines wait for that P (a std mutex, a raw blocking call, a loop that
    /// never calls into the runtime), [`Runtime::try_block_on`] returns [`Error::Stall`] with
    /// the full report instead of waiting for ever, as it returns a deadlock
    /// ([`Runtime::block_on`] panics with it, and a plain thread's `JoinHandle::join`
    /// returns it as its `Err` payload, a `String`).
    ///
    /// The stuck thread cannot be stopped, so the runtime is poisoned: later `try_block_on`
    /// calls return the same error at once. Dropping it stops every thread that can stop,
    /// waits at most a second for the rest and then leaves them running, detached, on the
    /// runtime's state, which is leaked rather than freed under them (memory stays valid; no
    /// goroutine of the runtime is resumed once it is dropped). The process can go on (build
    /// another runtime) or exit normally.
    ///
    /// ```no_run
    /// let rt = gort::Builder::new().gomaxprocs(1).stall_is_error(true).build().unwrap();
    /// let r = rt.try_block_on(|| {
    ///     let beside = gort::go(|| gort::time::sleep(std::time::Duration::from_millis(1)));
    ///     loop {} // keeps the only P while `beside` waits for it
    /// });
    /// assert!(matches!(r, Err(gort::Error::Stall(_))));
    /// ```
    pub fn stall_is_error(mut self, on: bool) -> Builder {
        self.stall_is_error = on;
        self
    }

    /// Starts the runtime: GOMAXPROCS worker threads (one M per P) and sysmon.
    pub fn build(self) -> Result<Runtime, Error> {
        let godebug = match self.godebug {
            Some(d) => d,
            None => GoDebug::from_env()?,
        };
        // Builder, GOMAXPROCS, then the container-aware default (read once: the P count is
        // fixed for the runtime's life, so GODEBUG=updatemaxprocs has nothing to update).
        let (nprocs, _) = crate::env::resolve_gomaxprocs(self.gomaxprocs, &godebug)?;
        // The GC reads these lazily; refuse bad values here, where they can be reported.
        crate::env::gogc_from_env()?;
        crate::env::gomemlimit_from_env()?;
        // The GC keys the builder names, for the whole process (see `godebug`): recorded
        // here, applied by the heap at its next use; a failure below leaves them recorded, as a
        // knob call would.
        crate::env::request_gc_godebug(&godebug, &self.gc_keys)?;
        // The one place the stack size is checked: spawns and stack pools take it as valid.
        if !crate::rt::stack::STACK_SIZE_RANGE.contains(&self.stack_size) {
            return Err(Error::Config(ConfigError {
                name: "stack_size".into(),
                value: self.stack_size.to_string(),
                expected: crate::rt::stack::STACK_SIZE_EXPECTED,
            }));
        }
        crate::rt::stack::install_overflow_handler();
        // Goroutine panics name the goroutine (panic_hook.rs); other panics go to the hook
        // installed before this first build.
        super::panic_hook::install();
        // Keep the interposed libc calls in the link of every program that runs goroutines.
        #[cfg(all(
            feature = "interpose",
            target_os = "linux",
            target_env = "gnu",
            not(target_feature = "crt-static"),
            not(gort_model)
        ))]
        crate::rt::interpose::link();
        let shared = Arc::new(Shared::new(
            nprocs,
            self.stack_size,
            godebug,
            self.detect_deadlock,
            self.stall_is_error,
        ));
        // The stack headroom's first count of the process's mappings, here rather than on
        // sysmon's first tick (`headroom::init_headroom`).
        crate::rt::stack::init_headroom();
        let mut threads = Vec::new();
        for pid in 0..nprocs {
            let s = shared.clone();
            let t = std::thread::Builder::new()
                .name(format!("gort-p{pid}"))
                .spawn(move || {
                    // A panic in the scheduler itself (not in a goroutine: those are caught in
                    // the task) would end this M silently and strand every goroutine pinned to
                    // it: Go throws, so do we.
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        super::worker::worker_main(s, pid)
                    }));
                    if r.is_err() {
                        eprintln!("fatal error: gort: the scheduler of P{pid} panicked (above)");
                        std::process::abort();
                    }
                })
                .map_err(Error::Thread)?;
            threads.push(t);
        }
        let s = shared.clone();
        threads.push(
            std::thread::Builder::new()
                .name("gort-sysmon".into())
                .spawn(move || super::sysmon::sysmon_main(s))
                .map_err(Error::Thread)?,
        );
        shared.threads.fetch_add(threads.len(), Relaxed);
        crate::rt::sched::sigquit::register(&shared);
        runtime_procs(nprocs, true);
        Ok(Runtime {
            shared,
            threads: Mutex::new(threads),
        })
    }
}

/// A running gort runtime: Ps, their Ms, sysmon and the blocking pool.
///
/// Dropping it stops the threads. Goroutines still parked at that point are never resumed;
/// their stacks are leaked rather than unwound on a foreign thread.
pub struct Runtime {
    pub(crate) shared: Arc<Shared>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("gomaxprocs", &self.shared.nprocs())
            .finish()
    }
}

impl Runtime {
    /// A runtime with the default settings (see [`Builder::new`]).
    pub fn new() -> Result<Runtime, Error> {
        Builder::new().build()
    }

    /// Builds a runtime from the environment.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Number of Ps.
    pub fn gomaxprocs(&self) -> usize {
        self.shared.nprocs()
    }

    /// Spawns a goroutine on this runtime (from any thread).
    #[track_caller]
    pub fn go<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        spawn_on(
            &self.shared,
            f,
            Location::caller(),
            super::spawn::Placement::Auto,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Runs `f` as the main goroutine and blocks the calling thread until it returns.
    ///
    /// A panic in `f` is resumed here. If every goroutine parks with nothing left to wake
    /// them, this panics with Go's `all goroutines are asleep - deadlock!` and the list of
    /// goroutines; use [`Runtime::try_block_on`] to get that as an error instead.
    #[track_caller]
    pub fn block_on<F, T>(&self, f: F) -> T
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        match self.try_block_on(f) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    /// Like [`Runtime::block_on`], but a deadlock, a spawn failure or (with
    /// [`Builder::stall_is_error`]) a stall is returned as an error.
    #[track_caller]
    pub fn try_block_on<F, T>(&self, f: F) -> Result<T, Error>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        if super::park::in_goroutine() {
            panic!("gort: block_on called from a goroutine; use go(...) and join() instead");
        }
        if let Some(r) = self.shared.stall_error.get() {
            return Err(Error::Stall(r.clone())); // poisoned
        }
        let h = spawn_on(
            &self.shared,
            f,
            Location::caller(),
            super::spawn::Placement::Auto,
        )?;
        let _prof = crate::rt::hooks::cputimer::register_thread(); // CPU-profile timer while profiling
        match h.join_or_deadlock() {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(payload)) => std::panic::resume_unwind(payload),
            Err(e) => Err(e),
        }
    }

    /// Number of live goroutines.
    pub fn num_goroutine(&self) -> usize {
        self.shared.ngoroutines()
    }

    /// Stall episodes reported so far in this runtime (what [`crate::debug::num_stalls`]
    /// returns from its goroutines).
    pub fn num_stalls(&self) -> u64 {
        self.shared.stall_reports.load(Relaxed)
    }

    /// Times every goroutine stayed asleep for a second in a runtime that threads outside it
    /// have woken goroutines in: not provably a deadlock (such a thread may wake one again), so
    /// the report went to stderr as a warning instead of ending the runtime.
    pub fn num_deadlock_warnings(&self) -> u64 {
        self.shared.deadlock_warnings.load(Relaxed)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, SeqCst);
        for p in self.shared.ps.iter() {
            p.unpark_m(); // also breaks a netpoll wait
        }
        self.shared.poke_sysmon();
        self.shared.blocking.shutdown();
        let me = std::thread::current().id();
        // A declared stall's thread may never return (`Builder::stall_is_error`): wait a
        // bounded time, then leave what still runs detached.
        let poisoned = self.shared.stall_error.get().is_some();
        let deadline = Instant::now() + std::time::Duration::from_secs(1);
        let mut left_running = false;
        for t in self.threads.lock().unwrap().drain(..) {
            if t.thread().id() == me {
                continue;
            }
            if poisoned {
                while !t.is_finished() && Instant::now() < deadline {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                if !t.is_finished() {
                    left_running = true;
                    continue; // detached: dropping the handle does not stop the thread
                }
            }
            let _ = t.join();
        }
        crate::rt::sched::sigquit::unregister(&self.shared);
        runtime_procs(self.shared.nprocs(), false);
        if left_running {
            // A thread still runs on this runtime's queues and registry (its Arc keeps them
            // allocated): leave the G -> Shared cycles in place, leaking the runtime.
            return;
        }
        // Break the reference cycles G -> Shared -> queues -> G.
        self.shared.global.lock().unwrap().clear();
        self.shared.gfree.lock().unwrap().clear();
        for shard in self.shared.allgs.iter() {
            shard.lock().unwrap().clear();
        }
    }
}

/// The process-wide runtime used by `gort::go` outside any runtime (Go has exactly one).
pub(crate) fn default_runtime() -> &'static Runtime {
    static DEFAULT: OnceLock<Runtime> = OnceLock::new();
    DEFAULT.get_or_init(|| {
        Builder::new()
            .build()
            .unwrap_or_else(|e| panic!("gort: cannot start the runtime: {e}"))
    })
}
