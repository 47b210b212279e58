//! Spawning goroutines (`go`) and joining them (`JoinHandle`).
//!
//! One allocation per spawn for the result packet and one for the G record; the closure is
//! written onto the goroutine's own stack by corosensei, and the stack comes from the P's
//! cache (no mmap on the hot path). A new goroutine goes to `runnext` of the spawning P (the
//! displaced one to the ring) and an idle P is woken to steal, as in Go; spawns from outside
//! the runtime go to the global queue.

use std::cell::UnsafeCell;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::sync::atomic::AtomicU8;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use std::sync::Arc;

use super::g::{Body, WaitReason, G};
use super::park::{ctx, current, Unparker};
use super::runtime::{default_runtime, Error, Shared};

/// Goroutine ids a P reserves at once.
const GOID_BATCH: u64 = 16;

const EMPTY: u8 = 0;
const WAITING: u8 = 1;
const DONE: u8 = 2;

/// Where a goroutine's result meets its joiner.
pub(crate) struct Packet<T> {
    state: AtomicU8,
    result: UnsafeCell<Option<std::thread::Result<T>>>,
    waiter: UnsafeCell<Option<Unparker>>,
}

// SAFETY: `result` is written once by the goroutine before `state` becomes DONE (Release) and
// read only by the joiner after it observes DONE (Acquire); `waiter` is written by the joiner
// before it publishes WAITING and read by the goroutine only after it observes WAITING.
unsafe impl<T: Send> Sync for Packet<T> {}
// SAFETY: as above; T: Send moves between threads once.
unsafe impl<T: Send> Send for Packet<T> {}

impl<T> Packet<T> {
    fn complete(&self, r: std::thread::Result<T>) {
        // SAFETY: only the goroutine writes `result`, once, before publishing DONE.
        unsafe { *self.result.get() = Some(r) };
        if self.state.swap(DONE, AcqRel) == WAITING {
            // SAFETY: the joiner wrote `waiter` before publishing WAITING, which we observed.
            if let Some(w) = unsafe { (*self.waiter.get()).take() } {
                w.unpark();
            }
        }
    }
}

/// The one allocation of a spawn: the closure until the goroutine starts, then its result.
struct Task<F, T> {
    f: UnsafeCell<Option<F>>,
    packet: Packet<T>,
}

// SAFETY: `f` is taken once, by the M that starts the goroutine (G field access rules: `body`
// is only touched by that M), and F: Send; `packet` is Sync on its own.
unsafe impl<F: Send, T: Send> Sync for Task<F, T> {}

impl<F, T> Body for Task<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    fn run(&self) {
        // SAFETY: run is called once, by the goroutine itself (see the Sync argument).
        let f = unsafe { (*self.f.get()).take() }.expect("a goroutine body runs once");
        let r = catch_unwind(AssertUnwindSafe(f));
        self.packet.complete(r);
    }

    fn fail(&self, msg: String) {
        // SAFETY: as in run: the starting M is the only party touching `f`.
        drop(unsafe { (*self.f.get()).take() });
        self.packet.complete(Err(Box::new(msg)));
    }
}

/// The joiner's view of a task (erasing the closure type).
trait Joinable<T>: Send + Sync {
    fn packet(&self) -> &Packet<T>;
}

impl<F, T> Joinable<T> for Task<F, T>
where
    F: Send,
    T: Send,
{
    fn packet(&self) -> &Packet<T> {
        &self.packet
    }
}

/// An owned permission to join a goroutine (wait for it to finish and take its result).
///
/// Like `std::thread::JoinHandle`: dropping it detaches the goroutine.
pub struct JoinHandle<T> {
    task: Arc<dyn Joinable<T>>,
    shared: Arc<Shared>,
    id: u64,
}

impl<T> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle")
            .field("goroutine", &self.id)
            .finish()
    }
}

impl<T> JoinHandle<T> {
    /// The goroutine's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// True once the goroutine has finished.
    pub fn is_finished(&self) -> bool {
        self.task.packet().state.load(Acquire) == DONE
    }

    /// Waits for the goroutine to finish. `Err` carries its panic payload, as
    /// `std::thread::JoinHandle::join` does. Called from a goroutine this parks the goroutine,
    /// not the thread.
    ///
    /// Called from a plain thread while the runtime deadlocks, it returns `Err` with the
    /// deadlock report (a `String`) as the payload instead of waiting forever.
    #[track_caller]
    pub fn join(self) -> std::thread::Result<T> {
        match self.join_or_deadlock() {
            Ok(r) => r,
            Err(report) => Err(Box::new(report)),
        }
    }

    /// Waits; `Err(report)` if the runtime deadlocked while a plain thread waited.
    #[track_caller]
    pub(crate) fn join_or_deadlock(self) -> Result<std::thread::Result<T>, String> {
        super::park::preempt_point();
        let at = Location::caller();
        let external = !super::park::in_goroutine();
        let packet = self.task.packet();
        if packet.state.load(Acquire) != DONE {
            // SAFETY: state is EMPTY, so only we (the single joiner: JoinHandle is not Clone
            // and join takes self) touch `waiter` until we publish WAITING.
            unsafe { *packet.waiter.get() = Some(Unparker::current()) };
            if external {
                self.shared.add_external_waiter();
            }
            if packet
                .state
                .compare_exchange(EMPTY, WAITING, AcqRel, Acquire)
                .is_ok()
            {
                while packet.state.load(Acquire) != DONE {
                    if external && self.shared.is_deadlocked() {
                        self.shared.remove_external_waiter();
                        return Err(self.shared.deadlock.get().cloned().unwrap_or_default());
                    }
                    super::park::park_at(WaitReason::Join, at);
                }
            }
            if external {
                self.shared.remove_external_waiter();
            }
        }
        // SAFETY: DONE was observed with Acquire; the goroutine no longer touches `result`.
        let r = unsafe { (*packet.result.get()).take() };
        Ok(r.expect("a finished goroutine left its result"))
    }
}

/// Error returned by [`try_go`] when a goroutine cannot be created.
pub type SpawnError = Error;

/// Starts a goroutine running `f` and returns a handle to join it (Go's `go` statement).
///
/// Called from a goroutine it uses that goroutine's runtime; elsewhere the process-wide
/// runtime, built on first use from `GOMAXPROCS`/`GODEBUG`.
///
/// # Panics
/// When no stack can be mapped (see [`try_go`] for the error) or the environment holds an
/// invalid setting.
#[track_caller]
pub fn go<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    try_go(f).unwrap_or_else(|e| panic!("gort: go: {e}"))
}

/// Like [`go`], but a failure to create the goroutine (its stack could not be mapped,
/// for instance because `vm.max_map_count` is exhausted) is returned as an error.
#[track_caller]
pub fn try_go<F, T>(f: F) -> Result<JoinHandle<T>, SpawnError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let at = Location::caller();
    match ctx() {
        Some(c) => {
            // SAFETY: the Ctx's Shared is kept alive by the worker's Arc; we clone it.
            let shared = unsafe {
                Arc::increment_strong_count(c.shared);
                Arc::from_raw(c.shared)
            };
            spawn_on(&shared, f, at)
        }
        None => spawn_on(&default_runtime().shared, f, at),
    }
}

pub(crate) fn spawn_on<F, T>(
    shared: &Arc<Shared>,
    f: F,
    at: &'static Location<'static>,
) -> Result<JoinHandle<T>, Error>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let worker = ctx().filter(|c| std::ptr::eq(c.shared, Arc::as_ptr(shared)));
    crate::stack::check_headroom(shared.stacks.stack_size())?;
    let task: Arc<Task<F, T>> = Arc::new(Task {
        f: UnsafeCell::new(Some(f)),
        packet: Packet {
            state: AtomicU8::new(EMPTY),
            result: UnsafeCell::new(None),
            waiter: UnsafeCell::new(None),
        },
    });
    let body: Arc<dyn Body> = task.clone();
    let parent = current().map_or(0, |(_, g)| g.id);
    let id = match worker {
        Some(c) => {
            // SAFETY: we are this P's M.
            let local = unsafe { c.p().local() };
            if local.goid_next == local.goid_end {
                // Go's goidcache: reserve ids 16 at a time.
                local.goid_next = shared.next_goid.fetch_add(GOID_BATCH, Relaxed);
                local.goid_end = local.goid_next + GOID_BATCH;
            }
            local.goid_next += 1;
            c.p().counters.spawned.fetch_add(1, AcqRel);
            local.goid_next - 1
        }
        None => {
            shared.ext_spawned.fetch_add(1, AcqRel);
            shared.next_goid.fetch_add(1, Relaxed)
        }
    };
    let g = match worker.and_then(|c| reuse_g(c, shared)) {
        Some(mut g) => {
            // The free list holds only records of this runtime that nobody else references.
            Arc::get_mut(&mut g)
                .expect("a free G record is unshared")
                .reset(id, parent, at, body);
            g
        }
        None => Arc::new(G::new(id, parent, at, shared.clone(), Some(body))),
    };
    crate::trace::go_create(id, parent);
    match worker {
        Some(c) if c.p().locked_g.load(Relaxed).is_null() => {
            if let Some(old) = c.p().swap_runnext(Some(g)) {
                super::worker::requeue(c, old);
            }
            // Wake an idle P only when there is something it can take: the ring (runnext
            // alone is this P's next pick, and an idle M costs a futex wake-up).
            if !c.p().ring.is_empty() {
                shared.wakep();
            }
        }
        _ => shared.global_push([g]),
    }
    super::park::preempt_point();
    Ok(JoinHandle {
        task,
        shared: shared.clone(),
        id,
    })
}

/// A finished G record from this P's free list, refilled from the global list in batches.
fn reuse_g(c: &super::park::Ctx, shared: &Shared) -> Option<super::g::GRef> {
    // SAFETY: we are this P's M.
    let local = unsafe { c.p().local() };
    if local.gfree.is_empty() {
        let mut global = shared.gfree.lock().ok()?;
        let n = global.len().min(32);
        let at = global.len() - n;
        local.gfree.extend(global.drain(at..));
    }
    local.gfree.pop()
}

/// The calling goroutine's id (Go hides it; gort exposes it for diagnostics). 0 outside a
/// goroutine.
pub fn goid() -> u64 {
    current().map_or(0, |(_, g)| g.id)
}

/// Number of live goroutines in the current runtime (the process-wide one outside
/// goroutines). Go's `runtime.NumGoroutine`.
pub fn num_goroutine() -> usize {
    match ctx() {
        Some(c) => c.shared().ngoroutines(),
        None => default_runtime().num_goroutine(),
    }
}

/// Number of Ps of the current runtime (Go's `runtime.GOMAXPROCS(0)`).
pub fn gomaxprocs() -> usize {
    match ctx() {
        Some(c) => c.shared().nprocs(),
        None => default_runtime().gomaxprocs(),
    }
}
