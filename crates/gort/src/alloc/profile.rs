//! The heap profile: buckets of sampled allocations keyed by call stack, and the table of
//! sampled pointers still live.
//!
//! Both tables are fixed arrays in static memory, so recording never allocates.
//!
//! * Buckets: open addressing on a hash of the PCs. A bucket is filled under a spin lock (taken
//!   only to create a bucket, about once per distinct stack) and published by a `Release` store
//!   of its hash; lookups are lock-free (`Acquire` load of the hash, then the PCs). Counters are
//!   `fetch_add`ed: samples are rare (one per 512 KiB by default). When the table is full, new
//!   stacks go to a last bucket with an empty stack.
//! * Live pointers: open addressing on the address, probing at most [`LIVE_PROBE`] slots. A key
//!   goes `EMPTY -> ptr -> TOMBSTONE -> ptr' ...`, never back to `EMPTY`, so a lookup may stop
//!   at the first `EMPTY` slot. A sampled pointer is inserted before the allocation returns and
//!   removed before it is freed, and ownership of the pointer orders the two, so a free always
//!   sees its own insert. When no slot is free within the window the sample still counts as an
//!   allocation but its free is not seen (`inuse` then over-reports; rare at 16 Ki slots).

use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};

use super::fpwalk::{self, MAX_DEPTH};

const NBUCKETS: usize = 2048;
const NLIVE: usize = 16384;
const LIVE_PROBE: usize = 16;
const EMPTY: usize = 0;
const TOMBSTONE: usize = 1;
const SIZE_MASK: u64 = (1 << 48) - 1;

struct Bucket {
    /// 0 while free; set last, with `Release`, once `pcs` and `depth` are written.
    hash: AtomicU64,
    depth: AtomicUsize,
    pcs: [AtomicUsize; MAX_DEPTH],
    alloc_objects: AtomicU64,
    alloc_bytes: AtomicU64,
    free_objects: AtomicU64,
    free_bytes: AtomicU64,
}

impl Bucket {
    const fn new() -> Self {
        Bucket {
            hash: AtomicU64::new(0),
            depth: AtomicUsize::new(0),
            pcs: [const { AtomicUsize::new(0) }; MAX_DEPTH],
            alloc_objects: AtomicU64::new(0),
            alloc_bytes: AtomicU64::new(0),
            free_objects: AtomicU64::new(0),
            free_bytes: AtomicU64::new(0),
        }
    }

    fn same_stack(&self, pcs: &[usize]) -> bool {
        self.depth.load(Ordering::Relaxed) == pcs.len()
            && self
                .pcs
                .iter()
                .zip(pcs)
                .all(|(a, &b)| a.load(Ordering::Relaxed) == b)
    }
}

static BUCKETS: [Bucket; NBUCKETS] = [const { Bucket::new() }; NBUCKETS];
/// Creating buckets only.
static BUCKET_LOCK: AtomicBool = AtomicBool::new(false);

static LIVE_KEYS: [AtomicUsize; NLIVE] = [const { AtomicUsize::new(EMPTY) }; NLIVE];
/// `bucket index << 48 | size`, written by the inserting thread after it wins the key.
static LIVE_VALS: [AtomicU64; NLIVE] = [const { AtomicU64::new(0) }; NLIVE];
/// Sampled pointers currently in `LIVE_KEYS`; frees skip the lookup while it is 0.
static LIVE_COUNT: AtomicUsize = AtomicUsize::new(0);
/// A counting filter over live sampled pointers (8 KiB, stays in cache): a free whose counter
/// is 0 was not sampled, so most frees never touch the 384 KiB live table even while sampled
/// objects are live. Incremented before a key is published, decremented after it is removed.
static FILTER: [AtomicU16; NFILTER] = [const { AtomicU16::new(0) }; NFILTER];
const NFILTER: usize = 4096;

fn filter_slot(p: usize) -> &'static AtomicU16 {
    &FILTER[((p as u64 >> 4).wrapping_mul(0xD6E8_FEB8_6659_FD93) >> 52) as usize % NFILTER]
}

fn hash_pcs(pcs: &[usize]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &pc in pcs {
        h = (h ^ pc as u64).wrapping_mul(0x0000_0100_0000_01B3);
        h ^= h >> 29;
    }
    h | 1 // never 0, which marks a free bucket
}

fn hash_ptr(p: usize) -> usize {
    ((p as u64 >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize
}

/// The bucket of `pcs`, created if needed.
fn bucket_for(pcs: &[usize]) -> usize {
    let h = hash_pcs(pcs);
    let start = h as usize % (NBUCKETS - 1);
    for i in 0..NBUCKETS - 1 {
        let idx = (start + i) % (NBUCKETS - 1);
        let b = &BUCKETS[idx];
        match b.hash.load(Ordering::Acquire) {
            0 => {
                while BUCKET_LOCK
                    .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_err()
                {
                    std::hint::spin_loop();
                }
                let cur = b.hash.load(Ordering::Acquire);
                if cur == 0 {
                    for (slot, &pc) in b.pcs.iter().zip(pcs) {
                        slot.store(pc, Ordering::Relaxed);
                    }
                    b.depth.store(pcs.len(), Ordering::Relaxed);
                    b.hash.store(h, Ordering::Release);
                }
                BUCKET_LOCK.store(false, Ordering::Release);
                if cur == 0 || (cur == h && b.same_stack(pcs)) {
                    return idx;
                }
            }
            cur if cur == h && b.same_stack(pcs) => return idx,
            _ => {}
        }
    }
    NBUCKETS - 1 // full: the overflow bucket, whose stack stays empty
}

/// Records a sampled allocation of `size` bytes at `p`. Never allocates once the thread's stack
/// bounds are known.
pub(crate) fn record_alloc(p: *mut u8, size: usize) {
    let mut pcs = [0usize; MAX_DEPTH];
    let n = fpwalk::capture(&mut pcs);
    let idx = bucket_for(&pcs[..n]);
    let b = &BUCKETS[idx];
    b.alloc_objects.fetch_add(1, Ordering::Relaxed);
    b.alloc_bytes.fetch_add(size as u64, Ordering::Relaxed);

    let key = p as usize;
    let start = hash_ptr(key);
    let filter = filter_slot(key);
    if filter.load(Ordering::Relaxed) == u16::MAX {
        return; // saturated: leave this sample untracked rather than wrap the counter
    }
    filter.fetch_add(1, Ordering::Relaxed);
    for i in 0..LIVE_PROBE {
        let slot = (start + i) % NLIVE;
        let cur = LIVE_KEYS[slot].load(Ordering::Relaxed);
        if (cur == EMPTY || cur == TOMBSTONE)
            && LIVE_KEYS[slot]
                .compare_exchange(cur, key, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            LIVE_VALS[slot].store(
                ((idx as u64) << 48) | (size as u64 & SIZE_MASK),
                Ordering::Relaxed,
            );
            LIVE_COUNT.fetch_add(1, Ordering::Relaxed);
            return;
        }
    }
    filter.fetch_sub(1, Ordering::Relaxed); // no slot: untracked
}

/// Called before `p` is freed or reallocated: charges the free to its bucket if `p` was sampled.
#[inline(always)]
pub(crate) fn forget(p: *mut u8) {
    if LIVE_COUNT.load(Ordering::Relaxed) != 0
        && filter_slot(p as usize).load(Ordering::Relaxed) != 0
    {
        forget_slow(p as usize);
    }
}

#[cold]
fn forget_slow(key: usize) {
    let start = hash_ptr(key);
    for i in 0..LIVE_PROBE {
        let slot = (start + i) % NLIVE;
        match LIVE_KEYS[slot].load(Ordering::Relaxed) {
            EMPTY => return,
            k if k == key => {
                let v = LIVE_VALS[slot].load(Ordering::Relaxed);
                LIVE_KEYS[slot].store(TOMBSTONE, Ordering::Relaxed);
                LIVE_COUNT.fetch_sub(1, Ordering::Relaxed);
                filter_slot(key).fetch_sub(1, Ordering::Relaxed);
                let b = &BUCKETS[(v >> 48) as usize];
                b.free_objects.fetch_add(1, Ordering::Relaxed);
                b.free_bytes
                    .fetch_add(v & ((1 << 48) - 1), Ordering::Relaxed);
                return;
            }
            _ => {}
        }
    }
}

/// One heap-profile bucket: the sampled allocations made from one call stack.
///
/// Counts are raw samples, not scaled: the profile writer scales them by
/// `1 / (1 - exp(-avg_size / rate))` as Go does (`avg_size = alloc_bytes / alloc_objects`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeapRecord {
    /// Return addresses, innermost first (allocator frames included). Empty when no frame
    /// pointer chain was found, or for the overflow bucket.
    pub stack: Vec<usize>,
    /// Sampled allocations.
    pub alloc_objects: u64,
    /// Bytes of the sampled allocations.
    pub alloc_bytes: u64,
    /// Sampled allocations since freed.
    pub free_objects: u64,
    /// Bytes of the sampled allocations since freed.
    pub free_bytes: u64,
}

/// Every bucket with at least one sample (Go's `runtime.MemProfile` with `inuseZero = true`).
pub fn heap_profile_records() -> Vec<HeapRecord> {
    BUCKETS
        .iter()
        .filter(|b| b.alloc_objects.load(Ordering::Relaxed) != 0)
        .map(|b| {
            let published = b.hash.load(Ordering::Acquire) != 0;
            let depth = if published {
                b.depth.load(Ordering::Relaxed)
            } else {
                0
            };
            HeapRecord {
                stack: b.pcs[..depth]
                    .iter()
                    .map(|pc| pc.load(Ordering::Relaxed))
                    .collect(),
                alloc_objects: b.alloc_objects.load(Ordering::Relaxed),
                alloc_bytes: b.alloc_bytes.load(Ordering::Relaxed),
                free_objects: b.free_objects.load(Ordering::Relaxed),
                free_bytes: b.free_bytes.load(Ordering::Relaxed),
            }
        })
        .collect()
}
