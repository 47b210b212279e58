//! Stack pools seen from outside: reuse and `gort::debug::free_os_memory` (its own test
//! binary, so that no other test maps or unmaps stacks meanwhile: the counters are
//! process-wide).

/// Exited goroutines' stacks stay cached for reuse (no mmap per spawn in steady state) until
/// `free_os_memory` or the scavenger gives them back.
#[test]
fn free_os_memory_unmaps_cached_stacks() {
    let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
    rt.block_on(|| {
        let wg = std::sync::Arc::new(gort::sync::WaitGroup::new());
        let hs: Vec<_> = (0..3000)
            .map(|_| {
                let wg = wg.clone();
                wg.add(1);
                gort::go(move || {
                    wg.done();
                    wg.wait(); // all 3000 alive at once: 3000 stacks
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let cached = gort::debug::stack_stats().stacks_mapped;
        assert!(cached >= 2000, "stacks are kept for reuse: {cached}");
        gort::debug::free_os_memory();
        let after = gort::debug::stack_stats().stacks_mapped;
        assert!(
            after + 2000 <= cached,
            "free_os_memory unmapped the pool: {cached} -> {after}"
        );
    });
}
