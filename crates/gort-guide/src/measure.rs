//! Measurements for the checks: exact allocation counts and side-by-side speed-ups.

use gort::testing::{benchmark, BenchTime};
use std::time::Duration;

/// Allocations per call of `f` (heap allocations counted by gort's counting allocator, over
/// `calls` calls after one warm-up call).
pub fn allocs_per_call(calls: u64, mut f: impl FnMut()) -> f64 {
    f();
    let r = benchmark(BenchTime::Count(calls), |b| {
        b.report_allocs();
        for _ in b.iter() {
            f();
        }
    });
    if r.n == 0 {
        return f64::NAN;
    }
    r.mem_allocs as f64 / r.n as f64
}

/// Nanoseconds per call of `f`, run for about `time`.
pub fn ns_per_call(time: Duration, mut f: impl FnMut()) -> f64 {
    let r = benchmark(BenchTime::Duration(time), |b| {
        for _ in b.iter() {
            f();
        }
    });
    if r.n == 0 {
        return f64::NAN;
    }
    r.t.as_nanos() as f64 / r.n as f64
}

/// How many times faster `candidate` is than `baseline`: both measured alternately for
/// `rounds` rounds of about `time` each; the median of the per-round ratios.
pub fn speedup(
    rounds: usize,
    time: Duration,
    mut baseline: impl FnMut(),
    mut candidate: impl FnMut(),
) -> f64 {
    let mut ratios: Vec<f64> = (0..rounds.max(1))
        .map(|_| ns_per_call(time, &mut baseline) / ns_per_call(time, &mut candidate))
        .collect();
    ratios.sort_by(f64::total_cmp);
    ratios[ratios.len() / 2]
}
