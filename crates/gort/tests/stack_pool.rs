//! Stack pools seen from outside: reuse and `gort::debug::free_os_memory` (its own test
//! binary, so that no other test maps or unmaps stacks meanwhile: the counters are
//! process-wide).

/// Exited goroutines' stacks stay cached for reuse (no mmap per spawn in steady state) until
/// `free_os_memory` or the scavenger gives them back.
/// The tests here read the process-wide counters: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn free_os_memory_unmaps_cached_stacks() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
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

/// Dropping a runtime unmaps the stacks its pools cached. (The P-local free lists of G records
/// kept the runtime alive through `G::shared`, and with it every stack it had mapped: three
/// runtimes of 3,000 goroutines in a row left 9,000 stacks mapped.)
#[test]
fn dropping_a_runtime_unmaps_its_stacks() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let before = gort::debug::stack_stats().stacks_mapped;
    for _ in 0..3 {
        let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
        rt.block_on(|| {
            let wg = std::sync::Arc::new(gort::sync::WaitGroup::new());
            let hs: Vec<_> = (0..3000)
                .map(|_| {
                    let wg = wg.clone();
                    wg.add(1);
                    gort::go(move || {
                        wg.done();
                        wg.wait();
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        });
        drop(rt);
        let after = gort::debug::stack_stats().stacks_mapped;
        assert!(
            after <= before + 64,
            "{} stacks still mapped after the runtime was dropped",
            after - before
        );
    }
}
