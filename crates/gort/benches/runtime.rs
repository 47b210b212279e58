//! gort's runtime benchmarks, printed in Go's format; `bench/go/runtime_test.go` holds the Go
//! equivalents under the same names, for side-by-side comparison with benchstat.
//!
//! `cargo bench -p gort --bench runtime -- -benchtime 1000x -benchmem`

use std::hint::black_box;

use gort::testing::B;

#[global_allocator]
static A: gort::alloc::CountingAlloc = gort::alloc::CountingAlloc::system();

/// One 64-byte heap object per op (Go: `new([64]byte)` escaping to the heap).
fn bench_alloc(b: &mut B) {
    for _ in b.iter() {
        black_box(Box::new([0u8; 64]));
    }
}

/// A growing slice of 16 ints per op (Go: `append` without a capacity hint).
fn bench_alloc_vec(b: &mut B) {
    for _ in b.iter() {
        let mut v: Vec<i64> = Vec::new();
        for i in 0..16 {
            v.push(black_box(i));
        }
        black_box(v);
    }
}

/// The same 64-byte allocation from every P in parallel.
fn bench_alloc_parallel(b: &mut B) {
    b.run_parallel(|pb| {
        while pb.next() {
            black_box(Box::new([0u8; 64]));
        }
    });
}

gort::benchmarks!(bench_alloc, bench_alloc_vec, bench_alloc_parallel);
