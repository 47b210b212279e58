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

use corosensei::Yielder;

use super::g::{Coro, WaitReason, G};
use super::park::{ctx, current, Unparker};
use super::runtime::{default_runtime, Error, Shared};

const EMPTY: u8 = 0;
const WAITING: u8 = 1;
const DONE: u8 = 2;

/// Where a goroutine's result meets its joiner.
struct Packet<T> {
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

/// An owned permission to join a goroutine (wait for it to finish and take its result).
///
/// Like `std::thread::JoinHandle`: dropping it detaches the goroutine.
pub struct JoinHandle<T> {
    packet: Arc<Packet<T>>,
    shared: Arc<Shared>,
    id: u64,
}

impl<T> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle").field("goroutine", &self.id).finish()
    }
}

impl<T> JoinHandle<T> {
    /// The goroutine's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// True once the goroutine has finished.
    pub fn is_finished(&self) -> bool {
        self.packet.state.load(Acquire) == DONE
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
        if self.packet.state.load(Acquire) != DONE {
            // SAFETY: state is EMPTY, so only we (the single joiner: JoinHandle is not Clone
            // and join takes self) touch `waiter` until we publish WAITING.
            unsafe { *self.packet.waiter.get() = Some(Unparker::current()) };
            if external {
                self.shared.add_external_waiter();
            }
            if self
                .packet
                .state
                .compare_exchange(EMPTY, WAITING, AcqRel, Acquire)
                .is_ok()
            {
                while self.packet.state.load(Acquire) != DONE {
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
        let r = unsafe { (*self.packet.result.get()).take() };
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
    let stack = match worker {
        // SAFETY: we are on this P's own M (ctx is thread-local to it).
        Some(c) => unsafe { c.p().local() }.stacks.get(&shared.stacks)?,
        None => shared.stacks.get()?,
    };
    let (lo, hi) = stack.guard_range();
    let guard = (lo, hi, stack.usable_size());
    let packet = Arc::new(Packet {
        state: AtomicU8::new(EMPTY),
        result: UnsafeCell::new(None),
        waiter: UnsafeCell::new(None),
    });
    let p2 = packet.clone();
    let coro = Coro::with_stack(stack, move |y: &Yielder<(), ()>, ()| {
        let (_, g) = current().expect("a goroutine runs on an M");
        // SAFETY: we are this goroutine, at its start, on its own stack.
        unsafe { g.set_yielder(y) };
        let r = catch_unwind(AssertUnwindSafe(f));
        p2.complete(r);
    });
    let parent = current().map_or(0, |(_, g)| g.id);
    let id = shared.next_goid.fetch_add(1, Relaxed);
    let shard = worker.map_or(shared.nprocs(), |c| c.p().id);
    let g = Arc::new(G::new(
        id,
        parent,
        at,
        shared.clone(),
        Some(coro),
        guard,
        shard,
    ));
    shared.register_g(&g);
    shared.ngoroutines.fetch_add(1, AcqRel);
    shared.bump_epoch();
    match worker {
        Some(c) if c.p().locked_g.load(Relaxed).is_null() => {
            if let Some(old) = c.p().swap_runnext(Some(g)) {
                super::worker::requeue(c, old);
            }
            shared.wakep();
        }
        _ => shared.global_push([g]),
    }
    super::park::preempt_point();
    Ok(JoinHandle {
        packet,
        shared: shared.clone(),
        id,
    })
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
        Some(c) => c.shared().ngoroutines.load(Relaxed),
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
