//! A lock-free histogram of durations, for `gort::metrics` (`/sched/latencies:seconds`,
//! `/gc/pauses:seconds`): one atomic counter per bucket and an atomic sum, so recording is a
//! bucket computation (a leading-zero count) and two relaxed adds, and reading is a copy.
//!
//! Buckets are powers of two of nanoseconds (factor 2 resolution, as Go's time histograms
//! have at their coarsest; Go splits each power of two in 8): `[0, 128ns)`, then
//! `[2^k ns, 2^(k+1) ns)` for k = 7..=39, then `[2^40 ns (about 18 min), +Inf)`. The
//! boundaries are fixed, so two reads can be subtracted bucket by bucket.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Number of buckets.
pub(crate) const NBUCKETS: usize = 35;
/// log2 of the first bucket's upper bound in nanoseconds.
const FIRST_BITS: u32 = 7;

/// See the module documentation.
pub(crate) struct TimeHist {
    counts: [AtomicU64; NBUCKETS],
    sum_ns: AtomicU64,
}

/// The bucket of a duration of `ns` nanoseconds.
pub(crate) fn bucket(ns: u64) -> usize {
    let bits = 64 - ns.leading_zeros(); // bit length; 0 for 0
    (bits.saturating_sub(FIRST_BITS) as usize).min(NBUCKETS - 1)
}

/// The bucket boundaries in seconds, `NBUCKETS + 1` of them: `0`, `128e-9`, ..., `+Inf`
/// (Go's `Float64Histogram.Buckets`: bucket `i` holds `[b[i], b[i+1])`).
pub(crate) fn boundaries_seconds() -> Vec<f64> {
    let mut b = Vec::with_capacity(NBUCKETS + 1);
    b.push(0.0);
    for i in 1..NBUCKETS {
        b.push((1u64 << (FIRST_BITS as usize + i - 1)) as f64 * 1e-9);
    }
    b.push(f64::INFINITY);
    b
}

impl TimeHist {
    pub(crate) const fn new() -> TimeHist {
        TimeHist {
            counts: [const { AtomicU64::new(0) }; NBUCKETS],
            sum_ns: AtomicU64::new(0),
        }
    }

    /// Records one duration.
    pub(crate) fn record(&self, ns: u64) {
        self.counts[bucket(ns)].fetch_add(1, Relaxed);
        self.sum_ns.fetch_add(ns, Relaxed);
    }

    /// The counts per bucket and the sum of the recorded durations in nanoseconds. Not a
    /// consistent snapshot while others record: a count and the sum may each miss a record
    /// made during the read.
    pub(crate) fn read(&self) -> (Vec<u64>, u64) {
        let counts = self.counts.iter().map(|c| c.load(Relaxed)).collect();
        (counts, self.sum_ns.load(Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_their_ranges() {
        let b = boundaries_seconds();
        assert_eq!(b.len(), NBUCKETS + 1);
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(127), 0);
        assert_eq!(bucket(128), 1);
        assert_eq!(bucket(255), 1);
        assert_eq!(bucket(256), 2);
        assert_eq!(bucket(u64::MAX), NBUCKETS - 1);
        for ns in [
            1u64,
            100,
            128,
            1000,
            65_537,
            1 << 30,
            (1 << 40) - 1,
            1 << 40,
            1 << 50,
        ] {
            let i = bucket(ns);
            let s = ns as f64 * 1e-9;
            assert!(
                b[i] <= s && s < b[i + 1],
                "{ns} ns in bucket {i}: {:?}",
                &b[i..i + 2]
            );
        }
        let h = TimeHist::new();
        h.record(200);
        h.record(300);
        let (c, sum) = h.read();
        assert_eq!((c[1], c[2], sum), (1, 1, 500));
    }
}
