//! Spawning goroutines (`go`) and joining them (`JoinHandle`).
//!
//! No allocation on the hot path: the G record comes from the P's free list, the closure and
//! its result packet live in the record's inline task slot (`task.rs`), and the stack comes
//! from the P's cache (no mmap). A new goroutine goes to `runnext` of the spawning P (the
//! displaced one to the ring) and an idle P is woken to steal, as in Go; spawns from outside
//! the runtime go to the global queue.

use std::panic::Location;
use std::ptr::NonNull;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use std::sync::Arc;

use super::g::{Ancestor, GRef, WaitReason, DEAD, G, PLACE_LOCAL, PLACE_SPREAD};
use super::park::{ctx, current, Unparker};
use super::runtime::{default_runtime, Error, Shared};
use super::task::{Packet, Task, DONE};

/// Goroutine ids a P reserves at once.
const GOID_BATCH: u64 = 16;

/// An owned permission to join a goroutine (wait for it to finish and take its result).
///
/// Like `std::thread::JoinHandle`: dropping it detaches the goroutine.
pub struct JoinHandle<T> {
    /// The goroutine's record: keeps its task slot (and so `packet`) alive and unmoved.
    /// `None` only once `drop` has handed the record back.
    g: Option<GRef>,
    /// The result packet inside `g`'s task slot (`task.rs`).
    packet: NonNull<Packet<T>>,
    id: u64,
}

// SAFETY: the handle owns the right to join: the packet it points into is kept alive by `g`
// and synchronised by the packet's state (`task.rs`); T: Send crosses threads once, as in
// `std::thread::JoinHandle`, which is Send and Sync for the same bounds.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` only reads the packet's atomic state (`is_finished`, `id`).
unsafe impl<T: Send> Sync for JoinHandle<T> {}

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
        self.packet().state.load(Acquire) == DONE
    }

    fn packet(&self) -> &Packet<T> {
        // SAFETY: `packet` points into the task slot of `g`, which we hold (see the field).
        unsafe { self.packet.as_ref() }
    }

    fn shared(&self) -> &Arc<Shared> {
        &self
            .g
            .as_ref()
            .expect("the record is held until drop")
            .shared
    }

    /// Waits for the goroutine to finish. `Err` carries its panic payload, as
    /// `std::thread::JoinHandle::join` does. Called from a goroutine this parks the goroutine,
    /// not the thread.
    ///
    /// Called from a plain thread while the runtime deadlocks (or, with
    /// [`Builder::stall_is_error`](crate::Builder::stall_is_error), stalls), it returns `Err`
    /// with the report (a `String`) as the payload instead of waiting forever.
    #[track_caller]
    pub fn join(self) -> std::thread::Result<T> {
        match self.join_or_deadlock() {
            Ok(r) => r,
            Err(e) => Err(Box::new(e.to_string())),
        }
    }

    /// Waits; `Err` (`Error::Deadlock` or `Error::Stall`) if the runtime deadlocked or was
    /// declared stalled while a plain thread waited.
    #[track_caller]
    pub(crate) fn join_or_deadlock(self) -> Result<std::thread::Result<T>, Error> {
        super::park::preempt_point();
        let at = Location::caller();
        let external = !super::park::in_goroutine();
        let packet = self.packet();
        let shared = self.shared();
        if packet.state.load(Acquire) != DONE {
            if external {
                shared.add_external_waiter();
            }
            // SAFETY: we are the single joiner (JoinHandle is not Clone and join takes self).
            if unsafe { packet.set_waiter(Unparker::current()) } {
                while packet.state.load(Acquire) != DONE {
                    if let Some(e) = external.then(|| shared.failure()).flatten() {
                        shared.remove_external_waiter();
                        return Err(e);
                    }
                    super::park::park_at(WaitReason::Join, at);
                }
            }
            if external {
                shared.remove_external_waiter();
            }
        }
        // SAFETY: DONE was observed with Acquire.
        let r = unsafe { packet.take_result() };
        Ok(r.expect("a finished goroutine left its result"))
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // SAFETY: called once; we do not use the packet afterwards.
        unsafe { self.packet().detach() };
        // A finished record that only we still hold goes back to this P's free list (the
        // joiner's P: for join-heavy code the exit path sees our reference and cannot).
        let Some(g) = self.g.take() else { return };
        if Arc::strong_count(&g) == 1 && g.state.load(Acquire) == DEAD {
            if let Some(c) = ctx().filter(|c| std::ptr::eq(c.shared, Arc::as_ptr(&g.shared))) {
                super::worker::recycle_g(c, g);
            }
        }
    }
}

/// Error returned by [`try_go`] when a goroutine cannot be created.
pub type SpawnError = Error;

/// Starts a goroutine running `f` and returns a handle to join it (Go's `go` statement).
///
/// A goroutine runs on its P's OS thread, which it shares with the other goroutines of that
/// P: `thread_local!` values are per P, not per goroutine (use
/// [`goroutine_local!`](crate::goroutine_local) for those), and a call that blocks the thread
/// (a std mutex, a raw syscall) blocks them all (use [`blocking`](crate::blocking)).
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

/// Like [`go`], but a failure to create the goroutine is returned as an error.
///
/// # When the error arrives
/// A goroutine's stack is mapped at its first run, but reserved here: `try_go` returns
/// `Err` (a [`StackError`](crate::StackError) for which `is_map_count_limit()` holds) when the
/// stacks of every goroutine spawned and not finished, started or not, this one included,
/// would bring the process within a slack (1/16, at least 64 mappings) of
/// `vm.max_map_count` (each stack takes [`mappings_per_stack`](crate::mappings_per_stack)
/// mappings; at Linux's default of 65530 that is about 30,000 live goroutines). Called from a
/// goroutine of the same runtime, it first yields, letting the goroutines queued there run,
/// and retries as long as that frees room (a loop spawning short goroutines faster than they
/// run is slowed, not refused); the error comes when a yield frees nothing. A refusal costs no
/// system call. A goroutine `try_go` accepted gets its stack; only if the process's
/// other mappings grew past the slack since they were last counted (at most once a second,
/// near the limit), or memory itself ran out, does it fail to start: its join then returns
/// `Err` with the error text (a `String`) as the payload.
#[track_caller]
pub fn try_go<F, T>(f: F) -> Result<JoinHandle<T>, SpawnError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    GoBuilder::new().try_go(f)
}

/// Where a new goroutine starts. A goroutine that has started never moves to another P (the
/// no-migration rule, DESIGN.md), so this choice, made once before its first run, holds for
/// its whole life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Placement {
    /// The default: locality (the spawner's P runs it next, unless an idle P steals it before
    /// it starts: work is never left waiting beside an idle P), except for goroutines spawned
    /// by a goroutine that has accepted a connection (an accept loop's handlers), which are
    /// [`Spread`](Placement::Spread).
    #[default]
    Auto,
    /// Start on the spawner's P and stay there, never stolen: for goroutines that talk
    /// mostly to each other (a pipeline's stages), where every message between Ps costs a
    /// cache-line transfer and often an OS-thread wake-up. Spawned from outside the runtime's
    /// threads this is `Auto`. It can leave a P idle while this one has work: use it for
    /// goroutines that block more than they compute.
    Here,
    /// Before its first run, hand the goroutine to another P holding clearly fewer resident
    /// (started, unfinished) goroutines: for long-lived, independent goroutines (one per
    /// connection, per shard), which would otherwise all stay on the spawner's P.
    Spread,
}

/// Marks the calling goroutine as an accept loop: from now on the goroutines it spawns with
/// [`Placement::Auto`] are spread. Called by the listeners' `accept`.
pub(crate) fn mark_acceptor() {
    if let Some((_, g)) = current() {
        if !g.acceptor.load(Relaxed) {
            g.acceptor.store(true, Relaxed);
        }
    }
}

/// Options for one `go` statement: [`GoBuilder::new`]`().placement(..).go(f)`.
///
/// ```
/// let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
/// let n = rt.block_on(|| {
///     // A pipeline's stages stay on one P: every hop is a same-P hand-off.
///     let (tx, rx) = gort::chan::bounded::<u64>(0);
///     let stage = gort::GoBuilder::new()
///         .placement(gort::Placement::Here)
///         .go(move || rx.iter().sum::<u64>());
///     for i in 0..10 {
///         tx.send(i).unwrap();
///     }
///     tx.close().unwrap();
///     stage.join().unwrap()
/// });
/// assert_eq!(n, 45);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct GoBuilder {
    placement: Placement,
}

impl GoBuilder {
    /// Default options (as [`go`]).
    pub fn new() -> GoBuilder {
        GoBuilder::default()
    }

    /// Where the goroutine starts ([`Placement`]).
    pub fn placement(mut self, p: Placement) -> GoBuilder {
        self.placement = p;
        self
    }

    /// Starts the goroutine, as [`go`] does.
    ///
    /// # Panics
    /// As [`go`].
    #[track_caller]
    pub fn go<F, T>(self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.try_go(f).unwrap_or_else(|e| panic!("gort: go: {e}"))
    }

    /// Starts the goroutine, as [`try_go`] does.
    #[track_caller]
    pub fn try_go<F, T>(self, f: F) -> Result<JoinHandle<T>, SpawnError>
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
                spawn_on(&shared, f, at, self.placement)
            }
            None => spawn_on(&default_runtime().shared, f, at, self.placement),
        }
    }
}

pub(crate) fn spawn_on<F, T>(
    shared: &Arc<Shared>,
    f: F,
    at: &'static Location<'static>,
    placement: Placement,
) -> Result<JoinHandle<T>, Error>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    spawn_on_in(shared, f, at, placement, None)
}

/// [`spawn_on`] into synctest bubble `bubble`, or (None) into the spawner's bubble if it has
/// one (`bubble.rs`).
pub(crate) fn spawn_on_in<F, T>(
    shared: &Arc<Shared>,
    f: F,
    at: &'static Location<'static>,
    placement: Placement,
    bubble: Option<Arc<super::bubble::Bubble>>,
) -> Result<JoinHandle<T>, Error>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let worker = ctx().filter(|c| std::ptr::eq(c.shared, Arc::as_ptr(shared)));
    // Reserve the goroutine's stack now, so that a spawn accepted here does not fail at its
    // first run for want of a mapping (released by `Worker::start`, or by the record's drop).
    reserve_or_wait(shared, worker.is_some())?;
    let (parent, spawner_io, bubble) = match current() {
        Some((_, g)) => (
            g.id(),
            g.acceptor.load(Relaxed),
            bubble.or_else(|| g.bubble.clone()),
        ),
        None => (0, false, bubble),
    };
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
    let mut g = match worker.and_then(|c| reuse_g(c, shared)) {
        Some(mut g) => {
            // The free list holds only records of this runtime that nobody else references.
            Arc::get_mut(&mut g)
                .expect("a free G record is unshared")
                .reset(id, parent, at);
            g
        }
        None => Arc::new(G::new(id, parent, at, shared.clone())),
    };
    let labels = crate::rt::current::labels();
    let unshared = Arc::get_mut(&mut g).expect("a new G record is unshared");
    let n = shared.godebug.tracebackancestors as usize;
    if n > 0 {
        // Go's saveAncestors: the creator first, then its own ancestors, N in all.
        if let Some((_, creator)) = current() {
            unshared.ancestors.push(Ancestor {
                goid: creator.id(),
                go_at: at,
                parent: creator.parent,
                created_at: creator.created_at,
            });
            unshared
                .ancestors
                .extend(creator.ancestors.iter().take(n - 1).copied());
        }
    }
    let spread = match placement {
        Placement::Spread => true,
        Placement::Auto => spawner_io,
        Placement::Here => false,
    };
    *unshared.placement.get_mut() = if spread { PLACE_SPREAD } else { PLACE_LOCAL };
    if placement == Placement::Here {
        if let Some(c) = worker {
            // Homed now, before its first run: it counts as started for every queue (thieves
            // leave it alone) and its home M creates its coroutine when it first runs it.
            *unshared.home.get_mut() = c.p().id + 1;
        }
    }
    if let Some(b) = bubble {
        b.spawned();
        unshared.bubble = Some(b);
    }
    *unshared.reserved.get_mut() = true;
    if id % super::metrics::SAMPLE_PERIOD == 0 {
        // A sampled spawn for `/sched/latencies:seconds` (`metrics.rs`).
        *unshared.ready_at.get_mut() = shared.nanotime() + 1;
    }
    unshared.install(Task::new(f));
    *unshared.curg.labels.get_mut() = labels;
    // SAFETY: we just installed a task with result type T.
    let packet = unsafe { g.task.packet::<T>() };
    let packet = NonNull::new(packet.cast_mut()).expect("a task slot is never null");
    let handle = JoinHandle {
        g: Some(g.clone()),
        packet,
        id,
    };
    crate::rt::exectrace::go_create(id, parent);
    match worker {
        Some(c) if c.p().locked_g.load(Relaxed).is_null() => {
            if let Some(old) = c.p().swap_runnext(Some(g)) {
                super::worker::requeue(c, old);
            }
            // Wake an idle P only when there is something it can take: the ring (runnext
            // alone is this P's next pick, and an idle M costs a futex wake-up).
            // (With one P there is no other P to wake: this M is the only one, and awake.)
            if shared.nprocs() > 1 && !c.p().ring.is_empty() {
                shared.wakep();
            }
        }
        _ => shared.global_push([g]),
    }
    super::park::preempt_point();
    Ok(handle)
}

/// Reserves a stack for a spawn (`rt::stack::reserve_stack`). When it does not fit and the
/// caller is a goroutine of this runtime, goroutines it queued may be what holds the room:
/// yield (they run, and the short-lived ones finish) and retry, as long as a yield frees some;
/// the error comes once one frees nothing. Without this a loop spawning short goroutines
/// faster than they run would be refused at ~30,000 queued (default vm.max_map_count), where
/// it ran before stacks were reserved.
fn reserve_or_wait(shared: &Shared, in_runtime: bool) -> Result<(), crate::rt::stack::StackError> {
    let (size, cached) = (shared.stacks.stack_size(), shared.stacks.cached_count());
    let mut err = match crate::rt::stack::reserve_stack(size, cached) {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    if !in_runtime {
        return Err(err);
    }
    loop {
        let before = crate::rt::stack::projected_stacks(cached.load(Relaxed));
        super::park::yield_now();
        match crate::rt::stack::reserve_stack(size, cached) {
            Ok(()) => return Ok(()),
            Err(e) => err = e,
        }
        if crate::rt::stack::projected_stacks(cached.load(Relaxed)) >= before {
            return Err(err);
        }
    }
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
    current().map_or(0, |(_, g)| g.id())
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
