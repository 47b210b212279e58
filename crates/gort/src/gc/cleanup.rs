//! Cleanups: a function that runs some time after an object became unreachable (Go 1.24's
//! `runtime.AddCleanup` and `Cleanup.Stop`).
//!
//! # The problem
//!
//! A GC object that owns an outside resource (a file descriptor, a handle into a C library, an
//! entry in a registry) wants the resource released when the object dies. A `#[gc(skip)]`
//! field's `Drop` does that from inside the object, but it runs on the collecting thread, in
//! the drop phase, for one object at a time and with no way to cancel it. Go's answer to the
//! same problem is `runtime.AddCleanup(ptr, f, arg)`: `f(arg)` runs once `ptr`'s object is
//! unreachable; `f` never sees the object (so, unlike a finalizer, it cannot resurrect it and
//! the object is freed by the same cycle that found it dead), several cleanups may be attached
//! to one object, and `Cleanup.Stop` cancels one. The hard parts are the same as for weak
//! handles: deciding "unreachable" while the collector runs concurrently with the mutators,
//! and addresses: an entry is found by its object's address, and a freed slot is reused by new
//! objects, so an entry must never outlive the object it was made for.
//!
//! ```
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use std::sync::Arc;
//!
//! static CLOSED: AtomicBool = AtomicBool::new(false);
//! let file = gort::Gc::new(7u64); // stands for an object owning descriptor 7
//! let _c = gort::gc::add_cleanup(&file, 7u64, |fd| {
//!     assert_eq!(fd, 7); // the argument, never the object
//!     CLOSED.store(true, Ordering::SeqCst);
//! });
//! drop(file);
//! gort::gc();
//! let t = std::time::Instant::now();
//! while !CLOSED.load(Ordering::SeqCst) {
//!     assert!(t.elapsed().as_secs() < 5, "the cleanup did not run");
//!     std::thread::sleep(std::time::Duration::from_millis(1));
//! }
//! ```
//!
//! # How
//!
//! * [`add_cleanup`] boxes `move || f(arg)` into an [`Entry`] (the job behind a mutex, taken
//!   exactly once: by the cleanup thread to run it, or by [`Cleanup::stop`] to drop it) and
//!   inserts it into a side table keyed by `(object address, sequence number)`, so one object
//!   may carry any number of cleanups and `stop` removes exactly its own. The table holds
//!   addresses, not handles: it is no root, and the object dies as if it had no cleanup.
//! * At mark termination (STW2, in `collect.rs`, right after `weak::clear_dead`, and again in
//!   `gctrace=2`'s repeated mark), with the world stopped and marking finished,
//!   [`queue_dead`] walks the table and moves every entry whose object is unmarked to the
//!   run queue, removing it from the table. This is the same point, and the same test of the
//!   mark bit, at which weak handles are cleared: the sweep, the only thing that frees objects
//!   or queues their drops, starts after this pause, so an entry is out of the table before
//!   its object's slot can be freed and reused. After the world restarts the collector calls
//!   [`wake`], which signals the cleanup thread.
//! * One dedicated OS thread, `gort-cleanup`, started by the first `add_cleanup`, pops jobs
//!   from the queue and runs them one after another, outside every lock (Go runs cleanups
//!   sequentially on one goroutine too; a cleanup that blocks delays the later ones, and
//!   should hand long work to a goroutine or thread of its own). A cleanup that panics aborts
//!   the process, as a panicking drop does here and an unrecovered panic does in Go.
//! * [`Cleanup::stop`] removes the entry from the table (if the collector has not queued it)
//!   and takes the job (if the cleanup thread has not): a stopped cleanup's `arg` is dropped
//!   by `stop`, on the calling thread, and `f` never runs. Go's `Stop` promises only to cancel
//!   a cleanup not yet queued; here it also cancels a queued one that has not started.
//!
//! What a cleanup may do: anything (allocate, collect, take locks, spawn goroutines, add
//! cleanups): no gort lock is held while it runs. What it must not rely on: running at all
//! before the process exits (the thread is not joined; Go makes the same non-promise), running
//! promptly (only after a cycle that found the object dead: `gort::gc()` forces one, and
//! returns without waiting for the cleanups it queued, as Go's `runtime.GC` does), or running
//! before the object's own drop glue (the two run concurrently on different threads).
//!
//! **`arg` must not keep the object alive.** `arg` and the closure `f` live in the job, which
//! is outside the heap, so every `Gc` they hold is a root: if one leads to the object, the
//! object never becomes unreachable and the cleanup never runs (a leak, as in Go).
//! `add_cleanup` panics in the one case it can see cheaply, as Go's does: `arg` is itself a
//! handle to the object.
//!
//! # Why a thread and not a goroutine
//!
//! The GC heap is process-global while goroutines belong to one runtime (one per
//! `Builder::run`), and a program may use `Gc` with no runtime at all (plain threads, tests):
//! a cleanup goroutine would need a runtime that may not exist, or may be shut down while its
//! cleanups are pending. A plain thread exists whenever cleanups do, and its cleanups can
//! still start goroutines in whatever runtime they capture.
//!
//! # Rejected alternatives
//!
//! * *Go's specials* (a record on the object's span, found by the sweep when it frees the
//!   object): gort's sweep runs under the heap lock and partly inside allocators' guards; the
//!   queueing would have to take the cleanup lock there, and `stop` would race the sweep of
//!   the span. Queueing at STW2, like weak clearing, needs no per-span data and costs nothing
//!   when no cleanups exist; the price is pause time, a table walk of a few ns per entry.
//! * *Running cleanups on the collecting thread after the sweep* (beside the drops): a slow or
//!   blocking cleanup would delay `gort::gc()`'s return and the next cycle, and a cleanup that
//!   calls `gort::gc()` would recurse into the collector.
//! * *Finalizers* (`f` receives the object): the object must then survive its own death for a
//!   cycle (resurrection), everything it reaches too, and a finalizer may store it somewhere
//!   reachable again; Go 1.24 added cleanups to replace them for this reason.
//! * *Holding a `Weak` per cleanup and polling it*: no one to poll, and a cleared slot does not
//!   say when.
//!
//! # Invariants and orderings
//!
//! 1. An entry in the table names an object that is neither freed nor in the `fin` state:
//!    `add_cleanup` inserts it while the caller holds a handle to the object (alive), and every
//!    later STW2 either finds the object marked or moves the entry out of the table before that
//!    cycle's sweep starts. So `queue_dead` reads the mark bit of a mapped span's slot that
//!    still holds that object, and an entry never names a newer object at a reused address.
//! 2. The mark bits `queue_dead` reads are final: world stopped, marking finished (the barrier
//!    is off), the cycle's sweep (which clears them) not started. They are the bits
//!    `weak::clear_dead` read in the same pause, so when a cleanup runs every `Weak` to its
//!    object has been cleared (Go orders weak clearing before cleanups the same way).
//! 3. A job runs at most once: it is moved out of its mutex (`Option::take`) by the cleanup
//!    thread to run it or by `stop` to drop it, whichever comes first.
//! 4. **Lock order.** The collector takes `STATE` while the world is stopped, so no thread
//!    may enter a guard (allocate, clone or drop a `Gc`) while holding `STATE` or an entry's
//!    job lock: it would wait for the world and the collector for the lock. Under `STATE`
//!    only table and queue operations run, no user code, and no `Arc<Entry>` whose job might
//!    still be present is dropped there: jobs (and with them `arg` and `f`) are dropped or run
//!    after the locks are released. The collector never takes a job lock.
//!
//! Who touches what: `add_cleanup` inserts into the table (any thread, outside guards);
//! `queue_dead` moves table entries to the queue (the collector, world stopped); the cleanup
//! thread pops the queue and takes jobs; `stop` removes its table entry and takes its job.

use std::any::Any;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once};

use super::handle::Gc;
use super::mutator::in_guard;
use super::span::{Span, MARK};
use super::visit::Trace;

type Job = Box<dyn FnOnce() + Send>;

/// One cleanup: its table key and its job (see invariant 3).
struct Entry {
    key: (usize, u64),
    job: Mutex<Option<Job>>,
}

impl Entry {
    fn take_job(&self) -> Option<Job> {
        self.job.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// The table and the run queue, under one lock (invariant 4).
struct State {
    /// `(object address, sequence number)` -> entry, for objects not yet found dead.
    table: BTreeMap<(usize, u64), Arc<Entry>>,
    /// Entries whose objects died, in the order the collector found them.
    queue: VecDeque<Arc<Entry>>,
    next_seq: u64,
}

static STATE: Mutex<State> = Mutex::new(State {
    table: BTreeMap::new(),
    queue: VecDeque::new(),
    next_seq: 0,
});
/// Signalled by [`wake`] when the queue has entries; the cleanup thread waits on it.
static WAKE: Condvar = Condvar::new();
/// Set by [`queue_dead`] when it queued something, cleared by [`wake`].
static QUEUED: AtomicBool = AtomicBool::new(false);
static THREAD: Once = Once::new();

fn state() -> MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A cleanup attached to an object by [`add_cleanup`] (Go's `runtime.Cleanup`). Dropping it
/// does not cancel the cleanup; [`stop`](Cleanup::stop) does. Clones name the same cleanup.
///
/// ```
/// use gort::gc::{add_cleanup, Gc, Trace};
///
/// #[derive(Trace)]
/// struct Conn {
///     fd: i32,
/// }
///
/// let conn = Gc::new(Conn { fd: 7 });
/// let (tx, rx) = std::sync::mpsc::channel();
/// let c = add_cleanup(&conn, conn.fd, move |fd| tx.send(fd).unwrap()); // the fd, not the object
/// drop(conn);
/// gort::gc(); // finds the object dead (and frees it); the cleanup runs soon after
/// assert_eq!(rx.recv().unwrap(), 7);
/// c.stop(); // no effect now; while `conn` lived it would have cancelled the cleanup
///
/// let kept = Gc::new(Conn { fd: 8 });
/// let (tx, rx) = std::sync::mpsc::channel::<i32>();
/// add_cleanup(&kept, kept.fd, move |fd| tx.send(fd).unwrap()).stop(); // cancelled
/// drop(kept);
/// gort::gc();
/// // The stopped cleanup never runs; `stop` dropped its closure (and `tx`) at once.
/// assert!(rx.recv().is_err());
/// ```
#[derive(Clone)]
pub struct Cleanup {
    entry: Arc<Entry>,
}

impl fmt::Debug for Cleanup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(Cleanup)")
    }
}

/// Attaches a cleanup to `obj`'s object (Go 1.24's `runtime.AddCleanup`): some time after a
/// collection finds the object unreachable, `f(arg)` runs on gort's cleanup thread. `f` never
/// sees the object, which is freed normally by the cycle that found it dead (a cleanup does
/// not resurrect it). An object may have several cleanups; they run in no particular order,
/// each once, one at a time.
///
/// `arg` and `f` must not keep the object alive: a `Gc` they hold is a root, so if it leads to
/// the object, the cleanup never runs. If `arg` is itself a handle to the object this panics
/// (as Go's does). A cleanup that panics aborts the process. Cleanups pending when the process
/// exits may never run.
///
/// ```
/// let obj = gort::Gc::new(1u32);
/// let (tx, rx) = std::sync::mpsc::channel();
/// gort::gc::add_cleanup(&obj, "released", move |msg| tx.send(msg).unwrap());
/// drop(obj);
/// gort::gc();
/// let msg = rx.recv_timeout(std::time::Duration::from_secs(5)).expect("cleanup ran");
/// assert_eq!(msg, "released");
/// ```
///
/// ```should_panic
/// let obj = gort::Gc::new(1u32);
/// gort::gc::add_cleanup(&obj, obj.clone(), drop); // would keep the object alive forever
/// ```
pub fn add_cleanup<T, A, F>(obj: &Gc<T>, arg: A, f: F) -> Cleanup
where
    T: Trace + 'static,
    A: Send + 'static,
    F: FnOnce(A) + Send + 'static,
{
    if let Some(g) = (&arg as &dyn Any).downcast_ref::<Gc<T>>() {
        assert!(
            !Gc::ptr_eq(g, obj),
            "gort: add_cleanup: arg is the object itself; the cleanup would never run"
        );
    }
    super::mutator::preempt_point();
    super::init();
    // Invariant 4. (No user code runs in a guard, so this only catches gort's own mistakes.)
    debug_assert!(!in_guard(), "gort gc: add_cleanup inside a heap operation");
    THREAD.call_once(start_thread);
    let addr = Gc::raw(obj).addr();
    let job: Job = Box::new(move || f(arg));
    let mut s = state();
    let key = (addr, s.next_seq);
    s.next_seq += 1;
    let entry = Arc::new(Entry {
        key,
        job: Mutex::new(Some(job)),
    });
    // Invariant 1: the caller holds a handle, so the object is alive.
    s.table.insert(key, entry.clone());
    drop(s);
    Cleanup { entry }
}

impl Cleanup {
    /// Cancels the cleanup if it has not started (Go's `Cleanup.Stop`): `f` will not run and
    /// `arg` is dropped now, on this thread. No effect if the cleanup has started or finished,
    /// or was already stopped. Go promises only to cancel a cleanup whose object is still
    /// reachable; this also cancels one whose object died if the cleanup thread has not
    /// started it yet.
    pub fn stop(&self) {
        super::mutator::preempt_point();
        let removed = state().table.remove(&self.entry.key);
        // Invariant 4: the job (user values) is dropped with no lock held.
        let job = self.entry.take_job();
        drop(removed);
        drop(job);
    }
}

/// Mark termination: moves the entries of unmarked objects from the table to the run queue.
/// World stopped, marking finished, this cycle's sweep not started; the caller (the collector)
/// holds no cleanup lock.
pub(crate) fn queue_dead() {
    let mut guard = state();
    let s = &mut *guard;
    if s.table.is_empty() {
        return;
    }
    let before = s.queue.len();
    let queue = &mut s.queue;
    s.table.retain(|&(addr, _), e| {
        // SAFETY: invariant 1: the object at `addr` is not freed, so its span is mapped and
        // `addr` is a slot start of it.
        let sp = unsafe { &*Span::of(addr) };
        // SAFETY: invariant 2: the world is stopped and marking finished, and this cycle's
        // sweep (which clears mark bits) has not started: nobody writes the MARK bitmap now.
        let marked = unsafe { sp.test(MARK, sp.index_of(addr)) };
        if !marked {
            queue.push_back(e.clone()); // moves a reference: no job is dropped here
        }
        marked
    });
    if s.queue.len() > before {
        QUEUED.store(true, Relaxed);
    }
}

/// After the world restarted: signals the cleanup thread if `queue_dead` queued anything.
pub(crate) fn wake() {
    if QUEUED.swap(false, Relaxed) {
        // No lost wake-up: `queue_dead` pushed under `STATE`, and the thread checks the queue
        // under `STATE` before waiting (which releases it atomically), so it either saw the
        // entries or is waiting now.
        WAKE.notify_one();
    }
}

fn start_thread() {
    std::thread::Builder::new()
        .name("gort-cleanup".into())
        .spawn(run_cleanups)
        .expect("gort: cannot start the cleanup thread");
}

/// The cleanup thread: runs queued jobs one at a time, holding no lock (invariant 4).
fn run_cleanups() {
    loop {
        let entry = {
            let mut s = state();
            loop {
                if let Some(e) = s.queue.pop_front() {
                    break e;
                }
                s = WAKE.wait(s).unwrap_or_else(|e| e.into_inner());
            }
        };
        let Some(job) = entry.take_job() else {
            continue; // stopped after it was queued
        };
        drop(entry);
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
            super::gctrace::gc_eprintln!("fatal error: gort gc: a cleanup panicked");
            std::process::abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::time::{Duration, Instant};

    fn in_table(key: (usize, u64)) -> bool {
        state().table.contains_key(&key)
    }

    #[test]
    fn entry_leaves_the_table_when_queued_or_stopped() {
        let ran = Arc::new(AtomicUsize::new(0));
        let g = Gc::new(5u64);
        let r = ran.clone();
        let c = add_cleanup(&g, (), move |()| {
            r.fetch_add(1, SeqCst);
        });
        let r = ran.clone();
        let stopped = add_cleanup(&g, (), move |()| {
            r.fetch_add(100, SeqCst);
        });
        assert_eq!(c.entry.key.0, Gc::raw(&g).addr());
        assert!(in_table(c.entry.key) && in_table(stopped.entry.key));
        stopped.stop();
        assert!(!in_table(stopped.entry.key));
        crate::gc::gc();
        // Alive: still in the table, not run.
        assert!(in_table(c.entry.key));
        assert_eq!(ran.load(SeqCst), 0);
        drop(g);
        crate::gc::gc();
        // Invariant 1: out of the table by the end of the pause that found the object dead.
        assert!(!in_table(c.entry.key));
        let t = Instant::now();
        while ran.load(SeqCst) == 0 {
            assert!(t.elapsed() < Duration::from_secs(5), "cleanup did not run");
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(ran.load(SeqCst), 1, "the stopped cleanup ran");
        assert!(c.entry.take_job().is_none());
    }
}
