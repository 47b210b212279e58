//! Per-thread event buffers: fixed-size chunks, appended to without locks, collected at stop.
//!
//! # Ownership
//!
//! * A thread's **current chunk** is written only by that thread (the owner): it writes slot
//!   `i`, then publishes `len = i + 1` with `Release`. Readers load `len` with `Acquire` and
//!   read only slots below it, which are never written again while the chunk is current.
//! * A full chunk (or one left from an earlier session) goes to the global `FULL` list and the
//!   thread takes a fresh one. The swap (push the old chunk, publish the new `current`)
//!   happens under the `FULL` lock, so a reader that holds that lock sees every chunk exactly
//!   once: in `FULL` or as some thread's current chunk, never both, never neither.
//! * Over the memory limit, the oldest chunk in `FULL` is recycled as the new current chunk
//!   (a flight recorder: the trace keeps its newest part), and `dropped_until` remembers the
//!   newest timestamp thrown away, so the trace can start where it is complete again.
//!   Recycling stops once `stop` starts draining, so nothing `stop` reads is overwritten.
//! * **Timestamps** are read for an event only outside dense stretches. Each thread counts its
//!   events in stretches of [`STRETCH`]: a stretch whose events came faster than one per
//!   500 ns on average (measured by the clock reads at its ends) makes the next stretch
//!   sampled: its first `STRETCH - 1` events take the previous read's ticks, flagged inexact,
//!   and only its last event reads the clock, which also decides the next stretch. An event
//!   that may follow a long wait (`ProcStart`, `ProcStop`, blocking calls, GC) always reads
//!   the clock and restarts counting in exact mode. At collection, inexact events are spread
//!   evenly between their exact neighbours on the track. The error of an inexact event is
//!   bounded by its stretch (32 events; in a ping-pong about 2.5 us); a long pause inside a
//!   sampled stretch (user code computing between two events) is smeared over that one
//!   stretch, after which the thread is in exact mode again. Why: one `rdtsc` is 35-40 ns
//!   on the development VM (`clock.rs`), and a round trip records 6 events: reading it per
//!   event made a traced PingPong +57% and ParkPingPong +75%. Rejected: one read per
//!   switch (block and the next start sharing it) still pays two reads per round trip
//!   (+16%/+26% by the arithmetic); a clock thread publishing a coarse time burns a core.
//! * Chunk memory is freed by `ThreadBuf::drop` (a current chunk) or by `start`/`stop` (the
//!   `FULL` list), both under the session lock, never while `stop` reads.

use std::cell::{Cell, OnceCell, UnsafeCell};
use std::collections::VecDeque;
use std::mem::MaybeUninit;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{fence, AtomicPtr, AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};

use super::clock;
use super::event::{Event, Kind};

/// Events per timestamp stretch (see the module comment).
pub(crate) const STRETCH: u32 = 32;

/// Events per chunk (24 KiB).
pub(crate) const CHUNK_EVENTS: usize = 1024;
/// Bytes of one chunk, for the memory limit.
pub(crate) const CHUNK_BYTES: usize = CHUNK_EVENTS * std::mem::size_of::<Event>();

pub(crate) struct Chunk {
    /// The session (trace generation) the events belong to; set before the chunk is published.
    gen: AtomicU64,
    /// The track (thread buffer id) the events belong to; set like `gen`.
    track: AtomicU64,
    /// Slots below `len` are written and final (see the module comment).
    len: AtomicUsize,
    events: Box<[UnsafeCell<MaybeUninit<Event>>]>,
}

// SAFETY: `events` slots are written only by the chunk's owner thread, each before `len`
// (Release) covers it, and read by others only below `len` (Acquire); recycling, which
// rewrites slots, happens only to chunks no reader can reach (module comment).
unsafe impl Sync for Chunk {}

impl Chunk {
    fn new() -> Box<Chunk> {
        Box::new(Chunk {
            gen: AtomicU64::new(0),
            track: AtomicU64::new(0),
            len: AtomicUsize::new(0),
            events: (0..CHUNK_EVENTS)
                .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
                .collect(),
        })
    }

    /// The published events.
    fn read(&self) -> impl DoubleEndedIterator<Item = Event> + '_ {
        let n = self.len.load(Acquire);
        // SAFETY: slots below `len` were written before `len` was published (Acquire above
        // pairs with the owner's Release) and are not written again while readable.
        (0..n).map(move |i| unsafe { (*self.events[i].get()).assume_init() })
    }
}

/// A thread's buffer, shared between the thread and `stop`.
pub(crate) struct ThreadBuf {
    pub(crate) id: u64,
    pub(crate) name: String,
    /// The chunk this thread writes; owned (from `Box::into_raw`); changed under `FULL`.
    current: AtomicPtr<Chunk>,
}

impl Drop for ThreadBuf {
    fn drop(&mut self) {
        let p = *self.current.get_mut();
        if !p.is_null() {
            // SAFETY: `current` owns its chunk (it came from Box::into_raw and is in no list),
            // and the last reference is gone, so nobody reads it.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

struct Full {
    chunks: VecDeque<Box<Chunk>>,
    draining: bool,
    /// Snapshots in progress (`snapshot`): while non-zero no chunk is recycled, so every
    /// chunk a snapshot listed stays allocated and unwritten until it is done.
    pinned: usize,
    limit: usize,
    /// Chunks whose newest event is more than this many ticks old are recycled even below
    /// `limit` (a flight recorder's window; 0: no age limit).
    max_age: u64,
    dropped_until: u64,
}

static FULL: Mutex<Full> = Mutex::new(Full {
    chunks: VecDeque::new(),
    draining: true,
    pinned: 0,
    limit: 0,
    max_age: 0,
    dropped_until: 0,
});
static REGISTRY: Mutex<Vec<Arc<ThreadBuf>>> = Mutex::new(Vec::new());
static NEXT_TRACK: AtomicU64 = AtomicU64::new(1);

/// The owner thread's view of its buffer: plain cells in a `const` thread-local without a
/// destructor, so a hook reaches them with one thread-pointer-relative access (no lazy
/// initialisation check). The `Arc` that keeps the chunk alive is in `HOLDER`.
struct Local {
    chunk: Cell<*mut Chunk>,
    len: Cell<usize>,
    gen: Cell<u64>,
    /// Inexact events left in the current sampled stretch (0: read the clock).
    budget: Cell<u32>,
    /// The last clock read.
    last: Cell<u64>,
    /// Events since `stretch_start` (the clock read that began the stretch).
    count: Cell<u32>,
    stretch_start: Cell<u64>,
    /// A goroutine's leave not written yet (an `event::pack_switch`; 0: none; `leave`).
    pend: Cell<u64>,
}

/// Keeps this thread's `ThreadBuf` alive; its destructor detaches `LOCAL` from the chunk,
/// so a hook run later in the thread's teardown cannot write a chunk that `start` may free.
struct Holder(OnceCell<Arc<ThreadBuf>>);

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = LOCAL.try_with(|l| {
            l.chunk.set(std::ptr::null_mut());
            l.gen.set(0);
        });
    }
}

thread_local! {
    static LOCAL: Local = const {
        Local {
            chunk: Cell::new(std::ptr::null_mut()),
            len: Cell::new(0),
            gen: Cell::new(0),
            budget: Cell::new(0),
            last: Cell::new(0),
            count: Cell::new(0),
            stretch_start: Cell::new(0),
            pend: Cell::new(0),
        }
    };
    static HOLDER: Holder = const { Holder(OnceCell::new()) };
}

/// Runs `f` on this thread's `LOCAL`. `LocalKey::with` around a whole recorder was not
/// always inlined (an indirect call to the key's accessor per event); around this one-line
/// closure it is, and the access is one `fs`-relative address.
#[inline(always)]
fn with_local<R>(f: impl FnOnce(&Local) -> R) -> R {
    let p: *const Local = LOCAL.with(|l| l as *const Local);
    // SAFETY: `LOCAL` is a `const`-initialised thread-local without a destructor, so its
    // storage lives as long as this thread; `f` runs now, on this thread, and the reference
    // does not outlive the call (`Local` is all `Cell`s: shared references are its only use).
    f(unsafe { &*p })
}

/// Appends an event to this thread's buffer for session `gen`, timestamped as the module
/// comment says (`always_exact`: the event may follow a long wait, read the clock). No lock
/// unless a chunk is full.
///
/// The recorders (`exectrace::record*`, this file's `leave`/`start`) are inlined whole into
/// the hooks: the thread-local is one `fs`-relative address and the fast path (a sampled
/// timestamp, four stores and the published length) is a leaf without calls; anything else
/// (a clock read, a chunk change, another session) is one out-of-line call that redoes the
/// append. Through `LocalKey::with` not inlined, the same append cost an indirect call and
/// six register saves per event (14% of a traced ParkPingPong, perf).
#[inline(always)]
pub(crate) fn push(gen: u64, kind: Kind, goid: u64, arg: u64, always_exact: bool) {
    with_local(|l| {
        if l.pend.get() != 0 {
            l.flush_pending(gen);
        }
        let word = Event::word(kind, arg);
        if always_exact || !l.try_append(gen, goid, word, 0) {
            l.append_slow(gen, always_exact, goid, word, 0);
        }
    });
}

/// A goroutine left this M (`left`: an `event::pack_switch`, non-zero). Nothing is written
/// yet: the next start on this thread records both in one switch event, and any other event
/// first writes it on its own.
#[inline(always)]
pub(crate) fn leave(gen: u64, left: u64) {
    with_local(|l| {
        if l.pend.get() != 0 {
            l.flush_pending(gen);
        }
        l.pend.set(left);
    });
}

/// This M starts goroutine `goid`, made runnable by a wake-up at `unblock` ticks (0: none):
/// one switch event, with the goroutine that left before it if any.
#[inline(always)]
pub(crate) fn start(gen: u64, goid: u64, unblock: u64) {
    with_local(|l| {
        // A leave pending from before a session change lands in the new session, next to
        // the start it preceded: a goroutine that blocked just before the trace began.
        let left = l.pend.replace(0);
        let word = Event::switch_word(left);
        if !l.try_append(gen, goid, word, unblock) {
            l.append_slow(gen, false, goid, word, unblock);
        }
    });
}

/// The ticks to stamp a wake-up with: the last clock read while this thread is in a sampled
/// stretch (at most one stretch old, like the stamps of its events; flagged
/// `UNBLOCK_SAMPLED`), else a clock read.
#[inline(always)]
pub(crate) fn unblock_ticks(gen: u64) -> u64 {
    with_local(|l| {
        if l.budget.get() != 0 && l.gen.get() == gen {
            l.last.get() | super::event::UNBLOCK_SAMPLED
        } else {
            clock::ticks()
        }
    })
}

impl Local {
    /// The fast path: appends with the last clock read (a sampled stretch) to the current
    /// chunk of session `gen`; false, writing nothing, when that is not possible.
    #[inline(always)]
    fn try_append(&self, gen: u64, goid: u64, word: u64, aux: u64) -> bool {
        let c = self.chunk.get();
        let i = self.len.get();
        let b = self.budget.get();
        // One branch for the four cases the slow path handles.
        if c.is_null() | (i >= CHUNK_EVENTS) | (self.gen.get() != gen) | (b == 0) {
            return false;
        }
        self.budget.set(b - 1);
        self.write(
            c,
            i,
            Event::from_parts(self.last.get(), false, goid, word, aux),
        );
        true
    }

    /// Writes slot `i` of chunk `c` and publishes it.
    #[inline(always)]
    fn write(&self, c: *mut Chunk, i: usize, ev: Event) {
        debug_assert!(!c.is_null() && i < CHUNK_EVENTS);
        // SAFETY: callers pass this thread's current chunk (`self.chunk`, non-null) and
        // `i = self.len < CHUNK_EVENTS`. The chunk is owned by our ThreadBuf, which `HOLDER`
        // keeps alive while `chunk` is set (Holder::drop clears it); only this thread writes
        // it, slot `i` is not yet published, and the Release store publishes it (module
        // comment).
        unsafe {
            let chunk: &Chunk = &*c;
            (*chunk.events.get_unchecked(i).get()).write(ev);
            chunk.len.store(i + 1, Release);
        }
        self.len.set(i + 1);
    }

    /// Everything the fast path does not: a chunk change (a full one, the first, another
    /// session's), and a clock read (an event that must be exact, or the end of a sampled
    /// stretch).
    #[cold]
    #[inline(never)]
    fn append_slow(&self, gen: u64, always_exact: bool, goid: u64, word: u64, aux: u64) {
        if (self.chunk.get().is_null() || self.len.get() >= CHUNK_EVENTS || self.gen.get() != gen)
            && !self.refill(gen)
        {
            return;
        }
        let b = self.budget.get();
        let ev = if b != 0 && !always_exact {
            self.budget.set(b - 1);
            Event::from_parts(self.last.get(), false, goid, word, aux)
        } else {
            Event::from_parts(self.read_clock(always_exact), true, goid, word, aux)
        };
        self.write(self.chunk.get(), self.len.get(), ev);
    }

    /// Writes the pending leave as an event of its own (another event comes first).
    #[cold]
    #[inline(never)]
    fn flush_pending(&self, gen: u64) {
        let left = self.pend.replace(0);
        let (kind, goid, arg) = super::event::unpack_leave(left);
        self.append_slow(gen, false, goid, Event::word(kind, arg), 0);
    }

    /// Reads the clock for an exact event and plans the next stretch.
    #[inline]
    fn read_clock(&self, always_exact: bool) -> u64 {
        let now = clock::ticks();
        self.last.set(now);
        self.plan(now, always_exact);
        now
    }

    /// After a clock read: decides whether the next stretch is sampled.
    #[inline]
    fn plan(&self, now: u64, reset: bool) {
        if reset {
            self.budget.set(0);
            self.count.set(0);
            self.stretch_start.set(now);
            return;
        }
        let n = self.count.get() + 1;
        if n < STRETCH {
            self.count.set(n);
            return;
        }
        // Dense: the stretch's events came faster than one per 500 ns (`clock::dense_ticks`).
        let dense =
            now.wrapping_sub(self.stretch_start.get()) <= u64::from(STRETCH) * clock::dense_ticks();
        self.stretch_start.set(now);
        if dense {
            self.budget.set(STRETCH - 1);
            self.count.set(STRETCH - 1);
        } else {
            self.count.set(0);
        }
    }

    /// Retires the current chunk and takes a new one; false if this thread is exiting (the
    /// event is dropped).
    #[cold]
    #[inline(never)]
    fn refill(&self, gen: u64) -> bool {
        // Pairs with `start`'s Release store of the generation: FULL was reset before it.
        fence(Acquire);
        let Ok(buf) = HOLDER.try_with(|h| h.0.get_or_init(register).clone()) else {
            return false;
        };
        let old = self.chunk.get();
        let mut full = FULL.lock().unwrap_or_else(|e| e.into_inner());
        if !old.is_null() {
            // SAFETY: `old` is our current chunk, owned through `buf.current`; ownership
            // moves to FULL and `current` is replaced below, under the same lock.
            full.chunks.push_back(unsafe { Box::from_raw(old) });
        }
        let too_old = |full: &Full| {
            full.max_age != 0
                && full.chunks.len() > 1
                && full.chunks.front().is_some_and(|c| {
                    c.read()
                        .next_back()
                        .is_some_and(|e| e.ticks.saturating_add(full.max_age) < clock::ticks())
                })
        };
        let new = if !full.draining
            && full.pinned == 0
            && (full.chunks.len() > full.limit.max(1) || too_old(&full))
        {
            let c = full
                .chunks
                .pop_front()
                .expect("over the limit, so not empty");
            // One thread appends in time order: the last event is the newest (a scan of the
            // whole chunk here cost 3% of a traced ping-pong).
            let last = c.read().next_back().map_or(0, |e| e.ticks);
            if c.gen.load(Relaxed) == gen {
                full.dropped_until = full.dropped_until.max(last);
            }
            c.len.store(0, Relaxed);
            c
        } else {
            Chunk::new()
        };
        new.gen.store(gen, Relaxed);
        new.track.store(buf.id, Relaxed);
        let p = Box::into_raw(new);
        buf.current.store(p, Release);
        drop(full);
        self.chunk.set(p);
        self.len.set(0);
        if self.gen.get() != gen {
            // A new session starts in exact mode.
            self.budget.set(0);
            self.count.set(0);
            self.stretch_start.set(0);
        }
        self.gen.set(gen);
        true
    }
}

fn register() -> Arc<ThreadBuf> {
    let id = NEXT_TRACK.fetch_add(1, Relaxed);
    let name = match crate::rt::sched::park::ctx() {
        Some(c) => {
            // A worker is its P's thread for life: stall episodes go on this track.
            c.p().trace_track.store(id, Relaxed);
            format!("P{}", c.p().id)
        }
        None => std::thread::current()
            .name()
            .unwrap_or("thread")
            .to_string(),
    };
    let b = Arc::new(ThreadBuf {
        id,
        name,
        current: AtomicPtr::new(std::ptr::null_mut()),
    });
    REGISTRY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(b.clone());
    b
}

/// Resets the buffers for a new session (called under the session lock, before the new
/// generation is published). `limit_bytes` bounds the memory of full chunks.
pub(crate) fn reset(limit_bytes: usize) {
    let mut full = FULL.lock().unwrap_or_else(|e| e.into_inner());
    full.chunks.clear();
    full.draining = false;
    full.pinned = 0;
    full.limit = (limit_bytes / CHUNK_BYTES).max(2);
    full.max_age = 0;
    full.dropped_until = 0;
    drop(full);
    // Buffers of exited threads (only the registry holds them) go now.
    REGISTRY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|b| Arc::strong_count(b) > 1);
}

/// Everything recorded in session `gen`, by track.
pub(crate) struct Collected {
    /// (track id, track name, events in recording order).
    pub(crate) tracks: Vec<(u64, String, Vec<Event>)>,
    /// Events at or before this tick may be missing (the memory limit recycled them).
    pub(crate) dropped_until: u64,
}

/// Spreads each run of inexact events evenly between the exact events around it; a run with
/// no exact event after it keeps its lower bound.
pub(crate) fn interpolate(events: &mut [Event]) {
    let n = events.len();
    let mut i = 0;
    while i < n {
        if events[i].exact() {
            i += 1;
            continue;
        }
        let s = i;
        while i < n && !events[i].exact() {
            i += 1;
        }
        if s == 0 || i == n {
            continue;
        }
        let (a, b) = (events[s - 1].ticks, events[i].ticks);
        let span = b.saturating_sub(a);
        let parts = (i - s + 1) as u64;
        for (k, e) in events[s..i].iter_mut().enumerate() {
            e.ticks = a + span * (k as u64 + 1) / parts;
        }
    }
}

/// Changes the bounds of a running session: `limit_bytes` of full chunks, and (non-zero) an
/// age in ticks past which the oldest chunk is recycled anyway. Called under the session lock.
pub(crate) fn set_limits(limit_bytes: usize, max_age_ticks: u64) {
    let mut full = FULL.lock().unwrap_or_else(|e| e.into_inner());
    full.limit = (limit_bytes / CHUNK_BYTES).max(2);
    full.max_age = max_age_ticks;
}

/// Gathers session `gen`'s events so far while recording goes on (a flight recorder's
/// snapshot, or a trace that stops while a recorder runs). Called under the session lock, so
/// no `start`/`stop` frees chunks meanwhile; recycling is paused (`pinned`) while the chunks
/// listed are read, so none of them is rewritten: threads that fill their chunk then take
/// fresh ones, and the memory bound is exceeded by what they record during the read.
pub(crate) fn snapshot(gen: u64) -> Collected {
    let mut full = FULL.lock().unwrap_or_else(|e| e.into_inner());
    full.pinned += 1;
    let chunks: Vec<*const Chunk> = full.chunks.iter().map(|c| &**c as *const Chunk).collect();
    let dropped_until = full.dropped_until;
    let (bufs, currents) = current_chunks();
    drop(full);
    let all = chunks
        .iter()
        .map(|&p| p as *mut Chunk)
        .chain(currents.iter().copied())
        // SAFETY: while `pinned` is non-zero no chunk leaves FULL (recycling is off, and only
        // `reset`/`collect`, which the session lock excludes, clear it); a current chunk
        // stays allocated while its ThreadBuf lives (we hold `bufs`) or, once retired, in
        // FULL; so every non-null pointer here is a live chunk until `pinned` drops below.
        // Only published prefixes are read (`Chunk::read`).
        .filter_map(|p| unsafe { p.as_ref() });
    let c = gather(gen, &bufs, all);
    FULL.lock().unwrap_or_else(|e| e.into_inner()).pinned -= 1;
    Collected {
        tracks: c,
        dropped_until,
    }
}

/// Every thread buffer and its current chunk, read under the `FULL` lock (the caller's), so
/// that each chunk is either in `FULL` or some thread's current one (module comment).
fn current_chunks() -> (Vec<Arc<ThreadBuf>>, Vec<*mut Chunk>) {
    let bufs: Vec<Arc<ThreadBuf>> = REGISTRY.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let currents = bufs.iter().map(|b| b.current.load(Acquire)).collect();
    (bufs, currents)
}

/// The events of session `gen` in `chunks`, by track, sorted and interpolated.
fn gather<'a>(
    gen: u64,
    bufs: &[Arc<ThreadBuf>],
    chunks: impl Iterator<Item = &'a Chunk>,
) -> Vec<(u64, String, Vec<Event>)> {
    let mut tracks: Vec<(u64, String, Vec<Event>)> = bufs
        .iter()
        .map(|b| (b.id, b.name.clone(), Vec::new()))
        .collect();
    for c in chunks {
        if c.gen.load(Relaxed) != gen {
            continue;
        }
        let id = c.track.load(Relaxed);
        if let Some(t) = tracks.iter_mut().find(|t| t.0 == id) {
            t.2.extend(c.read());
        }
    }
    for t in &mut tracks {
        t.2.sort_by_key(|e| e.ticks);
        interpolate(&mut t.2);
        t.2 = super::event::expand(std::mem::take(&mut t.2));
    }
    tracks.retain(|t| !t.2.is_empty());
    tracks
}

/// Stops recycling and gathers session `gen`'s events (called under the session lock, after
/// the generation was cleared).
pub(crate) fn collect(gen: u64) -> Collected {
    let mut full = FULL.lock().unwrap_or_else(|e| e.into_inner());
    full.draining = true;
    let chunks = std::mem::take(&mut full.chunks);
    let dropped_until = full.dropped_until;
    let (bufs, currents) = current_chunks();
    drop(full);
    // Full chunks first, the current ones last: `gather` restores recording order (a stable
    // sort: an inexact event carries its exact predecessor's ticks and stays after it).
    let all = chunks.iter().map(|c| &**c).chain(
        currents
            .iter()
            // SAFETY: a current chunk stays allocated while its ThreadBuf lives (we hold
            // `bufs`) and, if its thread retires it meanwhile, while it sits in FULL, which
            // only the next `start` clears (not before we return: the session lock).
            .filter_map(|&p| unsafe { p.as_ref() }),
    );
    let tracks = gather(gen, &bufs, all);
    drop(chunks);
    Collected {
        tracks,
        dropped_until,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inexact_runs_are_spread_between_exact_neighbours() {
        let ex = |t| Event::new(t, Kind::GoStart, 1, 0);
        let inex = |t| Event::new_inexact(t, Kind::GoBlock, 1, 0);
        let mut v = vec![
            inex(5),
            ex(100),
            inex(100),
            inex(100),
            inex(100),
            ex(200),
            inex(200),
        ];
        interpolate(&mut v);
        let t: Vec<u64> = v.iter().map(|e| e.ticks).collect();
        assert_eq!(t, [5, 100, 125, 150, 175, 200, 200]);
    }
}
