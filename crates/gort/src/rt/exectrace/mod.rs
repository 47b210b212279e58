//! The execution trace's recording side in the runtime core: the session generation, the
//! per-thread event buffers (`buf.rs`), the event encoding (`event.rs`), the clock
//! (`clock.rs`), and the hooks the runtime calls. The writer (start, stop, the JSON output)
//! is the `crate::trace` tool; the design essay is there.
//!
//! The hooks the runtime calls. Each is one relaxed load and a predicted branch when tracing
//! is off; when on, it appends a record to this thread's buffer (24 bytes for a context
//! switch in a dense stretch, 40 for an event with its timestamp), reading the clock outside
//! dense stretches (`buf.rs`). A context switch is one event: the leave (block, sched, end)
//! waits in the thread's buffer state for the next start, and a wake-up only stamps the
//! goroutine (`event.rs`, `GoSwitch`).
//!
//! Hooks that take a `&G` read its fields only when tracing is on.

use std::sync::atomic::Ordering::Relaxed;

pub(crate) mod buf;
pub(crate) mod clock;
pub(crate) mod event;

use std::sync::atomic::AtomicU64;

use event::Kind;
pub(crate) use event::StwReason;

/// The session generation; 0 while tracing is off. Read by every hook, written by
/// `crate::trace`'s start and stop.
pub(crate) static GEN: AtomicU64 = AtomicU64::new(0);
use crate::rt::sched::g::G;

#[inline(always)]
fn emit(kind: Kind, goid: u64, arg: u64) {
    let gen = GEN.load(Relaxed);
    if gen != 0 {
        record(gen, kind, goid, arg);
    }
}

#[inline(never)]
fn record(gen: u64, kind: Kind, goid: u64, arg: u64) {
    // Events that may follow a long wait read the clock (`buf.rs`, "Timestamps").
    let always_exact = !kind.is_goroutine_transition();
    buf::push(gen, kind, goid, arg, always_exact);
}

/// A goroutine left its M (`kind`: block, sched or end): kept pending for the next start's
/// switch event (`event.rs`).
#[inline(always)]
fn record_leave(gen: u64, kind: Kind, goid: u64, arg: u64) {
    match event::pack_switch(kind, goid, arg) {
        0 => record(gen, kind, goid, arg),
        left => buf::leave(left),
    }
}

#[inline(always)]
fn record_start(gen: u64, g: &G) {
    // Cleared unconditionally: cheaper than a branch, and `g` is not runnable-and-parked
    // now, so no waker stamps it concurrently (a wake-up follows its next block).
    let unblock = g.trace_unblock.load(Relaxed);
    g.trace_unblock.store(0, Relaxed);
    buf::start(gen, g.id(), unblock);
}

#[inline(always)]
fn record_unblock(gen: u64, g: &G) {
    g.trace_unblock.store(buf::unblock_ticks(gen), Relaxed);
}

/// Goroutine `goid` was created by `parent` (0 outside goroutines).
#[inline(always)]
pub(crate) fn go_create(goid: u64, parent: u64) {
    emit(Kind::GoCreate, goid, parent);
}

/// This M is about to resume `g`.
#[inline(always)]
pub(crate) fn go_start(g: &G) {
    let gen = GEN.load(Relaxed);
    if gen != 0 {
        record_start(gen, g);
    }
}

#[inline(always)]
fn leave(kind: Kind, g: &G, arg: impl FnOnce() -> u64) {
    let gen = GEN.load(Relaxed);
    if gen != 0 {
        record_leave(gen, kind, g.id(), arg());
    }
}

/// `g` switched back to its M to park; its wait reason is set. Called before the park
/// commits, so a wake-up's timestamp follows it.
#[inline(always)]
pub(crate) fn go_block(g: &G) {
    leave(Kind::GoBlock, g, || g.wait_reason.load(Relaxed) as u64);
}

/// `g` became runnable: woken while parked, or its park did not commit (a wake-up raced
/// with the switch). Called by the waker, often on another core, before `g` is queued: it
/// stamps `g.trace_unblock` (which the M that starts `g` reads, after the queue's hand-off)
/// and writes no event; the start's switch event carries it (`event.rs`).
#[inline(always)]
pub(crate) fn go_unblock(g: &G) {
    let gen = GEN.load(Relaxed);
    if gen != 0 {
        record_unblock(gen, g);
    }
}

/// `g` yielded and stays runnable.
#[inline(always)]
pub(crate) fn go_sched(g: &G) {
    leave(Kind::GoSched, g, || 0);
}

/// `g` returned.
#[inline(always)]
pub(crate) fn go_end(g: &G) {
    leave(Kind::GoEnd, g, || 0);
}

/// This M's P has no work and its M goes to sleep.
#[inline(always)]
pub(crate) fn proc_stop() {
    emit(Kind::ProcStop, 0, 0);
}

/// This M's P woke up.
#[inline(always)]
pub(crate) fn proc_start() {
    emit(Kind::ProcStart, 0, 0);
}

/// A blocking-pool thread starts `goid`'s call.
#[inline(always)]
pub(crate) fn blocking_begin(goid: u64) {
    emit(Kind::BlockingBegin, goid, 0);
}

/// A blocking-pool thread finished `goid`'s call.
#[inline(always)]
pub(crate) fn blocking_end(goid: u64) {
    emit(Kind::BlockingEnd, goid, 0);
}

/// For the GC: a collection begins (shown as a `GC` slice until [`gc_end`]).
#[inline(always)]
pub(crate) fn gc_start() {
    emit(Kind::GcStart, 0, 0);
}

/// For the GC: the collection ends.
#[inline(always)]
pub(crate) fn gc_end() {
    emit(Kind::GcEnd, 0, 0);
}

/// For the GC: the world stops (shown as an `STW (reason)` slice until [`stw_end`]).
#[inline(always)]
pub(crate) fn stw_start(reason: StwReason) {
    emit(Kind::StwStart, 0, reason as u64);
}

/// For the GC: the world restarts.
#[inline(always)]
pub(crate) fn stw_end() {
    emit(Kind::StwEnd, 0, 0);
}

/// For the GC and the allocator: the heap now holds `bytes` (a `heap` counter sample). Call
/// it at GC phase changes or every few hundred KiB of allocation, not per allocation.
#[inline(always)]
pub(crate) fn heap_alloc(bytes: u64) {
    emit(Kind::HeapAlloc, 0, bytes);
}

/// For sysmon: stall episode `id` of kind `kind` was reported; goroutine `goid` keeps the P
/// whose worker records on trace track `track` (`rt/sched/stall.rs`).
#[inline(always)]
pub(crate) fn stall_begin(goid: u64, id: u64, track: u64, kind: u8) {
    emit(Kind::StallBegin, goid, event::pack_stall(id, track, kind));
}

/// For sysmon: stall episode `id` ended (its P scheduled again).
#[inline(always)]
pub(crate) fn stall_end(goid: u64, id: u64, kind: u8) {
    emit(Kind::StallEnd, goid, event::pack_stall(id, 0, kind));
}
