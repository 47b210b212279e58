//! Golden test: result lines rebuilt from their numbers match Go 1.19's output byte for byte.
//!
//! The fixture is `fixtures/go1.19/bench-base.txt` of the project's shared reference (real
//! `go test -bench . -benchmem -count 5` output, GOMAXPROCS=2), embedded so that the test runs
//! on a clean clone.

use std::time::Duration;

use super::output::Output;
use super::result::{benchmark_name, result_line, BenchmarkResult};

const BENCH_BASE: &str = "\
goos: linux\n\
goarch: amd64\n\
pkg: fix\n\
cpu: Intel(R) Xeon(R) Processor\n\
BenchmarkSprintf-2             \t 8505230\t       160.1 ns/op\t      23 B/op\t       1 allocs/op\n\
BenchmarkSprintf-2             \t 8306272\t       152.6 ns/op\t      23 B/op\t       1 allocs/op\n\
BenchmarkSprintf-2             \t 7172370\t       156.0 ns/op\t      23 B/op\t       1 allocs/op\n\
BenchmarkSprintf-2             \t 6855728\t       150.6 ns/op\t      23 B/op\t       1 allocs/op\n\
BenchmarkSprintf-2             \t 9114988\t       172.1 ns/op\t      23 B/op\t       1 allocs/op\n\
BenchmarkAppendInt-2           \t83597116\t        17.48 ns/op\t       0 B/op\t       0 allocs/op\n\
BenchmarkAppendInt-2           \t52767435\t        22.68 ns/op\t       0 B/op\t       0 allocs/op\n\
BenchmarkAppendInt-2           \t56282331\t        27.15 ns/op\t       0 B/op\t       0 allocs/op\n\
BenchmarkAppendInt-2           \t50560402\t        26.03 ns/op\t       0 B/op\t       0 allocs/op\n\
BenchmarkAppendInt-2           \t54064009\t        21.92 ns/op\t       0 B/op\t       0 allocs/op\n\
BenchmarkBuilderNoPrealloc-2   \t 2869730\t       378.8 ns/op\t     120 B/op\t       4 allocs/op\n\
BenchmarkBuilderNoPrealloc-2   \t 3329814\t       375.1 ns/op\t     120 B/op\t       4 allocs/op\n\
BenchmarkBuilderNoPrealloc-2   \t 3291074\t       344.3 ns/op\t     120 B/op\t       4 allocs/op\n\
BenchmarkBuilderNoPrealloc-2   \t 3286860\t       363.4 ns/op\t     120 B/op\t       4 allocs/op\n\
BenchmarkBuilderNoPrealloc-2   \t 3161098\t       390.7 ns/op\t     120 B/op\t       4 allocs/op\n\
BenchmarkMutexContended-2      \t37448098\t        34.96 ns/op\t       0 B/op\t       0 allocs/op\n\
BenchmarkMutexContended-2      \t42809205\t        31.70 ns/op\t       0 B/op\t       0 allocs/op\n\
BenchmarkMutexContended-2      \t32520616\t        32.47 ns/op\t       0 B/op\t       0 allocs/op\n\
BenchmarkMutexContended-2      \t32856536\t        31.21 ns/op\t       0 B/op\t       0 allocs/op\n\
BenchmarkMutexContended-2      \t33888390\t        36.25 ns/op\t       0 B/op\t       0 allocs/op\n\
BenchmarkChanPingPong-2        \t 1962049\t       585.0 ns/op\t       0 B/op\t       0 allocs/op\n\
BenchmarkChanPingPong-2        \t 2266302\t       603.8 ns/op\t       0 B/op\t       0 allocs/op\n\
BenchmarkChanPingPong-2        \t 2053978\t       603.3 ns/op\t       0 B/op\t       0 allocs/op\n\
BenchmarkChanPingPong-2        \t 2167700\t       538.8 ns/op\t       0 B/op\t       0 allocs/op\n\
BenchmarkChanPingPong-2        \t 2151554\t       570.4 ns/op\t       0 B/op\t       0 allocs/op\n\
BenchmarkAllocTree-2           \t   12981\t     85694 ns/op\t   32752 B/op\t    2047 allocs/op\n\
BenchmarkAllocTree-2           \t   14318\t     93379 ns/op\t   32752 B/op\t    2047 allocs/op\n\
BenchmarkAllocTree-2           \t   14970\t     78832 ns/op\t   32752 B/op\t    2047 allocs/op\n\
BenchmarkAllocTree-2           \t   17624\t     89782 ns/op\t   32752 B/op\t    2047 allocs/op\n\
BenchmarkAllocTree-2           \t   13490\t     95356 ns/op\t   32752 B/op\t    2047 allocs/op\n\
PASS\n\
ok  \tfix\t47.643s\n\
";

#[test]
fn result_lines_match_go_byte_for_byte() {
    let results: Vec<&str> = BENCH_BASE
        .lines()
        .filter(|l| l.starts_with("Benchmark"))
        .collect();
    assert_eq!(results.len(), 30);
    // Go's width: the longest `name-P` plus len("-P") plus 1.
    let names: Vec<&str> = results
        .iter()
        .map(|l| l.split('-').next().unwrap())
        .collect();
    let ext_len = benchmark_name("", 2).len();
    let width = names
        .iter()
        .map(|n| benchmark_name(n, 2).len() + ext_len + 1)
        .max()
        .unwrap();
    for (line, name) in results.iter().zip(&names) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let n: u64 = f[1].parse().unwrap();
        let ns: f64 = f[2].parse().unwrap();
        let bytes: u64 = f[4].parse().unwrap();
        let allocs: u64 = f[6].parse().unwrap();
        let r = BenchmarkResult {
            n,
            t: Duration::from_nanos((ns * n as f64).round() as u64),
            mem_allocs: allocs * n,
            mem_bytes: bytes * n,
            ..Default::default()
        };
        assert_eq!(
            result_line(&benchmark_name(name, 2), width, &r, true),
            *line
        );
    }
}

#[test]
fn header_and_trailer_match_go() {
    let mut out = Output::capturing(false, "fix");
    out.write("goos: linux\ngoarch: amd64\npkg: fix\ncpu: Intel(R) Xeon(R) Processor\n");
    out.finish(true, 47.643);
    let text = out.captured();
    let expected: Vec<&str> = BENCH_BASE
        .lines()
        .filter(|l| !l.starts_with("Benchmark"))
        .collect();
    assert_eq!(text.lines().collect::<Vec<_>>(), expected);
}
