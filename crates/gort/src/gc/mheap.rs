//! The page heap (Go's mheap + mcentral): arenas of spans, per-class lists of spans with free
//! slots, the pool of empty spans, large objects, and returning memory to the OS.
//!
//! Small spans are carved from 4 MiB arenas (mapped once, 4 MiB aligned, never unmapped: the
//! address space is reused and only the pages are returned with `MADV_DONTNEED`). A large
//! object gets its own 64 KiB aligned mapping, unmapped when it dies.
//!
//! Everything here is behind one lock ([`Heap::lock`]): taken when a mutator's cache needs a
//! span (once per 64 KiB of small objects), for each large object, and by the collector.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;

use super::handle::VTable;
use super::sizeclass::{NCLASS, SIZES};
use super::span::{large_layout, small_layout, Layout, Span, SPAN_BYTES};

const ARENA_BYTES: usize = 4 << 20;
/// Spans (of 64 KiB) the scavenger releases per cycle at most, unless the memory limit
/// requires more (`scavenge_take`).
const SCAVENGE_PER_CYCLE: usize = 64;
/// The scavenger's time budget, as Go's background scavenger holds itself to 1% of a CPU
/// (`scavengePercent`): per nanosecond of wall time between cycles it may spend 1/100 ns
/// releasing, at `SCAVENGE_SPAN_NS` per span (a 64 KiB `madvise` in a VM, ~15 us, and the 16
/// page faults that follow when the heap grows back into it). Without it a heap whose goal
/// oscillates released and refaulted megabytes every cycle: GCBench, 79 cycles in 0.65 s,
/// made 4,093 `madvise` calls and spent 0.15 s in the kernel against Go's 0.03 s.
const SCAVENGE_CPU_DIVISOR: u64 = 100;
const SCAVENGE_SPAN_NS: u64 = 20_000;

/// Span pointers are only dereferenced under the rules of `span.rs`; moving them between
/// threads is fine.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct SpanPtr(pub *mut Span);
// SAFETY: a SpanPtr is an address; access to the span goes through span.rs's rules.
unsafe impl Send for SpanPtr {}
// SAFETY: as above: sharing the address shares nothing; markers that scan a shared snapshot
// of spans read them under span.rs's rules (atomically while marking runs).
unsafe impl Sync for SpanPtr {}

/// The heap's state, behind `Heap::inner`.
pub(crate) struct HeapInner {
    /// Per type (keyed by the address of its `VTable`): swept spans with free slots that no
    /// cache holds.
    pub partial: HashMap<usize, Vec<SpanPtr>, BuildHasherDefault<AddrHasher>>,
    /// Every span holding objects (small and large), for the collector.
    pub all: Vec<SpanPtr>,
    /// The same spans by class (0: large), to hand the sweeper its lists.
    pub by_class: Vec<Vec<SpanPtr>>,
    /// Per class: the spans not yet swept since the last mark are `by_class[c][..unswept[c]]`
    /// (lazy sweeping, `sweep.rs`; Go's sweepgen). Mark termination sets each cursor to its
    /// list's length, O(classes) with the world stopped; spans created after it are appended
    /// beyond the cursor (fresh: never swept this cycle). The lists are only appended to until
    /// the cursors are all back to zero (`finish_sweep` retains after sweeping everything).
    pub unswept: Vec<usize>,
    /// Empty small spans: (base, released to the OS).
    pub free: Vec<(usize, bool, u64)>,
    /// Mark terminations so far (ages the free spans: `scavenge_take`).
    pub cycle: u64,
    /// Bytes mapped from the OS (arenas + large objects).
    pub mapped: usize,
    /// Bytes of `mapped` returned with MADV_DONTNEED.
    pub released: usize,
    /// The scavenger's unspent time budget (`SCAVENGE_CPU_DIVISOR`) and when it was last
    /// topped up.
    pub scav_credit_ns: u64,
    pub scav_last: Option<std::time::Instant>,
    layouts: Vec<Layout>,
}

/// Hashes a `VTable` address (one multiply: the keys are distinct static addresses).
#[derive(Default)]
pub(crate) struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_usize(&mut self, n: usize) {
        let h = (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 29);
    }
}

/// The global heap.
pub(crate) struct Heap {
    pub inner: Mutex<HeapInner>,
}

impl Heap {
    pub(crate) const fn new() -> Heap {
        Heap {
            inner: Mutex::new(HeapInner {
                partial: HashMap::with_hasher(BuildHasherDefault::new()),
                all: Vec::new(),
                by_class: Vec::new(),
                unswept: Vec::new(),
                free: Vec::new(),
                cycle: 0,
                mapped: 0,
                released: 0,
                scav_credit_ns: 0,
                scav_last: None,
                layouts: Vec::new(),
            }),
        }
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, HeapInner> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if g.layouts.is_empty() {
            g.layouts = (0..NCLASS)
                .map(|c| small_layout((SIZES[c] as usize).max(8)))
                .collect();
            g.by_class = (0..NCLASS).map(|_| Vec::new()).collect();
            g.unswept = vec![0; NCLASS];
        }
        g
    }
}

fn mmap_aligned(bytes: usize, align: usize) -> Option<usize> {
    let len = bytes + align;
    // SAFETY: anonymous private mapping with no address hint: no existing memory is affected.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return None;
    }
    let start = p as usize;
    let base = (start + align - 1) & !(align - 1);
    // SAFETY: both trimmed ranges lie inside the mapping just created and hold nothing.
    unsafe {
        if base > start {
            libc::munmap(start as *mut _, base - start);
        }
        let end = start + len;
        if end > base + bytes {
            libc::munmap((base + bytes) as *mut _, end - (base + bytes));
        }
    }
    // The whole (trimmed) mapping, so naming splits nothing (`rt/vmaname.rs`).
    crate::rt::vmaname::name(base, bytes, crate::rt::vmaname::GC_SPAN);
    Some(base)
}

fn out_of_memory(bytes: usize) -> ! {
    super::gctrace::gc_eprintln!("fatal error: gort gc: out of memory mapping {bytes} bytes");
    std::process::abort()
}

impl HeapInner {
    /// A span of `class` for objects of type `vt` with at least one free slot, taken off the
    /// lists for a cache.
    pub(crate) fn span_for_cache(&mut self, class: usize, vt: &'static VTable) -> SpanPtr {
        let key = vt as *const VTable as usize;
        if let Some(s) = self.partial.get_mut(&key).and_then(|l| l.pop()) {
            return s;
        }
        // Sweep unswept spans of this class until one of this type has room, or one is empty
        // (it takes the type) (Go's mcentral.cacheSpan). Others with room go to their type's
        // partial list. At most SWEEP_BUDGET spans (Go's spanBudget is 100 of its 8 KiB
        // spans): the caller is inside a guard, and a heap of full spans would otherwise keep
        // it there (and a stop-the-world waiting) for milliseconds; past the budget it takes a
        // fresh span and asks allocating threads to sweep outside their guards
        // (`sweep::SWEEP_WANTED`).
        const SWEEP_BUDGET: usize = 16;
        let mut budget = SWEEP_BUDGET;
        loop {
            if budget == 0 {
                super::sweep::SWEEP_WANTED.store(true, std::sync::atomic::Ordering::Relaxed);
                break;
            }
            let Some(s) = self.pop_unswept(class) else {
                break;
            };
            budget -= 1;
            // SAFETY: heap lock held; an unswept span is cached by no one.
            let nalloc = unsafe { super::sweep::sweep_one(s) };
            // SAFETY: as above: the span is ours until we list or return it.
            let span = unsafe { &mut *s.0 };
            if nalloc == 0 {
                // Empty: no object (and no object waiting for its drop) lives in it, so it
                // may change type.
                span.vt = vt;
                return s;
            }
            if nalloc < span.nelems {
                if std::ptr::eq(span.vt, vt) {
                    return s;
                }
                self.push_partial(s);
            }
        }
        let base = match self.free.pop() {
            Some((b, released, _)) => {
                if released {
                    self.released -= SPAN_BYTES;
                }
                b
            }
            None => {
                let a = mmap_aligned(ARENA_BYTES, ARENA_BYTES)
                    .unwrap_or_else(|| out_of_memory(ARENA_BYTES));
                self.mapped += ARENA_BYTES;
                for i in (1..ARENA_BYTES / SPAN_BYTES).rev() {
                    self.free.push((a + i * SPAN_BYTES, false, self.cycle));
                }
                a
            }
        };
        let elemsize = SIZES[class] as usize;
        // SAFETY: `base` is an empty span of this heap: SPAN_BYTES aligned, mapped, unused.
        let s = unsafe { Span::init(base, class, elemsize, self.layouts[class], SPAN_BYTES, vt) };
        self.all.push(SpanPtr(s));
        self.by_class[class].push(SpanPtr(s));
        SpanPtr(s)
    }

    /// A new span for one large object of `size` bytes and type `vt`.
    pub(crate) fn alloc_large(&mut self, size: usize, vt: &'static VTable) -> SpanPtr {
        let (l, bytes) = large_layout(size);
        let base = mmap_aligned(bytes, SPAN_BYTES).unwrap_or_else(|| out_of_memory(bytes));
        self.mapped += bytes;
        // SAFETY: a fresh mapping of `bytes`, SPAN_BYTES aligned.
        let s = unsafe { Span::init(base, 0, bytes - l.objs_off, l, bytes, vt) };
        self.all.push(SpanPtr(s));
        self.by_class[0].push(SpanPtr(s));
        SpanPtr(s)
    }

    /// Gives an empty span back: small spans to the pool; a large one's mapping is returned
    /// (base, bytes) for the caller to unmap after releasing the lock.
    ///
    /// # Safety
    /// The span holds no object, no cache holds it, and it was removed from `all`.
    #[must_use]
    pub(crate) unsafe fn free_span(&mut self, s: SpanPtr) -> Option<(usize, usize)> {
        // SAFETY: the span header is valid until unmapped (caller: span is ours and empty).
        let (class, bytes) = unsafe { ((*s.0).class, (*s.0).bytes) };
        if class == 0 {
            self.mapped -= bytes;
            Some((s.0 as usize, bytes))
        } else {
            self.free.push((s.0 as usize, false, self.cycle));
            None
        }
    }

    /// Takes the pooled empty spans beyond `keep` bytes that still hold pages off the free
    /// list, for the caller to release (MADV_DONTNEED) without the lock and hand back with
    /// [`scavenge_return`](Self::scavenge_return). Spans freed during the last cycle are kept
    /// too, up to `max_keep` bytes in all (the memory limit's room): a heap that oscillates
    /// reuses them in the next cycle, and releasing them would only turn into page faults (Go's
    /// scavenger gets the same effect by releasing slowly in the background). At most
    /// `SCAVENGE_PER_CYCLE` spans go per call unless the limit requires more: releasing memory
    /// makes the kernel drain per-CPU page lists and compact in worker threads that preempt
    /// the mutators (measured: kworker and kcompactd bursts of 1-4 ms during gc_latency's
    /// scavenging of hundreds of MB per cycle), so it goes gradually, as Go's rate-limited
    /// scavenger does.
    pub(crate) fn scavenge_take(&mut self, keep: usize, max_keep: usize) -> Vec<usize> {
        let now = std::time::Instant::now();
        let elapsed = self
            .scav_last
            .map_or(0, |t| now.duration_since(t).as_nanos() as u64);
        self.scav_last = Some(now);
        self.scav_credit_ns = (self.scav_credit_ns + elapsed / SCAVENGE_CPU_DIVISOR)
            .min(SCAVENGE_PER_CYCLE as u64 * SCAVENGE_SPAN_NS);
        let budget = (self.scav_credit_ns / SCAVENGE_SPAN_NS) as usize;
        let mut kept = 0;
        let mut take = Vec::new();
        let mut i = self.free.len();
        while i > 0 {
            i -= 1;
            let (base, rel, since) = self.free[i];
            if rel {
                continue;
            }
            let within_limit = kept + SPAN_BYTES <= max_keep;
            if kept + SPAN_BYTES <= keep
                || (within_limit && (since + 1 >= self.cycle || take.len() >= budget))
            {
                kept += SPAN_BYTES;
                continue;
            }
            take.push(base);
            // The element moved into `i` was visited already (we walk down).
            self.free.swap_remove(i);
        }
        self.scav_credit_ns = self
            .scav_credit_ns
            .saturating_sub(take.len() as u64 * SCAVENGE_SPAN_NS);
        // Counted as released from now on (they are neither in use nor pooled with pages).
        self.released += take.len() * SPAN_BYTES;
        self.mapped -= take.len() * SPAN_BYTES;
        take
    }

    /// Returns spans taken by [`scavenge_take`](Self::scavenge_take), their pages released.
    pub(crate) fn scavenge_return(&mut self, bases: &[usize]) {
        self.mapped += bases.len() * SPAN_BYTES;
        let c = self.cycle;
        self.free.extend(bases.iter().map(|&b| (b, true, c)));
    }

    /// Takes the next unswept span of `class`.
    pub(crate) fn pop_unswept(&mut self, class: usize) -> Option<SpanPtr> {
        let n = self.unswept[class];
        if n == 0 {
            return None;
        }
        self.unswept[class] = n - 1;
        Some(self.by_class[class][n - 1])
    }

    /// Queues every span that exists now for sweeping (mark termination, world stopped).
    pub(crate) fn queue_sweep(&mut self) {
        self.cycle += 1;
        for c in 0..self.by_class.len() {
            debug_assert_eq!(self.unswept[c], 0, "sweep termination left spans unswept");
            self.unswept[c] = self.by_class[c].len();
        }
    }

    /// Lists `s` (swept, uncached, with free slots) as partial for its type.
    pub(crate) fn push_partial(&mut self, s: SpanPtr) {
        // SAFETY: a span of the heap; its type is stable while it is listed (not empty).
        let key = unsafe { (*s.0).vt } as *const VTable as usize;
        self.partial.entry(key).or_default().push(s);
    }

    /// Bytes in spans holding objects or cached.
    pub(crate) fn inuse_bytes(&self) -> usize {
        self.mapped - self.free.len() * SPAN_BYTES
    }
}
