//! The cost of counting: the same allocation-heavy loops through the system allocator and
//! through `CountingAlloc` (heap sampling at Go's default rate), in one binary.
//!
//! `cargo bench -p gort --bench alloc_overhead`
//!
//! On a shared, noisy machine separately run benchmarks drift apart by more than the overhead,
//! so each `BenchmarkOverhead*` alternates short runs of both sides (order swapped every round)
//! and reports the median per-round time ratio minus 1 as `pct-overhead` (percent).
//!
//! * Ordinary Rust code, through the global allocator, which is switched between the two
//!   (both sides pay the switch, one predictable branch): `Strings` (1000 `format!`ed strings
//!   collected in a `Vec`), `BTree` (a `BTreeMap` of 1000 entries), `BoxTree` (Go's
//!   `AllocTree`: a binary tree of 2047 boxed nodes).
//! * Direct `GlobalAlloc` calls with nothing else to do, the worst case: `Tree` (2047 raw
//!   nodes), `Churn` (64 mixed-size objects kept live), `Pair` (malloc + free of 64 bytes).
//!
//! `System*` / `Counting*` are the `Tree` and `Pair` loops as plain benchmarks.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};

use gort::alloc::{set_mem_profile_rate, CountingAlloc, DEFAULT_MEM_PROFILE_RATE};
use gort::testing::B;

/// The global allocator: counting or not, switched at run time by `COUNT`.
struct Switch;

static COUNT: AtomicBool = AtomicBool::new(true);

/// The counting side; the direct-call loops use it too.
static COUNTING: CountingAlloc = CountingAlloc::system();

// SAFETY: both sides forward to `System` (one of them through `CountingAlloc`), so a block
// allocated on one side and freed on the other is still freed by the allocator that made it;
// only the counters can disagree, and this binary does not check them.
unsafe impl GlobalAlloc for Switch {
    #[inline]
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, forwarded.
        unsafe {
            if COUNT.load(Ordering::Relaxed) {
                COUNTING.alloc(l)
            } else {
                System.alloc(l)
            }
        }
    }
    #[inline]
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: the caller's contract, forwarded.
        unsafe {
            if COUNT.load(Ordering::Relaxed) {
                COUNTING.dealloc(p, l)
            } else {
                System.dealloc(p, l)
            }
        }
    }
    #[inline]
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        // SAFETY: the caller's contract, forwarded.
        unsafe {
            if COUNT.load(Ordering::Relaxed) {
                COUNTING.realloc(p, l, n)
            } else {
                System.realloc(p, l, n)
            }
        }
    }
}

#[global_allocator]
static A: Switch = Switch;

fn strings_n(n: u64) {
    for _ in 0..n {
        let v: Vec<String> = (0..1000u64)
            .map(|i| format!("item-{i}-{}", i * 31))
            .collect();
        black_box(&v);
    }
}

fn btree_n(n: u64) {
    for _ in 0..n {
        let mut m = std::collections::BTreeMap::new();
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for i in 0..1000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            m.insert(x, i);
        }
        black_box(&m);
    }
}

#[allow(dead_code)] // the fields are only allocated and dropped
struct BoxNode {
    left: Option<Box<BoxNode>>,
    right: Option<Box<BoxNode>>,
}

fn box_tree(depth: u32) -> Box<BoxNode> {
    if depth == 0 {
        Box::new(BoxNode {
            left: None,
            right: None,
        })
    } else {
        Box::new(BoxNode {
            left: Some(box_tree(depth - 1)),
            right: Some(box_tree(depth - 1)),
        })
    }
}

fn box_tree_n(n: u64) {
    for _ in 0..n {
        black_box(box_tree(10));
    }
}

/// `work` run with the global allocator counting (or not).
fn global(count: bool, work: fn(u64), n: u64) {
    COUNT.store(count, Ordering::Relaxed);
    work(n);
    COUNT.store(true, Ordering::Relaxed);
}

#[repr(C)]
struct Node {
    left: *mut Node,
    right: *mut Node,
}

fn build<A: GlobalAlloc>(a: &A, depth: u32) -> *mut Node {
    // SAFETY: `Node` is not zero-sized; the node is fully initialised before use.
    unsafe {
        let n = a.alloc(Layout::new::<Node>()) as *mut Node;
        assert!(!n.is_null());
        let (l, r) = if depth == 0 {
            (std::ptr::null_mut(), std::ptr::null_mut())
        } else {
            (build(a, depth - 1), build(a, depth - 1))
        };
        n.write(Node { left: l, right: r });
        n
    }
}

fn free_tree<A: GlobalAlloc>(a: &A, n: *mut Node) {
    if n.is_null() {
        return;
    }
    // SAFETY: `n` came from `build` with the same allocator and is freed exactly once.
    unsafe {
        free_tree(a, (*n).left);
        free_tree(a, (*n).right);
        a.dealloc(n as *mut u8, Layout::new::<Node>());
    }
}

/// Builds and frees a binary tree of depth 10 (2047 nodes), `n` times.
fn tree_n<A: GlobalAlloc>(n: u64, a: &A) {
    for _ in 0..n {
        let t = build(a, 10);
        black_box(t);
        free_tree(a, t);
    }
}

/// Keeps a window of 64 live objects of mixed sizes; one free and one allocation per op.
fn churn_n<A: GlobalAlloc>(n: u64, a: &A) {
    const WINDOW: usize = 64;
    let layouts: [Layout; 4] = [
        Layout::from_size_align(16, 8).unwrap(),
        Layout::from_size_align(64, 8).unwrap(),
        Layout::from_size_align(200, 8).unwrap(),
        Layout::from_size_align(1024, 8).unwrap(),
    ];
    let mut live: [(*mut u8, Layout); WINDOW] = [(std::ptr::null_mut(), layouts[0]); WINDOW];
    for i in 0..n {
        let slot = (i as usize * 7) % WINDOW;
        let (p, l) = live[slot];
        if !p.is_null() {
            // SAFETY: `p` was allocated by `a` with layout `l` and is freed once.
            unsafe { a.dealloc(p, l) };
        }
        let l = layouts[i as usize % 4];
        // SAFETY: the layouts are non-zero-sized.
        let p = unsafe { a.alloc(l) };
        black_box(p);
        live[slot] = (p, l);
    }
    for (p, l) in live {
        if !p.is_null() {
            // SAFETY: as above.
            unsafe { a.dealloc(p, l) };
        }
    }
}

/// Allocates 64 bytes and frees them at once, `n` times.
fn pair_n<A: GlobalAlloc>(n: u64, a: &A) {
    let l = Layout::from_size_align(64, 8).unwrap();
    for _ in 0..n {
        // SAFETY: non-zero size; the pointer is freed once with the same layout.
        unsafe {
            let p = a.alloc(l);
            black_box(p);
            a.dealloc(p, l);
        }
    }
}

/// Median over `rounds` of `time(counting) / time(system) - 1`, in percent; each side runs
/// `ops` operations per round, and the order alternates.
fn interleaved(rounds: u64, ops: u64, sys: fn(u64), cnt: fn(u64)) -> f64 {
    let time = |f: fn(u64)| {
        let t = std::time::Instant::now();
        f(ops);
        t.elapsed().as_nanos() as f64
    };
    let mut ratios: Vec<f64> = (0..rounds.max(1))
        .map(|r| {
            if r % 2 == 0 {
                let s = time(sys);
                time(cnt) / s
            } else {
                let c = time(cnt);
                c / time(sys)
            }
        })
        .collect();
    ratios.sort_by(|a, b| a.total_cmp(b));
    (ratios[ratios.len() / 2] - 1.0) * 100.0
}

fn bench_overhead_strings(b: &mut B) {
    set_mem_profile_rate(DEFAULT_MEM_PROFILE_RATE);
    let pct = interleaved(
        b.n(),
        5,
        |n| global(false, strings_n, n),
        |n| global(true, strings_n, n),
    );
    b.report_metric(pct, "pct-overhead");
}

fn bench_overhead_b_tree(b: &mut B) {
    set_mem_profile_rate(DEFAULT_MEM_PROFILE_RATE);
    let pct = interleaved(
        b.n(),
        10,
        |n| global(false, btree_n, n),
        |n| global(true, btree_n, n),
    );
    b.report_metric(pct, "pct-overhead");
}

fn bench_overhead_box_tree(b: &mut B) {
    set_mem_profile_rate(DEFAULT_MEM_PROFILE_RATE);
    let pct = interleaved(
        b.n(),
        10,
        |n| global(false, box_tree_n, n),
        |n| global(true, box_tree_n, n),
    );
    b.report_metric(pct, "pct-overhead");
}

fn bench_overhead_tree(b: &mut B) {
    set_mem_profile_rate(DEFAULT_MEM_PROFILE_RATE);
    let pct = interleaved(b.n(), 20, |n| tree_n(n, &System), |n| tree_n(n, &COUNTING));
    b.report_metric(pct, "pct-overhead");
}

fn bench_overhead_churn(b: &mut B) {
    set_mem_profile_rate(DEFAULT_MEM_PROFILE_RATE);
    let pct = interleaved(
        b.n(),
        20_000,
        |n| churn_n(n, &System),
        |n| churn_n(n, &COUNTING),
    );
    b.report_metric(pct, "pct-overhead");
}

fn bench_overhead_pair(b: &mut B) {
    set_mem_profile_rate(DEFAULT_MEM_PROFILE_RATE);
    let pct = interleaved(
        b.n(),
        20_000,
        |n| pair_n(n, &System),
        |n| pair_n(n, &COUNTING),
    );
    b.report_metric(pct, "pct-overhead");
}

fn bench_system_tree(b: &mut B) {
    tree_n(b.n(), &System);
}

fn bench_counting_tree(b: &mut B) {
    tree_n(b.n(), &COUNTING);
}

fn bench_system_pair(b: &mut B) {
    pair_n(b.n(), &System);
}

fn bench_counting_pair(b: &mut B) {
    pair_n(b.n(), &COUNTING);
}

gort::benchmarks!(
    bench_overhead_strings,
    bench_overhead_b_tree,
    bench_overhead_box_tree,
    bench_overhead_tree,
    bench_overhead_churn,
    bench_overhead_pair,
    bench_system_tree,
    bench_counting_tree,
    bench_system_pair,
    bench_counting_pair,
);
