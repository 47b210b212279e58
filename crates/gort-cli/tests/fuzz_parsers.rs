//! Fuzz-style property tests: random bytes and random lines into every
//! parser and renderer must never panic.

mod common;

use gort_cli::{benchfmt, benchstat, doctor, gctrace, pprof, trace};
use proptest::prelude::*;

fn bench_line() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("BenchmarkA-2".to_string()),
        Just("BenchmarkB".to_string()),
        "Benchmark[A-Za-z0-9/_-]{0,8}",
    ];
    let val = prop_oneof![
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("1e308".to_string()),
        Just("NaN".to_string()),
        (0u32..1000).prop_map(|v| v.to_string()),
        (0.0f64..1e6).prop_map(|v| format!("{v}")),
    ];
    let unit = prop_oneof![
        Just("ns/op"),
        Just("B/op"),
        Just("allocs/op"),
        Just("MB/s"),
        Just("ns/iter*MB"),
        Just("x"),
    ];
    (
        name,
        0u64..1_000_000,
        prop::collection::vec((val, unit), 0..4),
    )
        .prop_map(|(n, it, vs)| {
            let mut s = format!("{n}\t{it}");
            for (v, u) in vs {
                s.push_str(&format!("\t{v} {u}"));
            }
            s
        })
}

fn any_line() -> impl Strategy<Value = String> {
    prop_oneof![
        bench_line(),
        Just("goos: linux".to_string()),
        "[a-z]{1,5}: [a-z0-9 ]{0,6}",
        "\\PC{0,40}",
    ]
}

fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(common::fixture(name)).expect("fixture")
}

fn exercise_profile(p: &pprof::proto::Profile) {
    for choice in [None, Some("0"), Some("1"), Some("cpu"), Some("alloc_space")] {
        let _ = pprof::top::render(p, choice, None);
        let _ = pprof::top::render(p, choice, Some(3));
        let _ = pprof::flame::folded(p, choice);
        let _ = pprof::diff::render(p, p, choice, 5);
    }
    let _ = doctor::analyze(&doctor::Evidence {
        cpu: Some(p.clone()),
        mem: Some(p.clone()),
        bench: Some("BenchmarkX 1 2 ns/op 3 B/op 4 allocs/op".into()),
        gctrace: None,
        build_notes: Vec::new(),
        // The escape join runs over whatever the decoded profile holds.
        escapes: Some(Ok(doctor::escape::parse("./x.go:1:1: moved to heap: x\n"))),
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, .. ProptestConfig::default() })]

    #[test]
    fn benchfmt_and_benchstat_never_panic(
        a in prop::collection::vec(any_line(), 0..40),
        b in prop::collection::vec(any_line(), 0..40),
    ) {
        let inputs: Vec<benchstat::Input> = [a, b]
            .iter()
            .enumerate()
            .map(|(i, lines)| benchstat::Input {
                label: format!("f{i}"),
                results: benchfmt::parse(&lines.join("\n")),
            })
            .collect();
        let report = benchstat::analyze(&inputs);
        let _ = benchstat::table::to_text(&report);
        let _ = benchstat::table::to_csv(&report);
    }

    #[test]
    fn stats_never_panic(
        x in prop::collection::vec(prop_oneof![Just(0.0), Just(1.0), -1e300f64..1e300], 0..60),
        y in prop::collection::vec(prop_oneof![Just(0.0), Just(1.0), -1e300f64..1e300], 0..60),
    ) {
        let s = benchstat::stats::summarize(&x);
        let _ = s.pct_range();
        let c = benchstat::stats::mann_whitney(&x, &y);
        prop_assert!(c.p >= 0.0 && c.p <= 1.0, "p = {}", c.p);
    }

    #[test]
    fn pprof_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(p) = pprof::proto::decode(&bytes) {
            exercise_profile(&p);
        }
        let mut gz = vec![0x1f, 0x8b];
        gz.extend_from_slice(&bytes);
        let _ = pprof::proto::decode(&gz);
    }

    #[test]
    fn pprof_mutated_fixture(
        which in 0usize..2,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        // Mutate the decompressed protobuf so the mutations reach prost.
        let gz = fixture_bytes(if which == 0 { "cpu.pprof" } else { "mem.pprof" });
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut raw)
            .expect("gunzip");
        for (i, b) in flips {
            let at = i.index(raw.len());
            raw[at] = b;
        }
        if let Ok(p) = pprof::proto::decode(&raw) {
            exercise_profile(&p);
        }
    }

    #[test]
    fn gctrace_random_lines(lines in prop::collection::vec(prop_oneof![
        "\\PC{0,80}",
        "gc [0-9]{1,3} @[0-9.]{1,6}s [0-9]{1,3}%: [0-9.+]{1,12} ms clock, [0-9.+/]{1,20} ms cpu, [0-9>-]{1,10} MB, [0-9]{1,3} MB goal, [0-9]{1,2} P( \\(forced\\))?",
    ], 0..30), setting in "[A-Z]{0,10}=[0-9a-zA-Z]{0,6}(,GOMEMLIMIT=[0-9]{1,4}[KMG]iB)?") {
        let t = gctrace::parse::parse(&lines.join("\n"));
        let _ = gctrace::report::render(&t);
        let _ = gctrace::svg::render(&t);
        if let Ok(s) = gctrace::whatif::Setting::parse(&setting) {
            let _ = gctrace::whatif::render(&t, &s);
        }
    }

    #[test]
    fn gctrace_mutated_fixture(cut in 0usize..10_000, junk in "\\PC{0,10}") {
        let text = String::from_utf8_lossy(&fixture_bytes("gctrace-binarytrees.txt")).into_owned();
        let mut at = cut.min(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let mutated = format!("{}{}{}", &text[..at], junk, &text[at..]);
        let t = gctrace::parse::parse(&mutated);
        let _ = gctrace::report::render(&t);
        let _ = gctrace::svg::render(&t);
        let _ = gctrace::whatif::render(&t, &gctrace::whatif::Setting::parse("GOGC=off").expect("ok"));
    }

    #[test]
    fn trace_random_input(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(t) = trace::model::parse(&text) {
            let _ = trace::report::render(&trace::report::summarize(&t), 5);
        }
    }

    #[test]
    fn trace_truncated_or_mutated(cut in 0usize..4000, junk in "\\PC{0,8}", keep_tail in any::<bool>()) {
        let text = trace::model::SAMPLE;
        let mut at = cut.min(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let mutated = if keep_tail {
            format!("{}{}{}", &text[..at], junk, &text[at..])
        } else {
            text[..at].to_string()
        };
        match trace::model::parse(&mutated) {
            Ok(t) => {
                let s = trace::report::summarize(&t);
                let _ = trace::report::render(&s, 3);
            }
            Err(e) => prop_assert!(!e.contains('\n'), "multi-line error: {e}"),
        }
    }

    #[test]
    fn trace_random_events(evs in prop::collection::vec((
        0u8..3, 0u64..5, -10.0f64..1e4, -1.0f64..1e3,
        prop_oneof![Just("running"), Just("runnable"), Just("blocked"), Just("GC"), Just("G1"), Just("STW (x)")],
    ), 0..40)) {
        let mut text = String::from("{\"traceEvents\":[");
        for (i, (pid, tid, ts, dur, name)) in evs.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(&format!(
                "{{\"ph\":\"X\",\"pid\":{},\"tid\":{tid},\"ts\":{ts},\"dur\":{dur},\"name\":\"{name}\"}}",
                pid + 1
            ));
        }
        text.push_str("]}");
        if let Ok(t) = trace::model::parse(&text) {
            let _ = trace::report::render(&trace::report::summarize(&t), 2);
        }
    }
}
