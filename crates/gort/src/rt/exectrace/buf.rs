//! Per-thread event buffers: fixed-size chunks of 64-bit words, appended to without locks,
//! collected at stop.
//!
//! # Records
//!
//! A chunk holds variable-length records; the low 2 bits of a record's first word say which:
//!
//! * **Switch** (`TAG_SWITCH`, 3 words): a context switch recorded in a sampled stretch
//!   (below): `goid << 2 | 1`, the `event::pack_switch` of the goroutine that left, and the
//!   started goroutine's wake-up stamp (0: none). It has no timestamp: it happened after the
//!   thread's last clock read, which the record before it holds. This is the record a dense
//!   ping-pong writes: 24 bytes per switch.
//! * **Full** (`TAG_FULL`, 5 words): the tag, then an [`Event`]'s ticks, goid, packed kind and
//!   argument (with its inexact flag), and second argument. Any event, exact or not; every
//!   clock read is written in one, and every chunk starts with one (a chunk change reads the
//!   clock), so a switch record always has a timestamp before it in its own chunk.
//!
//! Decoding (`Chunk::read`, at collection only) turns both into [`Event`]s: a switch record
//! becomes a [`Kind::GoSwitch`] event flagged inexact with the ticks of the last clock read
//! before it, as the 32-byte events of the previous design carried them.
//!
//! # Ownership
//!
//! * A thread's **current chunk** is written only by that thread (the owner): it writes a
//!   record's words, then publishes the end of the written words (`published`) with
//!   `Release`. Readers load it with `Acquire` and read only words below it, which are never
//!   written again while the chunk is current.
//! * A full chunk (or one left from an earlier session) goes to the global `FULL` list and the
//!   thread takes a fresh one. The swap (push the old chunk, publish the new `current`)
//!   happens under the `FULL` lock, so a reader that holds that lock sees every chunk exactly
//!   once: in `FULL` or as some thread's current chunk, never both, never neither.
//! * Over the memory limit, the oldest chunk in `FULL` is recycled as the new current chunk
//!   (a flight recorder: the trace keeps its newest part), and `dropped_until` remembers the
//!   newest timestamp thrown away, so the trace can start where it is complete again.
//!   Recycling stops once `stop` starts draining, so nothing `stop` reads is overwritten.
//! * **Timestamps** are read for an event only outside dense stretches. In exact mode every
//!   event reads the clock; after [`STRETCH`] exact events that came faster than one per
//!   500 ns on average (`clock::dense_ticks`), the next stretch is sampled: it holds
//!   [`STRETCH_WORDS`] words of records without a clock read (switch records, or full ones
//!   flagged inexact), and the event after it reads the clock, which decides whether the next
//!   stretch is sampled too (dense: a sampled stretch's events came faster than one per
//!   500 ns, counting a switch record's three words as one event). An event that may follow a
//!   long wait (`ProcStart`, `ProcStop`, blocking calls, GC) always reads the clock and
//!   restarts counting in exact mode. At collection, inexact events are spread evenly between
//!   their exact neighbours on the track. The error of an inexact event is bounded by its
//!   stretch (about 32 events; in a ping-pong about 2.5 us); a long pause inside a sampled
//!   stretch (user code computing between two events) is smeared over that one stretch,
//!   after which the thread is in exact mode again. Why: one `rdtsc` is 35-40 ns on the
//!   development VM (`clock.rs`), and a round trip records 6 events: reading it per event
//!   made a traced PingPong +57% and ParkPingPong +75%. Rejected: one read per switch (block
//!   and the next start sharing it) still pays two reads per round trip (+16%/+26% by the
//!   arithmetic); a clock thread publishing a coarse time burns a core.
//! * The fast path of a switch is one comparison of the write position with `end` (the end
//!   of the sampled stretch's room, or the position itself in exact mode, so that the
//!   comparison fails), one of the session, three word stores and the publication.
//!   Why: the 32-byte events of the previous design, each with a copy of the last clock
//!   read and a budget counter of its own, cost 124 instructions per round trip of
//!   ParkPingPong (callgrind, `bench/trace/count.sh`); this layout writes 24 bytes per
//!   switch. Rejected: a 2-word switch record when the started goroutine has no wake-up
//!   stamp (a yield): the branch-free variable length cost more instructions than the
//!   8 bytes are worth in a ping-pong, where every start has a stamp.
//! * Chunk memory is freed by `ThreadBuf::drop` (a current chunk) or by `start`/`stop` (the
//!   `FULL` list), both under the session lock, never while `stop` reads.

use std::cell::{Cell, OnceCell, UnsafeCell};
use std::collections::VecDeque;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{fence, AtomicPtr, AtomicU64};
use std::sync::{Arc, Mutex};

use super::clock;
use super::event::{Event, Kind};

/// Exact events per timestamp stretch in exact mode (see the module comment).
pub(crate) const STRETCH: u32 = 32;

/// Words of records in a sampled stretch (about STRETCH switches).
pub(crate) const STRETCH_WORDS: usize = SWITCH_WORDS * STRETCH as usize;

/// Words per chunk (32 KiB).
pub(crate) const CHUNK_WORDS: usize = 4096;
/// Bytes of one chunk, for the memory limit.
pub(crate) const CHUNK_BYTES: usize = CHUNK_WORDS * 8;
/// Full records (the largest) that fill a chunk.
#[cfg(test)]
pub(crate) const CHUNK_EVENTS: usize = CHUNK_WORDS / FULL_WORDS;

/// Record tags: the low 2 bits of a record's first word (module comment).
const TAG_SWITCH: u64 = 1;
const TAG_FULL: u64 = 2;
const SWITCH_GOID_SHIFT: u32 = 2;
/// Words of a full record and of a switch record.
const FULL_WORDS: usize = 5;
const SWITCH_WORDS: usize = 3;

pub(crate) struct Chunk {
    /// The session (trace generation) the records belong to; set before the chunk is
    /// published.
    gen: AtomicU64,
    /// The track (thread buffer id) the records belong to; set like `gen`.
    track: AtomicU64,
    /// The end of the written words (into `words`; see the module comment).
    published: AtomicPtr<u64>,
    /// The newest clock read written in the chunk (0: none yet).
    newest: AtomicU64,
    words: Box<[UnsafeCell<u64>]>,
}

// SAFETY: `words` are written only by the chunk's owner thread, each before `published`
// (Release) covers it, and read by others only below `published` (Acquire); recycling, which
// rewrites words, happens only to chunks no reader can reach (module comment).
unsafe impl Sync for Chunk {}

impl Chunk {
    fn new() -> Box<Chunk> {
        let words: Box<[UnsafeCell<u64>]> = (0..CHUNK_WORDS).map(|_| UnsafeCell::new(0)).collect();
        let c = Box::new(Chunk {
            gen: AtomicU64::new(0),
            track: AtomicU64::new(0),
            published: AtomicPtr::new(std::ptr::null_mut()),
            newest: AtomicU64::new(0),
            words,
        });
        c.published.store(c.base(), Relaxed);
        c
    }

    /// The first word.
    fn base(&self) -> *mut u64 {
        UnsafeCell::raw_get(self.words.as_ptr())
    }

    /// The number of published words.
    fn len(&self) -> usize {
        let end = self.published.load(Acquire);
        (end as usize - self.base() as usize) / 8
    }

    /// The published events, decoded (module comment).
    fn read(&self) -> Vec<Event> {
        let n = self.len();
        // SAFETY: words below `published` were written before it was published (Acquire in
        // `len` pairs with the owner's Release) and are not written again while readable.
        let w = |i: usize| unsafe { *self.words[i].get() };
        decode(n, w)
    }
}

/// Decodes the records in the first `n` words (`w(i)` reads word `i`).
fn decode(n: usize, w: impl Fn(usize) -> u64) -> Vec<Event> {
    let mut out = Vec::with_capacity(n / 2);
    let mut last = 0;
    let mut i = 0;
    while i < n {
        let h = w(i);
        match h & 3 {
            TAG_SWITCH if i + SWITCH_WORDS <= n => {
                let goid = h >> SWITCH_GOID_SHIFT;
                out.push(Event::from_parts(
                    last,
                    false,
                    goid,
                    Event::switch_word(w(i + 1)),
                    w(i + 2),
                ));
                i += SWITCH_WORDS;
            }
            TAG_FULL if i + FULL_WORDS <= n => {
                let e = Event::from_raw(w(i + 1), w(i + 2), w(i + 3), w(i + 4));
                if e.exact() {
                    last = e.ticks;
                }
                out.push(e);
                i += FULL_WORDS;
            }
            // Not written by `Local` (a torn or unknown record): nothing after it is read.
            _ => break,
        }
    }
    out
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
    /// The next word to write in `chunk` (null: no chunk).
    pos: Cell<*mut u64>,
    /// Switch records start below this: the end of the sampled stretch's room, within the
    /// chunk; `pos` itself in exact mode (module comment).
    end: Cell<*mut u64>,
    /// The end of `chunk`'s words.
    cap: Cell<*mut u64>,
    chunk: Cell<*mut Chunk>,
    gen: Cell<u64>,
    /// The last clock read.
    last: Cell<u64>,
    /// Exact events since `stretch_start` (the clock read that began the stretch), in exact
    /// mode.
    count: Cell<u32>,
    stretch_start: Cell<u64>,
    /// Whether the stretch that began at `stretch_start` is sampled, and the address its
    /// words began at (kept across a chunk change as if the chunks were contiguous).
    sampled: Cell<bool>,
    stretch_pos: Cell<usize>,
    /// `last | UNBLOCK_SAMPLED`, a wake-up's stamp (`unblock_ticks`), valid while
    /// `stamp_gen` is the session: the stretch since the last clock read is sampled (0
    /// otherwise; sessions are never 0).
    stamp: Cell<u64>,
    stamp_gen: Cell<u64>,
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
            l.pos.set(std::ptr::null_mut());
            l.end.set(std::ptr::null_mut());
            l.cap.set(std::ptr::null_mut());
            l.gen.set(0);
            l.stamp_gen.set(0);
        });
    }
}

thread_local! {
    static LOCAL: Local = const {
        Local {
            pos: Cell::new(std::ptr::null_mut()),
            end: Cell::new(std::ptr::null_mut()),
            cap: Cell::new(std::ptr::null_mut()),
            chunk: Cell::new(std::ptr::null_mut()),
            gen: Cell::new(0),
            last: Cell::new(0),
            count: Cell::new(0),
            stretch_start: Cell::new(0),
            sampled: Cell::new(false),
            stretch_pos: Cell::new(0),
            stamp: Cell::new(0),
            stamp_gen: Cell::new(0),
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
/// unless a chunk is full. One out-of-line call: only context switches (`start`) are
/// frequent enough for a fast path of their own.
#[inline(always)]
pub(crate) fn push(gen: u64, kind: Kind, goid: u64, arg: u64, always_exact: bool) {
    with_local(|l| {
        if l.pend.get() != 0 {
            l.flush_pending(gen);
        }
        l.append_full(gen, always_exact, goid, Event::word(kind, arg), 0);
    });
}

/// A goroutine left this M (`left`: an `event::pack_switch`, non-zero). Nothing is written
/// yet: the next start on this thread records both in one switch event, and any other event
/// first writes it on its own. A leave follows a start on its thread (the worker loop), which
/// took the pending one, so none is pending here but a stale one from an earlier session
/// (recorded before that session ended, where no start took it): it is overwritten.
#[inline(always)]
pub(crate) fn leave(left: u64) {
    with_local(|l| l.pend.set(left));
}

/// This M starts goroutine `goid`, made runnable by a wake-up at `unblock` ticks (0: none):
/// one switch event, with the goroutine that left before it if any.
///
/// The recorders (`exectrace::record*`, this function) are inlined whole into the hooks:
/// the thread-local is one `fs`-relative address and the fast path (a switch record: one
/// bounds check, one session check, three stores and the publication) is a leaf without
/// calls; anything else (a clock read, a chunk change, another session) is one out-of-line
/// call. Through `LocalKey::with` not inlined, the same append cost an indirect call and six
/// register saves per event (14% of a traced ParkPingPong, perf).
#[inline(always)]
pub(crate) fn start(gen: u64, goid: u64, unblock: u64) {
    with_local(|l| {
        let pos = l.pos.get();
        // One branch for the slow path's cases: no chunk (both null), exact mode or the
        // end of the sampled stretch or of the chunk (`pos >= end`), another session.
        if (pos >= l.end.get()) | (l.gen.get() != gen) {
            l.start_slow(gen, goid, unblock);
            return;
        }
        // A leave pending from before a session change lands in the new session, next to
        // the start it preceded (`start_slow`): a goroutine that blocked just before the
        // trace began.
        let left = l.pend.replace(0);
        // SAFETY: `pos < end <= cap - SWITCH_WORDS + 1` (`set_end`), so the three words are
        // inside this thread's current chunk, which `HOLDER` keeps alive while `pos` is set
        // (Holder::drop clears it); only this thread writes it, the words are above
        // `published`, and the Release store publishes them (module comment).
        unsafe {
            pos.write((goid << SWITCH_GOID_SHIFT) | TAG_SWITCH);
            pos.add(1).write(left);
            pos.add(2).write(unblock);
            let next = pos.add(SWITCH_WORDS);
            l.pos.set(next);
            (*l.chunk.get()).published.store(next, Release);
        }
    });
}

/// The ticks to stamp a wake-up with (never 0): the last clock read while this thread is in
/// a sampled stretch of session `gen` (at most one stretch old, like the stamps of its
/// events; flagged `UNBLOCK_SAMPLED`: `Local::stamp`), else a clock read.
#[inline(always)]
pub(crate) fn unblock_ticks(gen: u64) -> u64 {
    with_local(|l| {
        if l.stamp_gen.get() == gen {
            l.stamp.get()
        } else {
            unblock_clock()
        }
    })
}

#[cold]
#[inline(never)]
fn unblock_clock() -> u64 {
    clock::ticks().max(1)
}

impl Local {
    /// A switch the fast path could not write: a full record.
    #[cold]
    #[inline(never)]
    fn start_slow(&self, gen: u64, goid: u64, unblock: u64) {
        let left = self.pend.replace(0);
        self.append_full(gen, false, goid, Event::switch_word(left), unblock);
    }

    /// Appends a full record (module comment): takes a chunk if there is none, it is full or
    /// from another session; reads the clock unless in a sampled stretch with room (and
    /// `always_exact` is false).
    #[inline(never)]
    fn append_full(&self, gen: u64, always_exact: bool, goid: u64, word: u64, aux: u64) {
        let mut pos = self.pos.get();
        let mut fresh = false;
        if pos.is_null()
            || self.gen.get() != gen
            || (self.cap.get() as usize - pos as usize) / 8 < FULL_WORDS
        {
            if !self.refill(gen) {
                return;
            }
            pos = self.pos.get();
            fresh = true;
        }
        let sampled = !always_exact && !fresh && pos < self.end.get();
        let ticks = if sampled {
            self.last.get()
        } else {
            let now = clock::ticks();
            self.last.set(now);
            now
        };
        let e = Event::from_parts(ticks, !sampled, goid, word, aux);
        let (t, g, w, a) = e.raw();
        // SAFETY: `pos` is in this thread's current chunk with at least FULL_WORDS words
        // left (checked or refilled above); the chunk is alive and written only by this
        // thread, and the words are above `published` (see `start`).
        let next = unsafe {
            pos.write(TAG_FULL);
            pos.add(1).write(t);
            pos.add(2).write(g);
            pos.add(3).write(w);
            pos.add(4).write(a);
            pos.add(FULL_WORDS)
        };
        self.pos.set(next);
        // SAFETY: `chunk` is this thread's current chunk (set with `pos` by `refill`).
        let chunk = unsafe { &*self.chunk.get() };
        if !sampled {
            chunk.newest.store(ticks, Relaxed);
            self.plan(ticks, always_exact, next);
        }
        chunk.published.store(next, Release);
    }

    /// Writes the pending leave as an event of its own (another event comes first).
    #[cold]
    #[inline(never)]
    fn flush_pending(&self, gen: u64) {
        let left = self.pend.replace(0);
        let (kind, goid, arg) = super::event::unpack_leave(left);
        self.append_full(gen, false, goid, Event::word(kind, arg), 0);
    }

    /// After a clock read at `now` whose record ends at `next`: decides whether the next
    /// stretch is sampled, and sets `end` accordingly.
    fn plan(&self, now: u64, reset: bool, next: *mut u64) {
        let sample = if reset {
            self.count.set(0);
            self.stretch_start.set(now);
            false
        } else if self.sampled.get() {
            // The end of a sampled stretch: dense if its events came faster than one per
            // `dense_ticks`, counting a switch record's words as one event.
            let words = (next as usize).wrapping_sub(self.stretch_pos.get()) / 8;
            let elapsed = now.wrapping_sub(self.stretch_start.get());
            self.stretch_start.set(now);
            self.count.set(0);
            elapsed <= (words / SWITCH_WORDS).max(1) as u64 * clock::dense_ticks()
        } else {
            let n = self.count.get() + 1;
            if n < STRETCH {
                self.count.set(n);
                false
            } else {
                let elapsed = now.wrapping_sub(self.stretch_start.get());
                self.stretch_start.set(now);
                self.count.set(0);
                elapsed <= u64::from(STRETCH) * clock::dense_ticks()
            }
        };
        self.sampled.set(sample);
        self.stamp.set(now | super::event::UNBLOCK_SAMPLED);
        self.stamp_gen.set(if sample { self.gen.get() } else { 0 });
        self.stretch_pos.set(next as usize);
        self.set_end(next, sample);
    }

    /// Sets `end` for a stretch starting at `next`: `next` itself (exact mode: the fast path
    /// fails), or STRETCH_WORDS further, within the chunk's room for a switch record.
    fn set_end(&self, next: *mut u64, sample: bool) {
        let room = (self.cap.get() as usize - next as usize) / 8;
        let words = if sample {
            STRETCH_WORDS.min((room + 1).saturating_sub(SWITCH_WORDS))
        } else {
            0
        };
        // SAFETY: `next + words <= cap`, inside the current chunk's words.
        self.end.set(unsafe { next.add(words) });
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
                    c.newest.load(Relaxed).saturating_add(full.max_age) < clock::ticks()
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
            // The chunk's newest clock read; its records after it are placed between it and
            // the next read, in the next chunk of the track.
            let last = c.newest.load(Relaxed);
            if c.gen.load(Relaxed) == gen {
                full.dropped_until = full.dropped_until.max(last);
            }
            c.published.store(c.base(), Relaxed);
            c.newest.store(0, Relaxed);
            c
        } else {
            Chunk::new()
        };
        new.gen.store(gen, Relaxed);
        new.track.store(buf.id, Relaxed);
        let base = new.base();
        let p = Box::into_raw(new);
        buf.current.store(p, Release);
        drop(full);
        if self.gen.get() != gen {
            // A new session starts in exact mode.
            self.count.set(0);
            self.stretch_start.set(0);
            self.sampled.set(false);
            self.stamp_gen.set(0);
        } else if self.sampled.get() {
            // The stretch goes on in the new chunk, as if the chunks were contiguous.
            let done = (self.pos.get() as usize).wrapping_sub(self.stretch_pos.get());
            self.stretch_pos.set((base as usize).wrapping_sub(done));
        }
        self.chunk.set(p);
        self.pos.set(base);
        self.end.set(base);
        // SAFETY: `base + CHUNK_WORDS` is the end of the chunk's words.
        self.cap.set(unsafe { base.add(CHUNK_WORDS) });
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
    use crate::rt::exectrace::event::pack_switch;

    #[test]
    fn records_decode_to_events() {
        let full = |e: Event| {
            let (t, g, w, a) = e.raw();
            vec![TAG_FULL, t, g, w, a]
        };
        let left = pack_switch(Kind::GoBlock, 7, 5);
        let mut words = full(Event::new(100, Kind::ProcStart, 0, 0));
        // 7 blocked; 8, woken at 90, starts; then 8 yields and 9 starts, not woken.
        words.extend([(8 << SWITCH_GOID_SHIFT) | TAG_SWITCH, left, 90]);
        let sched = pack_switch(Kind::GoSched, 8, 0);
        words.extend([(9 << SWITCH_GOID_SHIFT) | TAG_SWITCH, sched, 0]);
        words.extend(full(Event::new_inexact(100, Kind::GoCreate, 10, 9)));
        words.extend(full(Event::new(200, Kind::HeapAlloc, 0, 4096)));
        words.extend([(11 << SWITCH_GOID_SHIFT) | TAG_SWITCH, 0, 0]);
        // A record cut short (not yet published in full) ends the decoding.
        words.extend([(12 << SWITCH_GOID_SHIFT) | TAG_SWITCH, 0]);
        let v = decode(words.len(), |i| words[i]);
        assert_eq!(
            v,
            [
                Event::new(100, Kind::ProcStart, 0, 0),
                Event::switch(100, false, 8, left, 90),
                Event::switch(100, false, 9, sched, 0),
                Event::new_inexact(100, Kind::GoCreate, 10, 9),
                Event::new(200, Kind::HeapAlloc, 0, 4096),
                Event::switch(200, false, 11, 0, 0),
            ]
        );
        assert_eq!(decode(0, |i| words[i]), []);
        assert_eq!(decode(3, |i| words[i]), []);
    }

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
