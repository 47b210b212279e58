//! The counting allocator installed as the global allocator: exact counts across threads,
//! thread teardown, `MemStats`, heap-profile sampling, and `allocs/op` in the harness.
//!
//! Everything runs in one `#[test]`, in sequence: the counters are process-wide, so a second
//! test running at the same time would add its allocations to the measured regions.

use std::hint::black_box;
use std::sync::{Arc, Barrier};

use gort::alloc::{
    heap_profile_records, read_alloc_counters, set_mem_profile_rate, CountingAlloc,
    DEFAULT_MEM_PROFILE_RATE,
};
use gort::testing::{benchmark, BenchTime, B};

#[global_allocator]
static A: CountingAlloc = CountingAlloc::system();

#[test]
fn counting_allocator() {
    set_mem_profile_rate(0);
    counts_are_exact_on_one_thread();
    threads_that_exit_keep_their_counts();
    mem_stats_track_live_objects();
    allocs_per_op_is_exact_across_threads();
    run_parallel_counts_worker_allocations();
    heap_profile_matches_frees();
    sampling_rate_is_respected();
    set_mem_profile_rate(DEFAULT_MEM_PROFILE_RATE);
}

fn counts_are_exact_on_one_thread() {
    assert!(gort::alloc::is_counting());
    assert!(gort::alloc::thread_has_own_block());
    // The counters are process-wide: another thread (a runtime's sysmon, the test harness)
    // allocating inside the window adds to them. Exact in at least one of three windows.
    let mut got = (0, 0, 0, 0);
    for _ in 0..3 {
        let before = read_alloc_counters();
        for _ in 0..100 {
            black_box(Box::new([0u8; 48]));
        }
        let after = read_alloc_counters();
        got = (
            after.mallocs - before.mallocs,
            after.frees - before.frees,
            after.alloc_bytes - before.alloc_bytes,
            after.free_bytes - before.free_bytes,
        );
        if got == (100, 100, 4800, 4800) {
            break;
        }
    }
    assert_eq!(
        got,
        (100, 100, 4800, 4800),
        "(mallocs, frees, bytes in, bytes out)"
    );
}

fn threads_that_exit_keep_their_counts() {
    // More threads than per-thread blocks (512), one after another: blocks are reused, and
    // totals never go backwards.
    let mut last = read_alloc_counters();
    for _ in 0..3 {
        let before = read_alloc_counters();
        let handles: Vec<_> = (0..300)
            .map(|_| {
                std::thread::spawn(|| {
                    for _ in 0..10 {
                        black_box(Box::new([1u8; 100]));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let after = read_alloc_counters();
        assert!(after.mallocs - before.mallocs >= 3000);
        assert!(after.alloc_bytes - before.alloc_bytes >= 300_000);
        assert!(after.mallocs >= last.mallocs && after.frees >= last.frees);
        last = after;
    }
}

fn mem_stats_track_live_objects() {
    let before = gort::read_mem_stats();
    let kept: Vec<Box<[u8; 256]>> = (0..10).map(|_| Box::new([0u8; 256])).collect();
    let during = gort::read_mem_stats();
    // 10 boxes and the Vec's buffer (10 pointers); reading /proc allocates and frees.
    assert!(during.heap_objects >= before.heap_objects + 11);
    assert!(during.heap_alloc >= before.heap_alloc + 2560 + 80);
    assert_eq!(during.alloc, during.heap_alloc);
    assert_eq!(during.heap_objects, during.mallocs - during.frees);
    assert!(during.total_alloc >= during.alloc);
    assert!(during.sys > 0);
    drop(kept);
    let after = gort::read_mem_stats();
    assert!(after.heap_alloc + 2560 <= during.heap_alloc);
}

fn allocs_per_op_is_exact_across_threads() {
    // Per op: one 64-byte box on the benchmark's thread, two 32-byte boxes on each of three
    // other threads. Thread start and exit happen with the timer stopped.
    let r = benchmark(BenchTime::Count(1000), |b: &mut B| {
        b.stop_timer();
        let n = b.n();
        let (start, end, exit) = (
            Arc::new(Barrier::new(4)),
            Arc::new(Barrier::new(4)),
            Arc::new(Barrier::new(4)),
        );
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let (start, end, exit) = (start.clone(), end.clone(), exit.clone());
                std::thread::spawn(move || {
                    start.wait();
                    for _ in 0..n {
                        black_box(Box::new([2u8; 32]));
                        black_box(Box::new([3u8; 32]));
                    }
                    end.wait();
                    exit.wait();
                })
            })
            .collect();
        b.start_timer();
        start.wait();
        for _ in b.iter() {
            black_box(Box::new([0u8; 64]));
        }
        end.wait();
        b.stop_timer();
        exit.wait();
        for w in workers {
            w.join().unwrap();
        }
    });
    assert_eq!(r.n, 1000);
    assert_eq!(r.allocs_per_op(), 7);
    assert_eq!(r.alloced_bytes_per_op(), 64 + 3 * 2 * 32);
    assert_eq!(r.mem_allocs, 7000);
}

fn run_parallel_counts_worker_allocations() {
    let r = benchmark(BenchTime::Count(200_000), |b: &mut B| {
        b.run_parallel(|pb| {
            while pb.next() {
                black_box(Box::new([0u8; 64]));
            }
        })
    });
    assert_eq!(r.n, 200_000);
    // Starting the workers allocates a little; divided by N it vanishes, as in Go.
    assert_eq!(r.allocs_per_op(), 1);
    assert_eq!(r.alloced_bytes_per_op(), 64);
}

#[inline(never)]
#[allow(clippy::vec_box)] // one heap object per element is the point
fn allocate_sampled(n: usize) -> Vec<Box<[u8; 1000]>> {
    (0..n).map(|_| Box::new([7u8; 1000])).collect()
}

fn totals() -> (u64, u64, u64, u64) {
    heap_profile_records().iter().fold((0, 0, 0, 0), |t, r| {
        (
            t.0 + r.alloc_objects,
            t.1 + r.alloc_bytes,
            t.2 + r.free_objects,
            t.3 + r.free_bytes,
        )
    })
}

fn heap_profile_matches_frees() {
    let before = totals();
    set_mem_profile_rate(1);
    let kept = allocate_sampled(100);
    set_mem_profile_rate(0);
    let during = totals();
    assert!(during.0 - before.0 >= 101, "{before:?} {during:?}"); // boxes + the Vec
    assert!(during.1 - before.1 >= 100_000);
    drop(kept);
    let after = totals();
    assert!(after.2 - during.2 >= 101, "{during:?} {after:?}");
    assert!(after.3 - during.3 >= 100_000);
    let deepest = heap_profile_records()
        .iter()
        .map(|r| r.stack.len())
        .max()
        .unwrap_or(0);
    // Frame pointers give full stacks; without them the walk stops early but never faults.
    eprintln!("deepest sampled stack: {deepest} frames");
    assert!(deepest <= 32);
}

fn sampling_rate_is_respected() {
    let before = totals().0;
    set_mem_profile_rate(4096);
    for _ in 0..10_000 {
        black_box(Box::new([0u8; 1024]));
    }
    set_mem_profile_rate(0);
    // 10 MB at one sample per 4 KiB on average: about 2500 samples (Poisson, sd 50).
    let samples = totals().0 - before;
    assert!((2000..=3000).contains(&samples), "{samples} samples");
}
