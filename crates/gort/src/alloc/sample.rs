//! When to sample: Go's `MemProfileRate` with exponentially distributed sample distances.
//!
//! Sampling every `rate` bytes exactly would alias with periodic allocation patterns, so, as
//! Go's `nextSample` does, the distance to the next sample is drawn from an exponential
//! distribution with mean `rate`: a Poisson process over allocated bytes, in which every byte
//! has the same chance `1/rate` of being the sampled one.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::counters::{current_block, Block, Local, LOCAL};
use super::profile;

/// Go's default `runtime.MemProfileRate`: one sample per 512 KiB allocated, on average.
pub const DEFAULT_MEM_PROFILE_RATE: usize = 512 * 1024;

static RATE: AtomicUsize = AtomicUsize::new(DEFAULT_MEM_PROFILE_RATE);

/// While sampling is off, threads look at the rate again after this many bytes.
const OFF_RECHECK_BYTES: i64 = 1 << 20;

/// Sets the average number of bytes between heap-profile samples (Go's
/// `runtime.MemProfileRate`): 0 turns sampling off, 1 samples every allocation.
///
/// Like Go's, set it as early as possible. Other threads pick the new rate up at their next
/// sample (or within 1 MiB of allocation while sampling was off); the calling thread at once.
pub fn set_mem_profile_rate(rate: usize) {
    RATE.store(rate, Ordering::Relaxed);
    let _ = LOCAL.try_with(|l| {
        if let Some(b) = current_block(l) {
            b.sample_left
                .store(next_distance(l, rate), Ordering::Relaxed);
        }
    });
}

/// Runs `f` with heap sampling off on this thread (its allocations are still counted): the
/// profile writers' own allocations (symbolization, encoding) stay out of the heap profile.
pub(crate) fn without_sampling<R>(f: impl FnOnce() -> R) -> R {
    let prev = LOCAL
        .try_with(|l| l.in_profiler.replace(true))
        .unwrap_or(false);
    let r = f();
    let _ = LOCAL.try_with(|l| l.in_profiler.set(prev));
    r
}

/// The current heap-profile sampling rate in bytes (0 = off).
pub fn mem_profile_rate() -> usize {
    RATE.load(Ordering::Relaxed)
}

/// Seeds a new thread's generator from a global sequence (splitmix64), and draws its first
/// sample distance.
pub(crate) fn seed(l: &Local, b: &Block) {
    static SEQ: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    let mut z = SEQ.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    l.rng.set(z | 1);
    b.sample_left
        .store(next_distance(l, mem_profile_rate()), Ordering::Relaxed);
}

fn next_u64(l: &Local) -> u64 {
    let mut x = l.rng.get();
    if x == 0 {
        x = 0x2545_F491_4F6C_DD1D;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    l.rng.set(x);
    x
}

/// Bytes until the next sample: `-ln(u) * rate` for a uniform `u` in (0, 1).
pub(crate) fn next_distance(l: &Local, rate: usize) -> i64 {
    match rate {
        0 => OFF_RECHECK_BYTES,
        1 => 0,
        _ => {
            // 53 random bits, centred in their interval so that u is never 0 or 1.
            let u = ((next_u64(l) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            let d = -u.ln() * rate as f64;
            d.min(i64::MAX as f64 / 2.0) as i64
        }
    }
}

/// The countdown of thread `l` went negative on the allocation `(p, size)`.
#[cold]
#[inline(never)]
pub(crate) fn on_countdown_expired(l: &Local, b: &Block, p: *mut u8, size: usize) {
    if l.in_profiler.get() {
        return; // the profiler's own allocation: counted, never sampled
    }
    let rate = mem_profile_rate();
    if rate != 0 {
        l.in_profiler.set(true);
        profile::record_alloc(p, size);
        l.in_profiler.set(false);
    }
    b.sample_left
        .store(next_distance(l, rate), Ordering::Relaxed);
}
