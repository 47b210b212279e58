//! The heap and allocs profiles, from the allocation sampler's buckets (`alloc/profile.rs`).
//!
//! Values are scaled as Go's `scaleHeapSample` does: an allocation of `s` bytes is sampled
//! with probability `1 - exp(-s / rate)`, so each sampled object stands for
//! `1 / (1 - exp(-avg / rate))` objects, `avg` being the bucket's average sampled size.

use super::profile::{Frame, Profile, Sample};
use super::symbolize::{trim_leaf, Symbolizer};

/// Go's `scaleHeapSample`: estimated `(objects, bytes)` from sampled `(count, size)`.
pub fn scale_heap_sample(count: u64, size: u64, rate: usize) -> (i64, i64) {
    if count == 0 || size == 0 {
        return (0, 0);
    }
    if rate <= 1 {
        return (count as i64, size as i64);
    }
    let avg = size as f64 / count as f64;
    let scale = 1.0 / (1.0 - (-avg / rate as f64).exp());
    ((count as f64 * scale) as i64, (size as f64 * scale) as i64)
}

/// The allocator's and sampler's own frames at the leaf end of a sampled stack.
fn is_alloc_internal(f: &Frame) -> bool {
    f.lines.iter().any(|l| {
        let n = l.function.as_str();
        n.contains("gort::alloc::")
            || n.starts_with("__rust_")
            || n.starts_with("__rdl_")
            || n.starts_with("alloc::alloc::")
            || n.starts_with("std::alloc::")
            || n.contains("GlobalAlloc")
    })
}

/// Builds the heap profile. `default` is the sample type pprof shows first: `inuse_space`
/// for "heap", `alloc_space` for "allocs", as Go does.
pub(crate) fn build(default: &str) -> Profile {
    let rate = crate::alloc::mem_profile_rate();
    let mut sym = Symbolizer::new();
    let mut samples = Vec::new();
    for r in crate::alloc::heap_profile_records() {
        let (ao, ab) = scale_heap_sample(r.alloc_objects, r.alloc_bytes, rate);
        let (io, ib) = scale_heap_sample(
            r.alloc_objects.saturating_sub(r.free_objects),
            r.alloc_bytes.saturating_sub(r.free_bytes),
            rate,
        );
        let mut stack = sym.stack(&r.stack, false);
        trim_leaf(&mut stack, 12, is_alloc_internal);
        samples.push(Sample {
            stack,
            values: vec![ao, ab, io, ib],
            labels: Vec::new(),
        });
    }
    let t = |a: &str, b: &str| (a.to_string(), b.to_string());
    Profile {
        sample_types: vec![
            t("alloc_objects", "count"),
            t("alloc_space", "bytes"),
            t("inuse_objects", "count"),
            t("inuse_space", "bytes"),
        ],
        default_sample_type: default.to_string(),
        period_type: t("space", "bytes"),
        period: rate as i64,
        time_nanos: super::now_unix_nanos(),
        samples,
        ..Profile::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_matches_go() {
        // One sample of 512 KiB at rate 512 KiB: scale = 1 / (1 - e^-1) = 1.5819767...
        let (n, b) = scale_heap_sample(1, 512 << 10, 512 << 10);
        assert_eq!(n, 1);
        assert_eq!(b, (524_288.0 / (1.0 - (-1.0f64).exp())) as i64);
        // Small objects: each sample stands for about rate / size objects.
        let (n, _) = scale_heap_sample(10, 10 * 64, 512 << 10);
        assert!((n - 81_920).abs() < 10, "{n}");
        assert_eq!(scale_heap_sample(3, 30, 1), (3, 30));
        assert_eq!(scale_heap_sample(0, 0, 512), (0, 0));
    }
}
