//! One goroutine stack: a lazily committed mapping with a `PROT_NONE` guard page at the bottom.

use std::mem::ManuallyDrop;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use corosensei::stack::valgrind::ValgrindStackRegistration;
use corosensei::stack::{Stack, StackPointer};

use super::{page_size, round_to_page, StackError, MAX_STACK_SIZE, MIN_STACK_SIZE};

/// How much of the top of a stack [`GoStack::release_cold_pages`] keeps: what a typical
/// short-lived goroutine touches (corosensei's entry frames plus a few small frames). Pages
/// below it are handed back to the kernel.
pub(crate) const KEEP_HOT_BYTES: usize = 16 * 1024;

// Process-wide counters. Updated only on map and unmap (and release), never on pool get/put;
// Relaxed because they are statistics, read without any ordering promise.
static STACKS_MAPPED: AtomicUsize = AtomicUsize::new(0);
static BYTES_MAPPED: AtomicUsize = AtomicUsize::new(0);
static MAPS_TOTAL: AtomicU64 = AtomicU64::new(0);
static UNMAPS_TOTAL: AtomicU64 = AtomicU64::new(0);
static RELEASES_TOTAL: AtomicU64 = AtomicU64::new(0);

/// A snapshot of the process-wide stack counters, for `MemStats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackStats {
    /// Stacks mapped now (running, parked, or cached in a pool).
    pub stacks_mapped: usize,
    /// Bytes of address space reserved for those stacks, guard pages included: the analogue of
    /// Go's `StackInuse`/`StackSys` (which also count stacks cached for reuse). Physical memory
    /// use is lower; the kernel commits pages only when touched.
    pub bytes_reserved: usize,
    /// `mmap` calls made for stacks since the process started (one maps a batch of stacks).
    pub maps_total: u64,
    /// `munmap` calls made for stacks since the process started.
    pub unmaps_total: u64,
    /// `madvise(MADV_DONTNEED)` calls made on pooled stacks since the process started.
    pub releases_total: u64,
}

/// Reads the process-wide stack counters.
pub fn stack_stats() -> StackStats {
    StackStats {
        stacks_mapped: STACKS_MAPPED.load(Ordering::Relaxed),
        bytes_reserved: BYTES_MAPPED.load(Ordering::Relaxed),
        maps_total: MAPS_TOTAL.load(Ordering::Relaxed),
        unmaps_total: UNMAPS_TOTAL.load(Ordering::Relaxed),
        releases_total: RELEASES_TOTAL.load(Ordering::Relaxed),
    }
}

/// Pages of a mapped stack counted as resident by [`resident_estimate`]: what a goroutine that
/// starts, calls into the runtime and parks touches at the top of its stack (corosensei's
/// entry frames, the task frame, the park path), measured by `tests/gc_memlimit_stacks.rs`
/// (the RSS of parked goroutines less their malloc'd records).
pub(crate) const RESIDENT_PAGES_PER_STACK: usize = 1;

/// An estimate of the physical memory goroutine stacks hold, for the memory limit
/// (`gc/pacer.rs`): [`RESIDENT_PAGES_PER_STACK`] pages per mapped stack. One relaxed load.
///
/// Why this measure: the reservation ([`StackStats::bytes_reserved`], 260 KiB per default
/// stack) overstates the RAM of a parked goroutine some 60 times, since the kernel commits
/// a page only when it is touched; measuring what is committed (`mincore` per stack, or
/// `/proc/self/smaps`) is a system call per stack, far too slow to pace a collector on. A
/// stack that has run keeps its top pages until it is unmapped (the pools' `MADV_DONTNEED`
/// spares the top [`KEEP_HOT_BYTES`]), so the count is a lower bound for every stack that
/// ran, and over by a page for the few spares of a batch that never ran (fewer than
/// `MAP_BATCH` per mapping call). It undercounts goroutines that run deep (their deeper pages
/// stay committed while they live or sit in a per-P cache): gort cannot see a stack's depth
/// without a write on every function entry.
pub(crate) fn resident_estimate() -> usize {
    STACKS_MAPPED.load(Ordering::Relaxed) * RESIDENT_PAGES_PER_STACK * page_size()
}

/// A goroutine stack: `[limit, base)`, of which the lowest page is a `PROT_NONE` guard.
///
/// Uses two kernel mappings (see [`super::mappings_per_stack`]). Physical memory is committed by
/// the kernel on first touch; creating a stack touches nothing.
#[derive(Debug)]
pub(crate) struct GoStack {
    /// Start of the mapping (the guard page). Page aligned.
    lo: NonNull<u8>,
    /// Length of the whole mapping, guard included. A multiple of the page size.
    len: usize,
    /// Tells Valgrind this is a stack (a no-op on real hardware); deregistered before unmapping.
    valgrind: ManuallyDrop<ValgrindStackRegistration>,
    /// A goroutine ran on it since its cold pages were last released (or since it was mapped).
    pub(crate) dirty: bool,
}

// SAFETY: a GoStack is nothing but the exclusive ownership of a range of anonymous memory that
// no other value refers to. Moving that ownership to another thread is as sound as moving a
// Box<[u8]>; no thread-affine state (TLS, locks) is attached to it.
unsafe impl Send for GoStack {}

impl GoStack {
    /// Maps a stack with at least `size` usable bytes (rounded up to whole pages, at least
    /// [`MIN_STACK_SIZE`]) plus one guard page below them.
    pub(crate) fn new(size: usize) -> Result<GoStack, StackError> {
        let mut v = GoStack::map_batch(size, 1)?;
        Ok(v.pop().expect("a batch of one maps one stack"))
    }

    /// Maps up to `n` stacks with one `mmap` and one `mprotect` per guard page (instead of an
    /// `mmap` and an `mprotect` each): the stacks lie side by side, `[guard|usable]` repeated,
    /// and each owns (and later unmaps) its own part, so they are independent afterwards.
    /// Still two kernel mappings per stack: adjacent guard and usable ranges differ in
    /// protection and never merge.
    ///
    /// If the kernel refuses a guard's `mprotect` part way (vm.max_map_count reached), the
    /// stacks already guarded are returned and the rest is unmapped; the error is returned
    /// only when not even one stack could be made.
    pub(crate) fn map_batch(size: usize, n: usize) -> Result<Vec<GoStack>, StackError> {
        if size == 0 || size > MAX_STACK_SIZE {
            return Err(StackError::invalid_size(size));
        }
        let page = page_size();
        let usable =
            round_to_page(size.max(MIN_STACK_SIZE)).ok_or(StackError::invalid_size(size))?;
        let len = usable + page;
        let n = n.max(1);
        let total = len.checked_mul(n).ok_or(StackError::invalid_size(size))?;

        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK;
        // SAFETY: an anonymous mapping at an address of the kernel's choosing cannot alias any
        // existing Rust object; we check for MAP_FAILED before using the result.
        let p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                total,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(StackError::last_os_error("mmap", usable));
        }
        let base = p as usize;
        // Named whole, before the guards split it (`rt/vmaname.rs`): the pieces keep the name,
        // and the count stays two mappings per stack.
        crate::rt::vmaname::name(base, total, crate::rt::vmaname::STACK);
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let lo = base + i * len;
            // SAFETY: [lo, lo + page) is the first page of the i-th slice of the mapping we
            // just made and own; re-protecting it splits the mapping (two VMAs per stack).
            if unsafe { libc::mprotect(lo as *mut libc::c_void, page, libc::PROT_NONE) } != 0 {
                let err = StackError::last_os_error("mprotect", usable);
                // SAFETY: slices i.. are ours and unguarded; nothing refers to them yet.
                unsafe { libc::munmap(lo as *mut libc::c_void, (n - i) * len) };
                if out.is_empty() {
                    return Err(err);
                }
                break;
            }
            STACKS_MAPPED.fetch_add(1, Ordering::Relaxed);
            BYTES_MAPPED.fetch_add(len, Ordering::Relaxed);
            out.push(GoStack {
                // mmap never returns null on success (MAP_FIXED not used, and page 0 is not
                // mappable by default); fall back to a panic rather than UB if it ever did.
                lo: NonNull::new(lo as *mut u8).expect("mmap returned null"),
                len,
                valgrind: ManuallyDrop::new(ValgrindStackRegistration::new(lo as *mut u8, len)),
                dirty: false,
            });
        }
        MAPS_TOTAL.fetch_add(1, Ordering::Relaxed);
        Ok(out)
    }

    /// The guard page, as `(lowest address, one past the highest)`.
    #[inline]
    pub(crate) fn guard_range(&self) -> (usize, usize) {
        let lo = self.lo.as_ptr() as usize;
        (lo, lo + page_size())
    }

    /// Bytes a goroutine can use, guard page excluded.
    #[inline]
    pub(crate) fn usable_size(&self) -> usize {
        self.len - page_size()
    }

    /// Bytes of address space reserved, guard page included.
    #[inline]
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn mapped_size(&self) -> usize {
        self.len
    }

    /// Hands all but the top [`KEEP_HOT_BYTES`] of the usable stack back to the kernel with
    /// `madvise(MADV_DONTNEED)`: the pages read as zero afterwards and cost no RAM until touched
    /// again. Only for a stack no coroutine is running on (a pooled one), which `&mut self`
    /// guarantees since a running coroutine holds the stack by value.
    ///
    /// Costs one system call that walks the page table of the range (about a microsecond on a
    /// mostly untouched 64 KiB stack), so pools call it off the spawn path.
    pub(crate) fn release_cold_pages(&mut self) {
        let usable = self.usable_size();
        if usable <= KEEP_HOT_BYTES {
            return;
        }
        let (_, guard_hi) = self.guard_range();
        let cold = usable - KEEP_HOT_BYTES;
        // SAFETY: [guard_hi, guard_hi + cold) is page aligned, inside our read-write mapping, and
        // not in use (we hold the stack by &mut, so no coroutine runs on it). DONTNEED on private
        // anonymous memory only zeroes it, which is fine for a stack with no live frames.
        let rc = unsafe { libc::madvise(guard_hi as *mut libc::c_void, cold, libc::MADV_DONTNEED) };
        debug_assert_eq!(rc, 0, "madvise(MADV_DONTNEED) on a stack failed");
        RELEASES_TOTAL.fetch_add(1, Ordering::Relaxed);
        self.dirty = false;
    }
}

impl Drop for GoStack {
    fn drop(&mut self) {
        // SAFETY: the registration is dropped exactly once, here, before the memory goes away.
        unsafe { ManuallyDrop::drop(&mut self.valgrind) };
        // SAFETY: invariant 1: we own exactly [lo, lo + len) and nothing runs on it (a
        // coroutine holds its stack by value, so dropping it means the coroutine is gone).
        let rc = unsafe { libc::munmap(self.lo.as_ptr().cast(), self.len) };
        debug_assert_eq!(rc, 0, "munmap of a goroutine stack failed");
        STACKS_MAPPED.fetch_sub(1, Ordering::Relaxed);
        BYTES_MAPPED.fetch_sub(self.len, Ordering::Relaxed);
        UNMAPS_TOTAL.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: (contract of corosensei::stack::Stack) the lowest page of [limit, base) is a
// PROT_NONE guard page that catches overflow; the usable part is at least MIN_STACK_SIZE
// (enforced in `new`); both addresses are page aligned, hence STACK_ALIGNMENT aligned; and the
// memory stays mapped as long as the GoStack lives (only Drop unmaps it).
unsafe impl Stack for GoStack {
    #[inline]
    fn base(&self) -> StackPointer {
        StackPointer::new(self.lo.as_ptr() as usize + self.len).expect("stack base is non-null")
    }

    #[inline]
    fn limit(&self) -> StackPointer {
        StackPointer::new(self.lo.as_ptr() as usize).expect("stack limit is non-null")
    }
}

/// Test helper: for each page of `[addr, addr + len)`, whether it is resident in RAM.
#[cfg(test)]
pub(crate) fn resident_pages(addr: usize, len: usize) -> Vec<bool> {
    let pages = len / page_size();
    let mut vec = vec![0u8; pages];
    // SAFETY: addr is page aligned and the range is mapped (callers pass stack ranges); vec has
    // one byte per page as mincore requires.
    let rc = unsafe { libc::mincore(addr as *mut libc::c_void, len, vec.as_mut_ptr()) };
    assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
    vec.into_iter().map(|b| b & 1 != 0).collect()
}

/// Test helper: the permissions column of the `/proc/self/maps` line containing `addr`.
#[cfg(test)]
pub(crate) fn maps_perms(addr: usize) -> Option<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let (lo, hi) = fields.next()?.split_once('-')?;
        let lo = usize::from_str_radix(lo, 16).ok()?;
        let hi = usize::from_str_radix(hi, 16).ok()?;
        (lo <= addr && addr < hi).then(|| fields.next().unwrap_or("").to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_rounding() {
        let page = page_size();
        let s = GoStack::new(64 * 1024 + 1).unwrap();
        assert_eq!(s.usable_size(), round_to_page(64 * 1024 + 1).unwrap());
        assert_eq!(s.mapped_size(), s.usable_size() + page);
        let (lo, hi) = s.guard_range();
        assert_eq!(lo, s.limit().get());
        assert_eq!(hi - lo, page);
        assert_eq!(s.base().get() - s.limit().get(), s.mapped_size());
        assert_eq!(s.base().get() % corosensei::stack::STACK_ALIGNMENT, 0);
        assert_eq!(s.limit().get() % page, 0);

        // Tiny requests get corosensei's minimum; silly ones are refused.
        assert!(GoStack::new(1).unwrap().usable_size() >= MIN_STACK_SIZE);
        assert!(GoStack::new(0).is_err());
        let e = GoStack::new(usize::MAX).unwrap_err();
        assert_eq!(e.kind(), super::super::StackErrorKind::InvalidSize);
    }

    #[test]
    fn guard_is_prot_none_usable_is_rw_and_nothing_is_committed() {
        let s = GoStack::new(128 * 1024).unwrap();
        let (lo, hi) = s.guard_range();
        assert_eq!(maps_perms(lo).as_deref(), Some("---p"));
        assert_eq!(maps_perms(hi).as_deref(), Some("rw-p"));
        assert_eq!(maps_perms(s.base().get() - 1).as_deref(), Some("rw-p"));
        // Lazily committed: creating the stack touched no page.
        let resident = resident_pages(hi, s.usable_size());
        assert!(
            resident.iter().all(|r| !r),
            "fresh stack has resident pages"
        );
    }

    #[test]
    fn unmapped_on_drop_and_counted() {
        // Other tests of this binary map stacks on other threads, and the kernel hands a freed
        // range to the next mmap, so "the guard's address is no longer mapped" can only be
        // observed by claiming the address ourselves right after the drop: a one-page
        // MAP_FIXED_NOREPLACE mapping there succeeds only if nothing is mapped at it. EEXIST
        // means someone else (or a dropped stack that was never unmapped) holds it; a leak
        // holds it every time, a reuse almost never twice, so try a few fresh stacks.
        let page = page_size();
        let mut held = 0;
        for _ in 0..8 {
            let before = stack_stats();
            let s = GoStack::new(32 * 1024).unwrap();
            let (lo, _) = s.guard_range();
            let mid = stack_stats();
            assert!(mid.maps_total > before.maps_total);
            drop(s);
            assert!(stack_stats().unmaps_total > mid.unmaps_total);
            // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping; a new anonymous
            // page at `lo` touches no memory anyone else owns, and we unmap it below.
            let p = unsafe {
                libc::mmap(
                    lo as *mut libc::c_void,
                    page,
                    libc::PROT_NONE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                    -1,
                    0,
                )
            };
            if p != libc::MAP_FAILED && p as usize == lo {
                // SAFETY: `p` is the one-page mapping this test just created.
                unsafe { libc::munmap(p, page) };
                return;
            }
            if p != libc::MAP_FAILED {
                // An old kernel that ignores NOREPLACE placed it elsewhere: undo and retry.
                // SAFETY: as above.
                unsafe { libc::munmap(p, page) };
            }
            held += 1;
        }
        panic!("the guard address of a dropped stack was still mapped in {held} of 8 tries");
    }

    #[test]
    fn runs_a_coroutine() {
        use corosensei::{Coroutine, CoroutineResult};
        let stack = GoStack::new(64 * 1024).unwrap();
        let mut co: Coroutine<u32, u32, u32, GoStack> = Coroutine::with_stack(stack, |y, x| {
            let x = y.suspend(x + 1);
            x * 2
        });
        assert!(matches!(co.resume(1), CoroutineResult::Yield(2)));
        assert!(matches!(co.resume(5), CoroutineResult::Return(10)));
        let stack = co.into_stack();
        assert_eq!(stack.usable_size(), 64 * 1024);
    }

    #[test]
    fn release_cold_pages_keeps_the_top() {
        let page = page_size();
        let mut s = GoStack::new(256 * 1024).unwrap();
        let (_, hi) = s.guard_range();
        let usable = s.usable_size();
        for off in (0..usable).step_by(page) {
            // SAFETY: every page of the usable range is mapped read-write and owned by `s`.
            unsafe { ptr::write_volatile((hi + off) as *mut u8, 1) };
        }
        assert!(resident_pages(hi, usable).iter().all(|&r| r));
        s.release_cold_pages();
        let resident = resident_pages(hi, usable);
        let cold = (usable - KEEP_HOT_BYTES) / page;
        assert!(
            resident[..cold].iter().all(|&r| !r),
            "cold pages still resident"
        );
        assert!(
            resident[cold..].iter().all(|&r| r),
            "hot pages were released"
        );
        // Released pages read back as zero and are still usable.
        // SAFETY: as above.
        unsafe {
            assert_eq!(ptr::read_volatile(hi as *const u8), 0);
            ptr::write_volatile(hi as *mut u8, 2);
        }
    }

    /// Checks the "two mappings per stack" arithmetic behind the map-count error against the
    /// kernel. Uses 2 x 4000 mappings, well under the default limit.
    #[test]
    fn each_stack_costs_two_mappings() {
        const N: usize = 4000;
        let count = || super::super::error::current_map_count().unwrap();
        let before = count();
        let stacks: Vec<GoStack> = (0..N).map(|_| GoStack::new(16 * 1024).unwrap()).collect();
        let after = count();
        drop(stacks);
        let per = super::super::mappings_per_stack();
        // Other tests run in parallel threads and map a few things of their own.
        let delta = after as isize - before as isize;
        let expected = (N * per) as isize;
        assert!(
            (delta - expected).abs() < 400,
            "{N} stacks added {delta} mappings, not ~{expected}"
        );
    }
}
