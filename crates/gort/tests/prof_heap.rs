//! The heap profile: two allocation sites allocating bytes in a 3:1 ratio show up in that
//! ratio (within 20%), scaled like Go, and frees move bytes out of `inuse_space`.
//!
//! One `#[test]`: the sampler is process-wide.

use std::hint::black_box;

use gort::alloc::{set_mem_profile_rate, CountingAlloc, DEFAULT_MEM_PROFILE_RATE};

#[global_allocator]
static A: CountingAlloc = CountingAlloc::system();

#[inline(never)]
fn heap_site_three(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|_| black_box(vec![1u8; 1000])).collect()
}

#[inline(never)]
fn heap_site_one(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|_| black_box(vec![2u8; 1000])).collect()
}

#[test]
fn heap_profile_attributes_sites_in_proportion() {
    // 8 KiB average between samples: ~3,700 samples over 30 MB.
    set_mem_profile_rate(8 << 10);
    let three = heap_site_three(22_500);
    let one = heap_site_one(7_500);
    let p = gort::prof::lookup("heap").unwrap().build();
    assert_eq!(p.default_sample_type, "inuse_space");
    assert_eq!(p.period, 8 << 10);
    assert_eq!(
        p.sample_types
            .iter()
            .map(|t| t.0.as_str())
            .collect::<Vec<_>>(),
        [
            "alloc_objects",
            "alloc_space",
            "inuse_objects",
            "inuse_space"
        ]
    );
    let a = p.total_with("alloc_space", "heap_site_three") as f64;
    let b = p.total_with("alloc_space", "heap_site_one") as f64;
    let share = a / (a + b);
    println!(
        "heap: site_three {a:.0} B, site_one {b:.0} B (true 22.5 MB / 7.5 MB), \
         share {share:.3} (true 0.750, error {:.1}%)",
        (share - 0.75).abs() / 0.75 * 100.0
    );
    assert!((share - 0.75).abs() < 0.15, "share of the 3x site: {share}");
    // Scaled totals estimate the true bytes (30 MB) within 20%.
    assert!((a + b - 30e6).abs() < 6e6, "estimated bytes {}", a + b);
    // The allocator's own frames are trimmed: the leaf is not in gort::alloc.
    for s in p.samples.iter().filter(|s| s.has_function("heap_site_")) {
        assert!(!s.stack[0].mentions("gort::alloc::"), "{:?}", s.stack[0]);
    }

    drop(black_box(one));
    let p = gort::prof::lookup("heap").unwrap().build();
    let live_one = p.total_with("inuse_space", "heap_site_one");
    let live_three = p.total_with("inuse_space", "heap_site_three") as f64;
    assert_eq!(live_one, 0, "freed site still in use");
    assert!((live_three - a).abs() < 1.0, "{live_three} vs {a}");
    drop(black_box(three));

    // The gzipped protobuf starts with the gzip magic and is not empty.
    let mut out = Vec::new();
    gort::prof::write_heap_profile(&mut out).unwrap();
    assert_eq!(&out[..2], &[0x1f, 0x8b]);
    set_mem_profile_rate(DEFAULT_MEM_PROFILE_RATE);
}
