//! The benchmark data format parser reads gort's own harness output (the same reader that
//! reads Go's fixtures): lines produced by `gort::testing`, and a real `gort::testing` run.

use std::collections::BTreeMap;
use std::time::Duration;

use gort_cli::benchfmt;

#[test]
fn parses_lines_formatted_by_the_gort_harness() {
    let mut extra = BTreeMap::new();
    extra.insert("resident-B/goroutine".to_string(), 4216.0);
    let rows = [
        (
            "BenchmarkSpawn-2",
            6_202_742u64,
            1_167_000_000u64,
            72u64,
            1u64,
        ),
        ("BenchmarkYield-2", 36_638_683, 1_187_000_000, 0, 0),
        ("BenchmarkAlloc-2", 1000, 10_070, 64, 1),
    ];
    let mut text = String::from("goos: linux\ngoarch: amd64\npkg: gort\ncpu: test\n");
    for (name, n, ns, bytes, allocs) in rows {
        let r = gort::testing::BenchmarkResult {
            n,
            t: Duration::from_nanos(ns),
            bytes: 0,
            mem_allocs: allocs * n,
            mem_bytes: bytes * n,
            extra: if name.contains("Alloc") {
                extra.clone()
            } else {
                BTreeMap::new()
            },
        };
        text.push_str(&gort::testing::result_line(name, 26, &r, true));
        text.push('\n');
    }
    text.push_str("PASS\nok  \tgort\t2.3s\n");
    let parsed = benchfmt::parse(&text);
    assert_eq!(parsed.len(), 3, "{text}");
    for ((name, n, ns, bytes, allocs), p) in rows.iter().zip(&parsed) {
        assert_eq!(format!("Benchmark{}", p.name), *name);
        assert_eq!(p.iters, *n);
        let unit = |u: &str| p.values.iter().find(|(_, pu)| pu == u).map(|(v, _)| *v);
        let want_ns = *ns as f64 / *n as f64;
        let got_ns = unit("ns/op").unwrap();
        assert!(
            (got_ns - want_ns).abs() / want_ns < 0.01,
            "{got_ns} vs {want_ns}"
        );
        assert_eq!(unit("B/op"), Some(*bytes as f64));
        assert_eq!(unit("allocs/op"), Some(*allocs as f64));
    }
    assert_eq!(
        parsed[2]
            .values
            .iter()
            .find(|(_, u)| u == "resident-B/goroutine")
            .map(|(v, _)| *v),
        Some(4216.0)
    );
    assert!(parsed[0]
        .config
        .iter()
        .any(|(k, v)| k == "pkg" && v == "gort"));
}

#[test]
fn parses_a_real_harness_run() {
    // `gort::testing::benchmark` runs a function like Go's testing.Benchmark; format its
    // result exactly as the harness prints it and read it back.
    let r = gort::testing::benchmark(gort::testing::BenchTime::Count(200), |b| {
        for _ in b.iter() {
            std::hint::black_box(vec![0u8; 16]);
        }
    });
    let line = gort::testing::result_line("BenchmarkVec-2", 10, &r, true);
    let parsed = benchfmt::parse(&line);
    assert_eq!(parsed.len(), 1, "{line}");
    assert_eq!(parsed[0].iters, r.n);
    assert_eq!(parsed[0].name, "Vec-2");
}
