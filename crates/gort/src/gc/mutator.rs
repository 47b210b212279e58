//! Mutators and the stop-the-world handshake.
//!
//! Every thread that touches the GC heap has a [`Mutator`] record (registered on first use):
//! its allocation cache and a `busy` word. Every heap operation that changes what the collector
//! reads (allocating, rooting/unrooting a handle, starting or ending a `GcCell` write) runs
//! inside a *guard*: `busy` counts the guards the thread is in (1 for the outermost), 0 after.
//! Guards are short, never park and run no user code.
//!
//! Stopping the world is a Dekker handshake: the collector stores `STOP = true` then waits
//! until every mutator's `busy` is 0; a mutator stores `busy = 1` then loads `STOP`, and if it
//! is set, clears `busy` and waits for the world to restart. Both store-then-load pairs are
//! `SeqCst`, so in the single total order either the mutator sees `STOP` (and backs off) or
//! the collector sees `busy = 1` (and waits). The guard's exit is a `Release` store that the
//! collector's `SeqCst` load of `busy = 0` acquires, so everything a mutator did in its guards
//! happens before the collector reads the heap; restarting is a `Release` store of
//! `STOP = false` that guard entry acquires, so the collector's writes (sweep, cache resets)
//! happen before the mutator's next guard.
//!
//! **Asymmetric fence.** A `SeqCst` store costs an `xchg` (~20 cycles) on every guard entry,
//! i.e. on every allocation. Where Linux offers `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`
//! (4.14+), the mutator side becomes a plain store, a compiler fence and a plain load, and the
//! collector, between its store of `STOP` and its loads of `busy`, calls `membarrier`, which
//! makes every running thread of the process execute a full memory barrier: the same Dekker
//! argument holds with the mutators' fences supplied by the kernel (the technique of Linux
//! RCU, folly's asymmetric fence and .NET's `FlushProcessWriteBuffers`). Once enabled the mode
//! never turns off; a collector in that mode still loads `busy` with `SeqCst`, so a mutator
//! that entered on the `SeqCst` path before the switch is also covered.
//!
//! Reads need no guard: dereferencing a rooted handle, or an unrooted one inside an object
//! reached through a rooted one, reads objects the collector keeps alive and never writes.

use std::cell::{Cell, UnsafeCell};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering::*};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::mheap::SpanPtr;
use super::rootcache::RootCache;
use super::sizeclass::NCLASS;

/// A thread's allocation cache (Go's mcache) and local counters. Access rule: only the owning
/// thread inside a guard, or the collector with the world stopped.
pub(crate) struct Cache {
    /// Current span per class (null: none).
    pub spans: [SpanPtr; NCLASS],
    /// Spans of other types than the current one of their class, not full (at most
    /// `alloc::ALT_SPANS`, oldest first).
    pub alt: Vec<SpanPtr>,
    /// Objects allocated since the last flush.
    pub nmalloc: u64,
    /// Bytes (slot sizes) allocated since the last flush.
    pub bytes: u64,
    /// Objects this thread shaded grey through the write barrier, not yet handed to the marker.
    pub grey: Vec<usize>,
    /// Bytes this thread marked during the current mark: shaded by the barrier, or allocated
    /// black (summed into the live heap at mark termination).
    pub marked_bytes: u64,
    /// Root-count changes not yet added to the objects' `rc` (rootcache.rs).
    pub roots: RootCache,
}

/// One thread's record.
pub(crate) struct Mutator {
    busy: AtomicU32,
    /// The thread exited; the collector releases its cache and unregisters it.
    pub dead: AtomicBool,
    cache: UnsafeCell<Cache>,
}

// SAFETY: `cache` is only accessed by the owner inside a guard or by the collector with the
// world stopped (these exclude each other through the handshake); the rest is atomic.
unsafe impl Sync for Mutator {}
// SAFETY: as above; the SpanPtrs are addresses governed by span.rs.
unsafe impl Send for Mutator {}

impl Mutator {
    fn new() -> Mutator {
        Mutator {
            busy: AtomicU32::new(0),
            dead: AtomicBool::new(false),
            cache: UnsafeCell::new(Cache {
                spans: [SpanPtr(std::ptr::null_mut()); NCLASS],
                alt: Vec::new(),
                nmalloc: 0,
                bytes: 0,
                grey: Vec::new(),
                marked_bytes: 0,
                roots: RootCache::new(),
            }),
        }
    }

    /// The cache.
    ///
    /// # Safety
    /// The caller is the owner inside a guard, or the collector with the world stopped, and
    /// holds no other reference to the cache.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn cache(&self) -> &mut Cache {
        // SAFETY: exclusive by the access rule (caller).
        unsafe { &mut *self.cache.get() }
    }
}

/// What guard entry must check, in one word so that its fast path is one load: `STOP_BIT`
/// (the collector stops the world) and `FENCED_BIT` (no `membarrier`: guard entry takes the
/// `SeqCst` path). Zero: enter with a plain store and this load.
static GATE: AtomicU8 = AtomicU8::new(FENCED_BIT);
const STOP_BIT: u8 = 1;
const FENCED_BIT: u8 = 2;
/// `membarrier` is registered: guard entry uses the light path (see the module docs). Read by
/// the collector; mutators read `GATE`.
static ASYM: AtomicBool = AtomicBool::new(false);

const MEMBARRIER_CMD_QUERY: libc::c_long = 0;
const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

fn membarrier(cmd: libc::c_long) -> libc::c_long {
    // SAFETY: membarrier takes two integers and touches no memory of ours.
    unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0 as libc::c_long) }
}

/// Enables the asymmetric fence if the kernel supports it (once, from `gc::init`).
pub(crate) fn init_fence() {
    if std::env::var_os("GORT_GC_NO_MEMBARRIER").is_some() {
        return;
    }
    let q = membarrier(MEMBARRIER_CMD_QUERY);
    if q > 0
        && q & MEMBARRIER_CMD_PRIVATE_EXPEDITED != 0
        && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0
    {
        ASYM.store(true, SeqCst);
        GATE.fetch_and(!FENCED_BIT, SeqCst);
    }
}
static WORLD: Mutex<()> = Mutex::new(());
static RESTARTED: Condvar = Condvar::new();
pub(crate) static REGISTRY: Mutex<Vec<Arc<Mutator>>> = Mutex::new(Vec::new());
/// Used by threads whose own record is gone (thread-local destructors at thread exit).
static FALLBACK: Mutex<Option<Arc<Mutator>>> = Mutex::new(None);

struct Local {
    m: Arc<Mutator>,
}

impl Drop for Local {
    fn drop(&mut self) {
        // Guards from here on (later thread-local destructors) take the fallback record.
        CUR.with(|c| c.set(std::ptr::null()));
        self.m.dead.store(true, Release);
    }
}

thread_local! {
    /// Owns this thread's record and marks it dead at thread exit.
    static LOCAL: Local = {
        let m = Arc::new(Mutator::new());
        REGISTRY.lock().unwrap_or_else(|e| e.into_inner()).push(m.clone());
        CUR.with(|c| c.set(Arc::as_ptr(&m)));
        Local { m }
    };
    /// This thread's record while `LOCAL` holds it, else null: a constant-initialised
    /// thread-local without a destructor, so the guard's fast path is one `fs`-relative load
    /// (no lazy-initialisation state to test).
    static CUR: Cell<*const Mutator> = const { Cell::new(std::ptr::null()) };
}

/// Runs `f` inside a guard, with this thread's mutator record. Re-entrant: `busy` counts the
/// nesting (only its owner writes it; the collector waits for 0).
#[inline(always)]
pub(crate) fn with_guard<R>(f: impl FnOnce(&Mutator) -> R) -> R {
    let m = CUR.with(|c| c.get());
    if m.is_null() {
        return with_guard_slow(f);
    }
    // SAFETY: CUR is non-null only while this thread's LOCAL holds an Arc of the record (set
    // when it is created, cleared first thing in its destructor).
    let m = unsafe { &*m };
    let d = m.busy.load(Relaxed);
    if d == 0 {
        enter(m);
    } else {
        m.busy.store(d + 1, Relaxed);
    }
    let _exit = Exit(m, d);
    f(m)
}

/// The common case of a handle's clone or drop, as one guard with no call in it: this
/// thread's record exists and is in no guard, the world is not stopping, no mark runs (no
/// shading), and the root cache takes the change without an eviction (`add_fast`). Returns
/// false, having changed nothing, otherwise; the caller then takes the general path
/// (`with_guard` + `handle::count`). Without calls the fast path needs no saved registers:
/// clone + drop went from 3.7 to 2.1 ns (`benches/gc.rs`, `GcCloneDrop`, alternated runs).
#[inline(always)]
pub(crate) fn count_fast(addr: usize, d: isize) -> bool {
    let m = CUR.with(|c| c.get());
    if m.is_null() {
        return false;
    }
    // SAFETY: as in `with_guard`.
    let m = unsafe { &*m };
    if m.busy.load(Relaxed) != 0 {
        return false;
    }
    // `enter`'s fast path, inline; a stop in progress or a mark sends us to the general path
    // after this guard ends, having touched nothing.
    m.busy.store(1, Relaxed);
    std::sync::atomic::compiler_fence(SeqCst);
    let ok = GATE.load(Acquire) == 0
        && !super::barrier::MARKING.load(Relaxed)
        // SAFETY: the owner inside its guard (busy = 1, the gate open), no other reference.
        && unsafe { m.cache() }.roots.add_fast(addr, d);
    m.busy.store(0, Release);
    ok
}

/// The first guard of a thread (registers its record), and guards in thread-local destructors
/// after the record's owner is gone (they share one registered record under a lock).
#[cold]
#[inline(never)]
fn with_guard_slow<R>(f: impl FnOnce(&Mutator) -> R) -> R {
    if LOCAL.try_with(|_| ()).is_ok() {
        return with_guard(f);
    }
    let mut fb = FALLBACK.lock().unwrap_or_else(|e| e.into_inner());
    let m = fb
        .get_or_insert_with(|| {
            let m = Arc::new(Mutator::new());
            REGISTRY
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(m.clone());
            m
        })
        .clone();
    enter(&m);
    let _exit = Exit(&m, 0);
    f(&m)
}

/// Ends a guard level: `busy` back to the depth it had (0 ends the guard: a `Release` that the
/// collector's load acquires, module docs).
struct Exit<'a>(&'a Mutator, u32);
impl Drop for Exit<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.busy.store(self.1, Release);
    }
}

/// Whether this thread is inside a guard (it must not start a collection then).
pub(crate) fn in_guard() -> bool {
    let m = CUR.with(|c| c.get());
    // SAFETY: as in `with_guard`. (A thread-local destructor's fallback guard is not seen
    // here: those run no goroutine and start no collection.)
    !m.is_null() && unsafe { &*m }.busy.load(Relaxed) != 0
}

/// The GC heap API's preemption point (`rt::sched::park::preempt_point`), at the entry of
/// `Gc::new`, `Gc::clone`, `Weak::upgrade` and the like. Not inside a guard (the collector
/// waits for guards to end, and the M would run goroutines that may wait for the collector)
/// nor in a drop phase (its flag is per thread: the next goroutine on the M would inherit it).
#[inline(always)]
pub(crate) fn preempt_point() {
    if crate::rt::sched::park::preempt_pending() {
        preempt_point_slow();
    }
}

#[cold]
#[inline(never)]
fn preempt_point_slow() {
    if !in_guard() && !super::sweep::IN_DROP.try_with(|d| d.get()).unwrap_or(true) {
        crate::rt::sched::park::preempt_point();
    }
}

/// Guard entry at depth 0: `busy = 1`, then `GATE`. With `membarrier` (and the world running)
/// that is a plain store, a compiler fence and a plain load; the rest is `enter_slow`.
#[inline(always)]
fn enter(m: &Mutator) {
    m.busy.store(1, Relaxed);
    // The collector's membarrier supplies the full fence (module docs).
    std::sync::atomic::compiler_fence(SeqCst);
    if GATE.load(Acquire) != 0 {
        enter_slow(m);
    }
}

/// Guard entry without `membarrier` (the `SeqCst` store-then-load; the plain store of the
/// same value before it only makes the collector wait sooner), or while the world stops.
#[cold]
#[inline(never)]
fn enter_slow(m: &Mutator) {
    loop {
        let g = GATE.load(Acquire);
        if g & FENCED_BIT != 0 {
            m.busy.store(1, SeqCst);
            if GATE.load(SeqCst) & STOP_BIT == 0 {
                return;
            }
        } else if g & STOP_BIT == 0 {
            // Stopping ended between the fast path's load and this one; the plain store and
            // the compiler fence were made, and the next stop's membarrier orders them.
            m.busy.store(1, Relaxed);
            std::sync::atomic::compiler_fence(SeqCst);
            if GATE.load(Acquire) & STOP_BIT == 0 {
                return;
            }
        }
        m.busy.store(0, SeqCst);
        wait_restart();
    }
}

#[cold]
fn wait_restart() {
    let mut g = WORLD.lock().unwrap_or_else(|e| e.into_inner());
    while GATE.load(Acquire) & STOP_BIT != 0 {
        g = RESTARTED.wait(g).unwrap_or_else(|e| e.into_inner());
    }
}

/// How long a stop waits for a guard before it gives up and restarts the world: a guard is
/// microseconds long on a thread that has its CPU (an assist slice ~10 us), so one still open
/// after this belongs to a thread the OS took off its CPU, for up to a scheduler tick (4 ms at
/// `HZ=250`) when a competing process got it.
const STUCK_GUARD: Duration = Duration::from_micros(100);
/// Stops given up in a row before a stop waits for every guard however long it takes (a
/// thread that is inside a guard at every attempt still lets the cycle finish).
const MAX_ABORTS: u32 = 8;

/// A stopped world (`stop_world`).
pub(crate) struct Stopped {
    /// The registered mutators, all outside their guards until [`start_world`].
    pub ms: Vec<Arc<Mutator>>,
    /// When the successful attempt began stopping: the pause runs from here to the restart.
    pub since: Instant,
    /// The world-stopped time of the attempts given up before it, for the pause's total.
    pub aborted_ns: u64,
}

/// Stops the world: returns once no mutator is inside a guard; until [`start_world`], guard
/// entries wait. The caller must not be inside a guard.
///
/// **A descheduled thread does not stretch the pause.** A thread the OS took off its CPU in
/// the middle of a guard (beside a `nice -n 19` loop its CPU goes to the competitor for a whole
/// tick) would hold every other mutator at the gate until it runs again. So an attempt that
/// finds a guard open for [`STUCK_GUARD`] restarts the world, waits with the world running
/// until that thread has left its guard (it is running again then), and stops again; the
/// attempts given up are counted in the pause's total (`Stopped::aborted_ns`). A given-up
/// attempt changed nothing: the collector only set and cleared `STOP` and read `busy` words.
/// While it waits for a guard the stop spins and never yields: under EEVDF a `sched_yield`
/// hands the CPU to a runnable `nice -n 19` process, which then keeps it for its slice.
pub(crate) fn stop_world() -> Stopped {
    debug_assert!(!in_guard());
    let mut aborted_ns = 0u64;
    let mut aborts = 0u32;
    loop {
        let since = Instant::now();
        // Not under `WORLD`: a mutator descheduled while it holds that lock (in
        // `wait_restart`, woken by the last restart) would stretch the pause to its time
        // slice. A waiter that still waits from the last pause keeps waiting, as it should.
        GATE.fetch_or(STOP_BIT, SeqCst);
        if ASYM.load(Relaxed) && membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0 {
            super::gctrace::gc_eprintln!(
                "fatal error: gort gc: membarrier failed after registration"
            );
            std::process::abort();
        }
        let ms = REGISTRY.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match wait_guards(&ms, aborts < MAX_ABORTS) {
            None => {
                return Stopped {
                    ms,
                    since,
                    aborted_ns,
                }
            }
            Some(stuck) => {
                let restarted = start_world();
                aborted_ns += (restarted - since).as_nanos() as u64;
                aborts += 1;
                ABORTED_STOPS.fetch_add(1, Relaxed);
                wait_guard_exit(&ms[stuck]);
            }
        }
    }
}

/// Stops given up because a guard stayed open (`stop_world`), since the process started.
pub(crate) static ABORTED_STOPS: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(0);

/// Waits until no mutator of `ms` is inside a guard (`None`), or, when `impatient`, until one
/// guard has stayed open for [`STUCK_GUARD`] (`Some(its index)`).
fn wait_guards(ms: &[Arc<Mutator>], impatient: bool) -> Option<usize> {
    for (i, m) in ms.iter().enumerate() {
        let mut spins = 0u32;
        let mut open_since = None;
        while m.busy.load(SeqCst) != 0 {
            spins = spins.saturating_add(1);
            if spins < 64 || impatient {
                std::hint::spin_loop();
                if impatient && spins.is_multiple_of(64) {
                    let t = *open_since.get_or_insert_with(Instant::now);
                    if t.elapsed() >= STUCK_GUARD {
                        return Some(i);
                    }
                }
            } else {
                std::thread::yield_now();
            }
        }
    }
    None
}

/// With the world running: waits until `m` is seen outside its guards (its thread has a CPU
/// again), at most 50 ms. Spins briefly, then sleeps the OS thread (never parks a goroutine:
/// `worker::thread_sleep`), which also leaves the CPU to a thread queued behind the collector.
fn wait_guard_exit(m: &Mutator) {
    let t = Instant::now();
    let mut spins = 0u32;
    while m.busy.load(SeqCst) != 0 && t.elapsed() < Duration::from_millis(50) {
        spins += 1;
        if spins < 64 {
            std::hint::spin_loop();
        } else {
            super::worker::thread_sleep(Duration::from_micros(20));
        }
    }
}

/// Restarts the world; returns when it did (guard entries proceed from then on), which ends
/// the pause. Waking the threads that waited comes after: a woken thread may preempt the
/// collector on its CPU for a scheduler tick, which is not a pause of anyone else.
pub(crate) fn start_world() -> Instant {
    // The pause ends with the store: guard entries proceed from here. Taking `WORLD` first
    // made the restart wait for any mutator holding it (one descheduled between its lock and
    // its condvar wait, or right after waking, holds it for its time slice). Clearing first
    // is safe: a waiter checks `GATE` under the lock and holds it until it waits, so the
    // notify below (under the lock) finds it waiting, or it saw the bit clear.
    GATE.fetch_and(!STOP_BIT, Release);
    let t = Instant::now();
    let _g = WORLD.lock().unwrap_or_else(|e| e.into_inner());
    RESTARTED.notify_all();
    t
}

/// Drops the records of exited threads from the registry (world stopped, caches released).
pub(crate) fn prune_dead() {
    REGISTRY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|m| !m.dead.load(Acquire));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    /// Mutators increment a pair of counters inside guards; the collector, with the world
    /// stopped, must always see them equal.
    #[test]
    fn handshake_excludes_guards() {
        static A: AtomicU64 = AtomicU64::new(0);
        static B: AtomicU64 = AtomicU64::new(0);
        let stop = Arc::new(AtomicBool::new(false));
        let hs: Vec<_> = (0..3)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(Relaxed) {
                        with_guard(|_| {
                            A.fetch_add(1, Relaxed);
                            std::hint::spin_loop();
                            B.fetch_add(1, Relaxed);
                        });
                    }
                })
            })
            .collect();
        let _l = super::super::collect::COLLECT
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for _ in 0..200 {
            stop_world();
            assert_eq!(A.load(Relaxed), B.load(Relaxed));
            start_world();
        }
        stop.store(true, Relaxed);
        for h in hs {
            h.join().unwrap();
        }
    }

    /// A guard held for 50 ms (what a thread the OS descheduled inside its guard looks like,
    /// stretched so that a loaded machine cannot blur it): the stop gives up its first attempt,
    /// holds the world for a fraction of the 50 ms in total, and still returns with the guard
    /// closed.
    #[test]
    fn a_long_guard_does_not_hold_the_world() {
        let _l = super::super::collect::COLLECT
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let inside = Arc::new(AtomicBool::new(false));
        let left = Arc::new(AtomicBool::new(false));
        let (i2, l2) = (inside.clone(), left.clone());
        let h = std::thread::spawn(move || {
            with_guard(|_| {
                i2.store(true, SeqCst);
                let t = Instant::now();
                while t.elapsed() < Duration::from_millis(50) {
                    std::hint::spin_loop();
                }
                l2.store(true, SeqCst);
            });
        });
        while !inside.load(SeqCst) {
            std::hint::spin_loop();
        }
        let aborted = ABORTED_STOPS.load(Relaxed);
        let stopped = stop_world();
        assert!(
            left.load(SeqCst),
            "the stop returned while the guard was open"
        );
        let restarted = start_world();
        assert!(
            ABORTED_STOPS.load(Relaxed) > aborted,
            "no attempt was given up"
        );
        let held = (restarted - stopped.since).as_nanos() as u64 + stopped.aborted_ns;
        assert!(
            held < 25_000_000,
            "the world was held {held} ns of the guard's 50 ms"
        );
        h.join().unwrap();
    }
}
