//! Per-thread allocation counter blocks and the thread registration state machine.
//!
//! States of a thread (`Local::state`), in order:
//!
//! | state          | counts go to      | entered when                                     |
//! |----------------|-------------------|--------------------------------------------------|
//! | `UNREGISTERED` | (registers first) | thread start (const TLS initialiser)             |
//! | `REGISTERING`  | shared block      | first allocation; arming the exit hook allocates |
//! | `ACTIVE`       | own block         | block claimed and exit hook armed                |
//! | `SHARED`       | shared block      | no block free, or the exit hook ran (teardown)   |

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use super::{profile, sample};

/// Number of per-thread blocks; threads beyond this many live at once share one block.
pub(crate) const MAX_BLOCKS: usize = 512;

const UNREGISTERED: u8 = 0;
const REGISTERING: u8 = 1;
const ACTIVE: u8 = 2;
const SHARED: u8 = 3;

/// Set by the first counted allocation; tells readers the counters are live.
pub(crate) static INSTALLED: AtomicBool = AtomicBool::new(false);

/// One thread's counters, alone on its cache lines so owners never share a line.
#[repr(align(128))]
pub(crate) struct Block {
    claimed: AtomicBool,
    mallocs: AtomicU64,
    frees: AtomicU64,
    alloc_bytes: AtomicU64,
    free_bytes: AtomicU64,
    /// Bytes left before the owner's next heap-profile sample (see [`sample`]). Owner-only;
    /// kept here rather than in TLS so the hot path touches one cache line.
    pub(crate) sample_left: AtomicI64,
}

impl Block {
    const fn new() -> Self {
        Block {
            claimed: AtomicBool::new(false),
            mallocs: AtomicU64::new(0),
            frees: AtomicU64::new(0),
            alloc_bytes: AtomicU64::new(0),
            free_bytes: AtomicU64::new(0),
            sample_left: AtomicI64::new(0),
        }
    }
}

static BLOCKS: [Block; MAX_BLOCKS] = [const { Block::new() }; MAX_BLOCKS];
/// Counts of threads without a block of their own; updated with `fetch_add`.
static SHARED_BLOCK: Block = Block::new();

/// Per-thread state. No `Drop`, so the const initialiser makes this a plain `#[thread_local]`
/// that is usable at any point of a thread's life, teardown included.
pub(crate) struct Local {
    state: Cell<u8>,
    /// The thread's own block; non-null exactly when `state == ACTIVE`, so the hot path tests
    /// this pointer alone.
    block: Cell<*const Block>,
    /// xorshift64 state; 0 until seeded.
    pub(crate) rng: Cell<u64>,
    /// Set while this thread records a sample: its own allocations are counted, never sampled.
    pub(crate) in_profiler: Cell<bool>,
}

thread_local! {
    pub(crate) static LOCAL: Local = const {
        Local {
            state: Cell::new(UNREGISTERED),
            block: Cell::new(std::ptr::null()),
            rng: Cell::new(0),
            in_profiler: Cell::new(false),
        }
    };
    /// Zero-sized; its destructor gives the thread's block back when the thread exits.
    static EXIT_HOOK: ExitHook = const { ExitHook };
}

struct ExitHook;

impl Drop for ExitHook {
    fn drop(&mut self) {
        let _ = LOCAL.try_with(|l| {
            if l.state.get() == ACTIVE {
                l.state.set(SHARED);
                let b = l.block.replace(std::ptr::null());
                // SAFETY: `block` points into the static `BLOCKS` while `ACTIVE`.
                let b = unsafe { &*b };
                // Release: the next owner's claiming CAS (Acquire) sees our final counts.
                b.claimed.store(false, Ordering::Release);
            }
        });
    }
}

/// Adds `v` to a counter that only the calling thread writes: no locked instruction.
#[inline(always)]
fn bump(c: &AtomicU64, v: u64) {
    c.store(c.load(Ordering::Relaxed).wrapping_add(v), Ordering::Relaxed);
}

#[inline(always)]
fn bump_shared(c: &AtomicU64, v: u64) {
    c.fetch_add(v, Ordering::Relaxed);
}

/// The block this thread owns after registering on first use; `None`: use the shared block.
#[cold]
#[inline(never)]
fn own_block_slow(l: &Local) -> Option<&'static Block> {
    match l.state.get() {
        UNREGISTERED => register(l),
        _ => None,
    }
}

#[cold]
fn register(l: &Local) -> Option<&'static Block> {
    l.state.set(REGISTERING);
    INSTALLED.store(true, Ordering::Relaxed);
    let Some(b) = BLOCKS.iter().find(|b| {
        !b.claimed.load(Ordering::Relaxed)
            && b.claimed
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
    }) else {
        l.state.set(SHARED);
        return None;
    };
    // Arming the exit hook may allocate; those allocations see `REGISTERING` and go to the
    // shared block. If TLS destructors already ran (allocation during teardown), give up.
    if EXIT_HOOK.try_with(|_| ()).is_err() {
        b.claimed.store(false, Ordering::Release);
        l.state.set(SHARED);
        return None;
    }
    sample::seed(l, b);
    l.block.set(b);
    l.state.set(ACTIVE);
    Some(b)
}

/// The calling thread's own block, if it has one (without registering).
pub(crate) fn current_block(l: &Local) -> Option<&'static Block> {
    let b = l.block.get();
    // SAFETY: a non-null `block` points into the static `BLOCKS` (see `Local::block`).
    (!b.is_null()).then(|| unsafe { &*b })
}

#[inline(always)]
fn count_alloc(l: &Local, b: &'static Block, p: *mut u8, size: usize) {
    bump(&b.mallocs, 1);
    bump(&b.alloc_bytes, size as u64);
    let left = b.sample_left.load(Ordering::Relaxed) - size as i64;
    b.sample_left.store(left, Ordering::Relaxed);
    if left < 0 {
        sample::on_countdown_expired(l, b, p, size);
    }
}

/// Counts one allocation of `size` bytes at `p` and samples it for the heap profile if due.
#[inline(always)]
pub(crate) fn on_alloc(p: *mut u8, size: usize) {
    let _ = LOCAL.try_with(|l| {
        let b = l.block.get();
        if !b.is_null() {
            // SAFETY: a non-null `block` points into the static `BLOCKS`.
            count_alloc(l, unsafe { &*b }, p, size);
        } else {
            on_alloc_slow(l, p, size);
        }
    });
}

#[cold]
#[inline(never)]
fn on_alloc_slow(l: &Local, p: *mut u8, size: usize) {
    match own_block_slow(l) {
        Some(b) => count_alloc(l, b, p, size),
        None => {
            bump_shared(&SHARED_BLOCK.mallocs, 1);
            bump_shared(&SHARED_BLOCK.alloc_bytes, size as u64);
        }
    }
}

/// Counts one free of `size` bytes at `p` and charges it to its heap-profile bucket if sampled.
#[inline(always)]
pub(crate) fn on_free(p: *mut u8, size: usize) {
    profile::forget(p);
    on_free_counted_only(size);
}

/// Counts one free of `size` bytes without looking at the heap profile.
#[inline(always)]
pub(crate) fn on_free_counted_only(size: usize) {
    let _ = LOCAL.try_with(|l| {
        let b = l.block.get();
        if !b.is_null() {
            // SAFETY: a non-null `block` points into the static `BLOCKS`.
            let b = unsafe { &*b };
            bump(&b.frees, 1);
            bump(&b.free_bytes, size as u64);
        } else {
            on_free_slow(l, size);
        }
    });
}

#[cold]
#[inline(never)]
fn on_free_slow(l: &Local, size: usize) {
    match own_block_slow(l) {
        Some(b) => {
            bump(&b.frees, 1);
            bump(&b.free_bytes, size as u64);
        }
        None => {
            bump_shared(&SHARED_BLOCK.frees, 1);
            bump_shared(&SHARED_BLOCK.free_bytes, size as u64);
        }
    }
}

/// Totals of all threads, past and present, since the process started.
///
/// Each field is a sum of monotone per-thread counters read one by one, so it never goes
/// backwards, but the fields are not one atomic snapshot: while other threads allocate,
/// `frees` may be read after a free whose malloc was not yet seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocCounters {
    /// Allocations (Go's `Mallocs`).
    pub mallocs: u64,
    /// Frees (Go's `Frees`).
    pub frees: u64,
    /// Bytes allocated (Go's `TotalAlloc`).
    pub alloc_bytes: u64,
    /// Bytes freed.
    pub free_bytes: u64,
}

/// Reads the counters of every thread. Never allocates, so it may run inside a timed region.
pub fn read_alloc_counters() -> AllocCounters {
    let mut t = AllocCounters::default();
    for b in BLOCKS.iter().chain(std::iter::once(&SHARED_BLOCK)) {
        t.mallocs = t.mallocs.wrapping_add(b.mallocs.load(Ordering::Relaxed));
        t.frees = t.frees.wrapping_add(b.frees.load(Ordering::Relaxed));
        t.alloc_bytes = t
            .alloc_bytes
            .wrapping_add(b.alloc_bytes.load(Ordering::Relaxed));
        t.free_bytes = t
            .free_bytes
            .wrapping_add(b.free_bytes.load(Ordering::Relaxed));
    }
    t
}

/// Whether the calling thread counts into a block of its own (rather than the shared one).
pub fn thread_has_own_block() -> bool {
    LOCAL.try_with(|l| l.state.get() == ACTIVE).unwrap_or(false)
}
