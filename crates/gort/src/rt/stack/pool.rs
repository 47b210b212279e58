//! Stack caches: a lock-free, syscall-free cache per P, backed by one locked global pool.
//!
//! Mapping a stack costs `mmap` + `mprotect` (and later `munmap`), a few microseconds under the
//! process-wide `mmap_lock`; Go spawns a goroutine in ~600 ns. So a finished goroutine's stack
//! goes back to its P's [`StackPool`] and the next spawn on that P pops it: a `Vec` pop and push,
//! no lock, no system call.
//!
//! The two levels mirror Go's `stackcache` (per-P) over `stackpool` (global, locked):
//!
//! * [`StackPool::put`]: push; when the cache passes [`LOCAL_MAX`] stacks, move the older half
//!   (the bottom of the LIFO, the coldest in the CPU caches) to the global pool in one batch.
//! * [`StackPool::get`]: pop; when empty, take up to [`LOCAL_BATCH`] from the global pool in one
//!   lock acquisition; only when that is empty too, map a new stack.
//!   New stacks are mapped [`MAP_BATCH`] at a time (one `mmap` for the batch, one `mprotect`
//!   per guard page), the spares going into the cache.
//! * [`GlobalStackPool`] keeps what recent bursts needed and gives back, gradually, what they
//!   did not (Go's scavenger, applied to stacks): every [`SCAVENGE_PERIOD_NS`] sysmon looks at
//!   the pool's low-water mark over the period (stacks nobody took for that long) and unmaps
//!   half of what lies above the floor `keep` (default [`GLOBAL_MAX`])
//!   ([`GlobalStackPool::scavenge`]). A workload that parks 20,000 goroutines every few
//!   milliseconds reuses their stacks instead of mapping and unmapping 20,000 each time; a
//!   one-off burst of a million goroutines is given back within a few seconds. A hard cap
//!   (`cap`, default [`GLOBAL_CAP`]) bounds the pool; its surplus, like the scavenged
//!   stacks, goes to sysmon to unmap ([`GlobalStackPool::reap`]) so that exits do not pay a
//!   `munmap` each on the goroutines' threads. When sysmon falls [`DOOMED_MAX`] stacks
//!   behind, the putter unmaps itself.
//!
//! # Giving dirty pages back
//!
//! A goroutine that ran deep leaves its stack's pages committed; recycled as is, the stack keeps
//! that RAM for as long as it sits in a pool. Knowing the depth cheaply is the problem: `mincore`
//! is a system call, and a watermark would need a write on every function entry. So the decision
//! is by place, not by depth:
//!
//! * Stacks in a **per-P cache** are left alone. They are about to be reused, the cache is
//!   bounded ([`LOCAL_MAX`] stacks), and a `madvise` there would put a system call (plus page
//!   faults on reuse) back on the spawn path, which the cache exists to avoid.
//! * Stacks **idle in the global pool** for a whole scavenger period get
//!   `madvise(MADV_DONTNEED)` over all but their top
//!   [`KEEP_HOT_BYTES`](super::mmap::KEEP_HOT_BYTES), from sysmon, once per use (the stack's
//!   `dirty` flag). Not on the way in: each `madvise` also shoots down the TLBs of the other
//!   CPUs (an IPI each), and doing it in `put_batch` made it 36% of the time of a goroutine
//!   that parks (ParkedGoroutine, perf). Stacks reused within the period never pay it.
//!
//! The worst case of dirty memory held is therefore `GOMAXPROCS * LOCAL_MAX` full stacks (e.g.
//! 2 * 64 * 64 KiB = 8 MiB with the default size), plus `max_cached * KEEP_HOT_BYTES` in the
//! global pool. Lowering `LOCAL_MAX` lowers the first at the price of more lock traffic.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use super::{GoStack, StackError};

/// Per-P cache bound; past it, half moves to the global pool.
pub(crate) const LOCAL_MAX: usize = 64;
/// How many stacks an empty per-P cache takes from the global pool at once.
pub(crate) const LOCAL_BATCH: usize = 16;
/// Stacks the global pool keeps however long they go unused (the scavenger's floor).
pub(crate) const GLOBAL_MAX: usize = 256;
/// Hard bound of the global pool; stacks past it are unmapped at once.
pub(crate) const GLOBAL_CAP: usize = 64 * 1024;
/// Most idle stacks whose cold pages one scavenge releases (bounds sysmon's time per tick).
pub(crate) const RELEASE_MAX: usize = 4096;
/// How often sysmon scavenges the global pool.
pub(crate) const SCAVENGE_PERIOD_NS: u64 = 500_000_000;
/// Stacks mapped at once when a P's cache and the global pool are both empty.
pub(crate) const MAP_BATCH: usize = 8;
/// Most surplus stacks left for sysmon to unmap; past it, `put_batch` unmaps them itself.
pub(crate) const DOOMED_MAX: usize = 16 * 1024;

/// The process-level (or runtime-level) stack pool, shared by all Ps. All its stacks have the
/// same usable size.
#[derive(Debug)]
pub(crate) struct GlobalStackPool {
    /// Usable size of every stack this pool (and the per-P caches over it) hands out.
    stack_size: usize,
    /// The scavenger's floor: stacks kept however long they go unused.
    keep: usize,
    /// Hard bound: past it, `put_batch` gives the surplus back at once.
    cap: usize,
    /// Fewest stacks cached since the last scavenge (stacks nobody needed in the period).
    low_water: AtomicUsize,
    /// Invariant 3: held only for Vec operations, never across mmap/munmap/madvise.
    stacks: Mutex<Vec<GoStack>>,
    /// Mirror of `stacks.len()`, updated under the lock, readable without it (MemStats).
    cached: AtomicUsize,
    /// Stacks mapped by the per-P caches over this pool (tests and stats).
    mapped: AtomicU64,
    /// Stacks this pool unmapped (or handed to `doomed`) because it was over its bound.
    trimmed: AtomicU64,
    /// Surplus stacks waiting for [`GlobalStackPool::reap`] (sysmon) to unmap them.
    doomed: Mutex<Vec<GoStack>>,
    /// Mirror of `doomed.len()`, so that sysmon's check is a load.
    doomed_len: AtomicUsize,
}

impl GlobalStackPool {
    /// A pool handing out stacks of `stack_size` usable bytes, scavenged down to
    /// [`GLOBAL_MAX`], never above [`GLOBAL_CAP`].
    pub(crate) fn new(stack_size: usize) -> GlobalStackPool {
        GlobalStackPool::with_bounds(stack_size, GLOBAL_MAX, GLOBAL_CAP)
    }

    /// A pool keeping at most `max_cached` stacks (floor and cap alike).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn with_limit(stack_size: usize, max_cached: usize) -> GlobalStackPool {
        GlobalStackPool::with_bounds(stack_size, max_cached, max_cached)
    }

    /// A pool scavenged down to `keep` stacks and never holding more than `cap`.
    pub(crate) fn with_bounds(stack_size: usize, keep: usize, cap: usize) -> GlobalStackPool {
        GlobalStackPool {
            stack_size,
            keep,
            cap: cap.max(keep),
            low_water: AtomicUsize::new(0),
            stacks: Mutex::new(Vec::new()),
            cached: AtomicUsize::new(0),
            mapped: AtomicU64::new(0),
            trimmed: AtomicU64::new(0),
            doomed: Mutex::new(Vec::new()),
            doomed_len: AtomicUsize::new(0),
        }
    }

    /// The usable size of the stacks of this pool.
    pub(crate) fn stack_size(&self) -> usize {
        self.stack_size
    }

    /// Stacks cached in this (global) pool now.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn len(&self) -> usize {
        self.cached.load(Ordering::Relaxed)
    }

    /// The count of cached stacks (spawns near the map-count limit credit them against their
    /// reservations).
    pub(crate) fn cached_count(&self) -> &AtomicUsize {
        &self.cached
    }

    /// Stacks mapped on behalf of this pool since it was made.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn mapped_total(&self) -> u64 {
        self.mapped.load(Ordering::Relaxed)
    }

    /// Stacks this pool unmapped because it held too many.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn trimmed_total(&self) -> u64 {
        self.trimmed.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<GoStack>> {
        // A panic while holding the lock cannot leave the Vec inconsistent; keep going.
        self.stacks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Maps a fresh stack of this pool's size.
    fn map_new(&self) -> Result<GoStack, StackError> {
        let s = GoStack::new(self.stack_size)?;
        self.mapped.fetch_add(1, Ordering::Relaxed);
        Ok(s)
    }

    /// Maps up to `n` fresh stacks into `out` (at least one, or the error).
    fn map_into(&self, n: usize, out: &mut Vec<GoStack>) -> Result<(), StackError> {
        let v = GoStack::map_batch(self.stack_size, n)?;
        self.mapped.fetch_add(v.len() as u64, Ordering::Relaxed);
        out.extend(v);
        Ok(())
    }

    /// Unmaps the surplus stacks left by `put_batch` (sysmon calls this every tick, off the
    /// goroutines' threads). Cheap when there are none.
    pub(crate) fn reap(&self) {
        if self.doomed_len.load(Ordering::Relaxed) == 0 {
            return;
        }
        let doomed = {
            let mut d = self.doomed.lock().unwrap_or_else(|e| e.into_inner());
            self.doomed_len.store(0, Ordering::Relaxed);
            std::mem::take(&mut *d)
        };
        drop(doomed); // munmap each, outside the lock (invariant 3)
    }

    /// Stacks waiting for `reap`.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn doomed_len(&self) -> usize {
        self.doomed_len.load(Ordering::Relaxed)
    }

    /// Takes one stack: a cached one if any, else a new mapping.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn get(&self) -> Result<GoStack, StackError> {
        let cached = {
            let mut v = self.lock();
            let s = v.pop();
            self.cached.store(v.len(), Ordering::Relaxed);
            self.low_water.fetch_min(v.len(), Ordering::Relaxed);
            s
        };
        match cached {
            Some(s) => Ok(s),
            None => self.map_new(),
        }
    }

    /// Moves up to `n` cached stacks into `out`; returns how many.
    fn take_batch(&self, n: usize, out: &mut Vec<GoStack>) -> usize {
        let mut v = self.lock();
        let k = n.min(v.len());
        let start = v.len() - k;
        out.extend(v.drain(start..));
        self.cached.store(v.len(), Ordering::Relaxed);
        self.low_water.fetch_min(v.len(), Ordering::Relaxed);
        k
    }

    /// Gives one stack back.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn put(&self, s: GoStack) {
        self.put_batch(std::iter::once(s));
    }

    /// Gives stacks back (marked dirty: the scavenger releases their cold pages if they stay
    /// unused), and unmaps what exceeds the bound. Stacks of another size are unmapped at
    /// once.
    pub(crate) fn put_batch(&self, stacks: impl IntoIterator<Item = GoStack>) {
        let mut incoming: Vec<GoStack> = Vec::new();
        for mut s in stacks {
            if s.usable_size() != self.stack_size {
                continue; // dropped here: unmapped
            }
            s.dirty = true;
            incoming.push(s);
        }
        let surplus = {
            let mut v = self.lock();
            v.append(&mut incoming);
            let surplus = if v.len() > self.cap {
                v.split_off(self.cap)
            } else {
                Vec::new()
            };
            self.cached.store(v.len(), Ordering::Relaxed);
            surplus
        };
        self.doom(surplus);
    }

    /// Sysmon, every [`SCAVENGE_PERIOD_NS`]: gives back half of the stacks above the floor
    /// that stayed unused for the whole period (the oldest, coldest ones), and starts a new
    /// period. Returns how many went.
    pub(crate) fn scavenge(&self) -> usize {
        let (gone, mut cold) = {
            let mut v = self.lock();
            let idle_all = self.low_water.load(Ordering::Relaxed).min(v.len());
            let idle = idle_all.saturating_sub(self.keep);
            let k = idle.div_ceil(2);
            let gone: Vec<GoStack> = v.drain(..k).collect();
            // The rest of the idle bottom stays cached: take it out to release its cold
            // pages without the lock (invariant 3), and put it back below.
            let cold: Vec<GoStack> = v.drain(..(idle_all - k).min(RELEASE_MAX)).collect();
            self.cached.store(v.len(), Ordering::Relaxed);
            (gone, cold)
        };
        let n = gone.len();
        self.doom(gone);
        self.reap();
        for s in cold.iter_mut().filter(|s| s.dirty) {
            s.release_cold_pages();
        }
        let mut v = self.lock();
        v.splice(0..0, cold);
        self.cached.store(v.len(), Ordering::Relaxed);
        self.low_water.store(v.len(), Ordering::Relaxed);
        n
    }

    /// True if the pool holds stacks above its floor (the scavenger has work).
    pub(crate) fn above_floor(&self) -> bool {
        self.cached.load(Ordering::Relaxed) > self.keep
    }

    /// Hands stacks taken out of the pool to sysmon to unmap (or unmaps them here when
    /// sysmon is far behind).
    fn doom(&self, surplus: Vec<GoStack>) {
        if surplus.is_empty() {
            return;
        }
        self.trimmed
            .fetch_add(surplus.len() as u64, Ordering::Relaxed);
        // Leave the unmapping to sysmon unless it is far behind; either way outside the pool
        // lock (invariant 3).
        let mut surplus = surplus;
        {
            let mut d = self.doomed.lock().unwrap_or_else(|e| e.into_inner());
            if d.len() + surplus.len() <= DOOMED_MAX {
                d.append(&mut surplus);
                self.doomed_len.store(d.len(), Ordering::Relaxed);
            }
        }
        drop(surplus);
    }

    /// Unmaps every cached stack (e.g. at runtime shutdown or under memory pressure).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn trim_all(&self) {
        let all = {
            let mut v = self.lock();
            self.cached.store(0, Ordering::Relaxed);
            std::mem::take(&mut *v)
        };
        self.trimmed.fetch_add(all.len() as u64, Ordering::Relaxed);
        drop(all);
        self.reap();
    }
}

/// A per-P stack cache. Owner-only: only the thread holding the P touches it, so it needs no
/// lock (it is `&mut self` everywhere; the scheduler's P ownership provides the exclusion).
#[derive(Debug)]
pub(crate) struct StackPool {
    /// LIFO: the most recently freed stack (warmest in cache and TLB) is reused first.
    cache: Vec<GoStack>,
}

impl Default for StackPool {
    fn default() -> Self {
        StackPool::new()
    }
}

impl StackPool {
    /// An empty cache, with room reserved so that `put` never reallocates.
    pub(crate) fn new() -> StackPool {
        StackPool {
            cache: Vec::with_capacity(LOCAL_MAX + 1),
        }
    }

    /// Stacks cached here now.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn len(&self) -> usize {
        self.cache.len()
    }

    /// True when no stack is cached here.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }

    /// A stack for a new goroutine. Fast path: a `Vec` pop. Then a batch from `global`; only
    /// when both are empty, a new mapping.
    #[inline]
    pub(crate) fn get(&mut self, global: &GlobalStackPool) -> Result<GoStack, StackError> {
        if let Some(s) = self.cache.pop() {
            return Ok(s);
        }
        self.refill(global)
    }

    #[cold]
    fn refill(&mut self, global: &GlobalStackPool) -> Result<GoStack, StackError> {
        if global.take_batch(LOCAL_BATCH, &mut self.cache) == 0 {
            global.map_into(MAP_BATCH, &mut self.cache)?;
        }
        Ok(self.cache.pop().expect("refilled with at least one stack"))
    }

    /// Returns the stack of a finished goroutine. Fast path: a `Vec` push. Past [`LOCAL_MAX`],
    /// the older half goes to `global`.
    #[inline]
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn put(&mut self, s: GoStack, global: &GlobalStackPool) {
        self.cache.push(s);
        if self.cache.len() > LOCAL_MAX {
            self.spill(global);
        }
    }

    #[cold]
    fn spill(&mut self, global: &GlobalStackPool) {
        let half = self.cache.len() / 2;
        global.put_batch(self.cache.drain(..half));
    }

    /// Moves every cached stack to `global` (when the P is destroyed or GOMAXPROCS shrinks).
    pub(crate) fn flush(&mut self, global: &GlobalStackPool) {
        global.put_batch(self.cache.drain(..));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corosensei::stack::Stack;

    const SIZE: usize = 32 * 1024;

    #[test]
    fn local_cache_reuses_without_mapping() {
        let global = GlobalStackPool::new(SIZE);
        let mut local = StackPool::new();
        let a = local.get(&global).unwrap();
        assert_eq!(global.mapped_total(), MAP_BATCH as u64, "one batch mapped");
        assert_eq!(local.len(), MAP_BATCH - 1, "the spares are cached");
        let base = a.base();
        local.put(a, &global);
        for _ in 0..1000 {
            let s = local.get(&global).unwrap();
            assert_eq!(s.base(), base, "LIFO reuse of the same stack");
            local.put(s, &global);
        }
        assert_eq!(
            global.mapped_total(),
            MAP_BATCH as u64,
            "no mmap on the hot path"
        );
        assert_eq!(local.len(), MAP_BATCH);
    }

    #[test]
    fn batch_mapped_stacks_are_independent_and_guarded() {
        let page = super::super::page_size();
        let v = GoStack::map_batch(SIZE, 4).unwrap();
        assert_eq!(v.len(), 4);
        for w in v.windows(2) {
            let (lo0, _) = w[0].guard_range();
            let (lo1, _) = w[1].guard_range();
            assert_eq!(lo1 - lo0, w[0].mapped_size(), "side by side");
        }
        let mut v = v;
        // Unmap one in the middle; the others stay usable.
        drop(v.remove(1));
        for s in &v {
            let (_, hi) = s.guard_range();
            for off in (0..s.usable_size()).step_by(page) {
                // SAFETY: the usable range of `s` is mapped read-write and owned by `s`.
                unsafe { std::ptr::write_volatile((hi + off) as *mut u8, 7) };
            }
            let resident = super::super::mmap::resident_pages(hi, s.usable_size());
            assert!(resident.iter().all(|&r| r));
        }
    }

    #[test]
    fn local_cache_spills_half_and_refills_in_batches() {
        let global = GlobalStackPool::new(SIZE);
        let mut local = StackPool::new();
        let n = LOCAL_MAX + 1;
        let stacks: Vec<GoStack> = (0..n).map(|_| local.get(&global).unwrap()).collect();
        let mapped = n.div_ceil(MAP_BATCH) * MAP_BATCH;
        assert_eq!(global.mapped_total() as usize, mapped);
        assert_eq!(local.len(), mapped - n, "spares of the last batch");
        // Model of put: push; past LOCAL_MAX, the older half moves to the global pool.
        let (mut c, mut g) = (local.len(), 0);
        for s in stacks {
            local.put(s, &global);
            c += 1;
            if c > LOCAL_MAX {
                g += c / 2;
                c -= c / 2;
            }
        }
        assert!(g > 0, "some stacks spilled");
        assert_eq!(global.len(), g);
        assert_eq!(local.len(), c);

        // Drain the local cache, then the next get takes a batch from the global pool.
        let mut held: Vec<GoStack> = (0..local.len())
            .map(|_| local.get(&global).unwrap())
            .collect();
        assert!(local.is_empty());
        held.push(local.get(&global).unwrap());
        let took = LOCAL_BATCH.min(g);
        assert_eq!(local.len(), took - 1);
        assert_eq!(global.len(), g - took);
        assert_eq!(
            global.mapped_total() as usize,
            mapped,
            "reused, none mapped"
        );

        local.flush(&global);
        assert!(local.is_empty());
        drop(held);
    }

    #[test]
    fn global_pool_trims_past_its_bound() {
        let global = GlobalStackPool::with_limit(SIZE, 4);
        let stacks: Vec<GoStack> = (0..10).map(|_| global.get().unwrap()).collect();
        assert_eq!(global.mapped_total(), 10);
        let unmaps = super::super::stack_stats().unmaps_total;
        global.put_batch(stacks);
        assert_eq!(global.len(), 4);
        assert_eq!(global.trimmed_total(), 6);
        assert_eq!(global.doomed_len(), 6, "left for sysmon to unmap");
        global.reap();
        assert_eq!(global.doomed_len(), 0);
        assert!(super::super::stack_stats().unmaps_total >= unmaps + 6);
        // Reuse from the global pool maps nothing.
        let s = global.get().unwrap();
        assert_eq!(global.mapped_total(), 10);
        global.put(s);
        global.trim_all();
        assert_eq!(global.len(), 0);
        assert_eq!(global.trimmed_total(), 10);
    }

    #[test]
    fn scavenger_gives_back_half_of_what_stayed_idle_above_the_floor() {
        let global = GlobalStackPool::with_bounds(SIZE, 2, 1000);
        let stacks: Vec<GoStack> = (0..20).map(|_| global.get().unwrap()).collect();
        global.put_batch(stacks);
        assert_eq!(global.len(), 20, "under the cap: all cached");
        // First period: the low-water mark was 0 (the pool started empty): nothing goes.
        assert_eq!(global.scavenge(), 0);
        // A period in which 4 stacks are taken and returned: 16 stayed idle, 14 above the
        // floor, half of them go.
        let a: Vec<GoStack> = (0..4).map(|_| global.get().unwrap()).collect();
        global.put_batch(a);
        assert_eq!(global.scavenge(), 7);
        assert_eq!(global.len(), 13);
        // Idle periods halve the excess down to the floor.
        let mut rounds = 0;
        while global.scavenge() > 0 {
            rounds += 1;
        }
        assert_eq!(global.len(), 2);
        assert!(rounds <= 5, "{rounds}");
        assert!(!global.above_floor());
        assert_eq!(global.doomed_len(), 0, "scavenged stacks are unmapped");
    }

    #[test]
    fn global_pool_releases_cold_pages_and_rejects_other_sizes() {
        let page = super::super::page_size();
        let global = GlobalStackPool::new(256 * 1024);
        let s = global.get().unwrap();
        let (_, hi) = s.guard_range();
        let usable = s.usable_size();
        for off in (0..usable).step_by(page) {
            // SAFETY: the whole usable range of `s` is mapped read-write and owned by `s`.
            unsafe { std::ptr::write_volatile((hi + off) as *mut u8, 1) };
        }
        let before = super::super::stack_stats().releases_total;
        global.put(s);
        let resident = super::super::mmap::resident_pages(hi, usable);
        assert!(
            resident[0],
            "not released on the way in (no madvise on the hot path)"
        );
        // One period to set the low-water mark, one in which the stack stays unused.
        global.scavenge();
        global.scavenge();
        assert!(super::super::stack_stats().releases_total > before);
        let resident = super::super::mmap::resident_pages(hi, usable);
        assert!(!resident[0], "deep page still resident in the global pool");
        assert!(*resident.last().unwrap(), "top page was released");

        global.put(GoStack::new(SIZE).unwrap());
        assert_eq!(global.len(), 1, "a stack of another size is not cached");
    }
}
