//! Goroutine stacks.
//!
//! # The problem
//!
//! Go starts every goroutine on a 2 KiB stack and grows it by copying it to a block twice the
//! size, rewriting every pointer into the old stack as it goes; GC shrinks it again. That works
//! because the Go compiler knows where every pointer into a stack lives. Rust knows no such
//! thing: a `&mut T` into a stack frame is just an address, held in registers, in other frames,
//! inside data structures, and nothing can find and fix it. So a gort goroutine stack can never
//! move. It is a fixed range of virtual memory, chosen when the goroutine is spawned, and it must
//! be large enough for the deepest call chain the goroutine will make.
//!
//! # How
//!
//! A stack ([`GoStack`], in `mmap.rs`) is one anonymous private mapping of `guard + size` bytes,
//! made with `MAP_NORESERVE | MAP_STACK`, whose lowest page is then `mprotect`ed to
//! `PROT_NONE`:
//!
//! ```text
//!   limit()                                                         base()
//!   | guard page (PROT_NONE) | usable stack (PROT_READ|PROT_WRITE) ... |
//!   lowest address                                   grows downwards <- highest address
//! ```
//!
//! * Virtual address space is cheap; physical memory is what counts. The kernel commits a page
//!   only when it is first touched, so a 256 KiB stack on which a goroutine used 3 KiB costs one
//!   page of RAM. We never touch the pages at creation. `MAP_NORESERVE` keeps the reservation out
//!   of the commit charge under heuristic overcommit; `MAP_STACK` tells the kernel it is a stack
//!   (since Linux 6.7 this also disables transparent huge pages on it, so a touched page stays
//!   4 KiB rather than becoming 2 MiB of RSS).
//! * The guard page turns a stack overflow into a SIGSEGV at a known address. The handler in
//!   `overflow.rs` recognises a fault inside the guard page of the goroutine running on the
//!   faulting thread and dies with `goroutine N stack overflow` and a hint to raise
//!   `gort::Builder::stack_size`, instead of the bare "Segmentation fault".
//! * Each stack costs **two kernel mappings** (VMAs): the guard and the usable part differ in
//!   protection, so the kernel cannot merge them. Linux caps mappings per process at
//!   `vm.max_map_count` (65530 by default), which caps live goroutines at about 32 000 unless the
//!   limit is raised. A spawn reserves its goroutine's stack (`headroom.rs`): `try_go` returns
//!   the error when the stacks of all goroutines spawned and not finished, started or not,
//!   would pass the limit (less a slack), so an accepted goroutine does not fail to start for
//!   want of a mapping. The count is an estimate kept without system calls (gort's own stacks,
//!   plus a baseline of the other mappings recounted from `/proc/self/maps` at most once a
//!   second, near the limit only), so refusals are cheap. The [`StackError`] names the sysctl
//!   and the command that raises it; an `ENOMEM` from `mmap` or `mprotect` is blamed on the
//!   limit when the estimate is near it.
//! * `mmap` + `mprotect` + `munmap` cost a few microseconds and take the process-wide
//!   `mmap_lock`, far too much for Go's spawn rate (~600 ns per goroutine). So stacks are
//!   recycled (`pool.rs`): each P keeps an owner-only cache ([`StackPool`], a `Vec`
//!   push/pop, no lock, no syscall); it trades batches with a locked [`GlobalStackPool`], which
//!   unmaps surplus stacks past a bound and returns the dirty pages of the stacks it holds to
//!   the kernel with `madvise(MADV_DONTNEED)`.
//!
//! # Rejected alternatives
//!
//! * **Copying stacks (Go) or segmented stacks (Go before 1.3, old Rust).** Copying needs
//!   precise knowledge of every pointer into the stack, which Rust does not have. Segmented
//!   stacks need a prologue check in every function (compiler support that Rust removed in 2013)
//!   and suffer the "hot split" problem that made Go abandon them.
//! * **No guard page.** Saves a mapping per stack, but an overflow then silently writes into
//!   whatever lies below: usually another goroutine's stack. That is memory corruption with no
//!   diagnosis, and it breaks the safety contract of `corosensei::stack::Stack`.
//! * **`MAP_GROWSDOWN`.** The kernel extends such a mapping downwards on a fault just below it.
//!   It would save the guard mapping (one VMA per stack instead of two), but growth is bounded
//!   only by `RLIMIT_STACK` and by the next mapping below, and the kernel keeps
//!   `stack_guard_gap` (256 pages, 1 MiB) free under it, so stacks cannot be packed and an
//!   overflow is not a clean fault at a known address. It has a history of security bugs and is
//!   effectively meant for the main thread's stack only.
//! * **Sharing guard pages between neighbouring stacks** (`G S G S G ...` in one big mapping).
//!   It saves address space but not mappings: the kernel can only merge adjacent regions with
//!   identical protection, and every usable region is still separated from the next by a
//!   `PROT_NONE` guard, so n stacks are still about 2n VMAs. It would also tie the lifetime of
//!   stacks together (one big region cannot be unmapped piecewise without splitting it).
//! * **Heap (`malloc`) stacks.** No guard page, and big allocations become mmaps anyway.
//! * **`MADV_FREE` instead of `MADV_DONTNEED`.** Cheaper, but RSS does not drop until memory
//!   pressure, which is what made Go 1.16 go back to `MADV_DONTNEED` by default: users read RSS.
//!
//! # Invariants
//!
//! 1. A [`GoStack`] owns exactly the mapping `[limit, base)`; `limit` and `base` are page
//!    aligned; `[limit, limit + page)` is `PROT_NONE` and the rest is read-write, for the whole
//!    life of the value. Only `Drop` unmaps it.
//! 2. The process-wide counters in `mmap.rs` change only when a stack is mapped or unmapped
//!    (never on pool get/put), so they cost nothing on the spawn path. A spawn adds one
//!    reservation (`headroom.rs`), released exactly once: when the goroutine's first run takes
//!    a stack (or fails to), or when its record is dropped before it ran.
//! 3. A [`StackPool`] is touched only by the thread that owns its P. The [`GlobalStackPool`]
//!    lock is never held across a system call (`mmap`, `munmap`, `madvise`).
//! 4. The per-thread "current goroutine" record read by the signal handler is plain
//!    const-initialised thread-local atomics, with no lazy init and no destructor, written with a
//!    compiler fence so the handler never sees a half-updated record as valid.

mod error;
mod headroom;
mod mmap;
mod overflow;
mod pool;

pub use error::{mappings_per_stack, max_map_count, StackError, StackErrorKind};
pub(crate) use headroom::{
    init_headroom, projected_stacks, refresh_headroom, reserve_stack, unreserve_stack,
};
pub(crate) use mmap::{resident_estimate, GoStack};
pub use mmap::{stack_stats, StackStats};
pub(crate) use overflow::{ensure_sigaltstack, install_overflow_handler};

pub(crate) use pool::{GlobalStackPool, StackPool, SCAVENGE_PERIOD_NS};

use std::sync::atomic::{AtomicUsize, Ordering};

/// The smallest usable stack we hand out, excluding the guard page (corosensei's minimum).
pub(crate) const MIN_STACK_SIZE: usize = corosensei::stack::MIN_STACK_SIZE;

/// The largest usable stack we hand out: Go's limit for a single goroutine stack.
pub(crate) const MAX_STACK_SIZE: usize = 1 << 30;

/// The stack sizes `gort::Builder::stack_size` accepts, checked once, at `build()`: from 16 KiB
/// (the runtime's own frames at a goroutine's start plus a few of its own) to
/// [`MAX_STACK_SIZE`].
pub(crate) const STACK_SIZE_RANGE: std::ops::RangeInclusive<usize> = (16 << 10)..=MAX_STACK_SIZE;

/// [`STACK_SIZE_RANGE`] in words, for errors.
pub(crate) const STACK_SIZE_EXPECTED: &str = "between 16384 and 1073741824 bytes";

/// The system page size, read once and cached.
pub(crate) fn page_size() -> usize {
    static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);
    let cached = PAGE_SIZE.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    // SAFETY: sysconf has no preconditions; _SC_PAGESIZE is a valid name.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let size = if size > 0 { size as usize } else { 4096 };
    assert!(
        size.is_power_of_two(),
        "page size {size} is not a power of two"
    );
    PAGE_SIZE.store(size, Ordering::Relaxed);
    size
}

#[cfg(test)]
#[test]
fn the_range_in_words_is_the_range() {
    let (lo, hi) = (STACK_SIZE_RANGE.start(), STACK_SIZE_RANGE.end());
    assert_eq!(STACK_SIZE_EXPECTED, format!("between {lo} and {hi} bytes"));
}

/// Rounds `n` up to a multiple of the page size, or `None` on overflow.
pub(crate) fn round_to_page(n: usize) -> Option<usize> {
    let page = page_size();
    Some(n.checked_add(page - 1)? & !(page - 1))
}
