//! Lesson 1, the measurement playbook: `docs/guide/01-playbook.md`.

use crate::measure::{ns_per_call, speedup};
use crate::{Outcome, Problem, Which};
use gort::testing::{benchmark, BenchTime};
use std::hint::black_box;
use std::time::Duration;

#[path = "../../../../docs/guide/problems/01-playbook/setup-in-loop/solution.rs"]
mod setup_solution;
#[path = "../../../../docs/guide/problems/01-playbook/setup-in-loop/start.rs"]
mod setup_start;

#[path = "../../../../docs/guide/problems/01-playbook/hotspot/solution.rs"]
mod hotspot_solution;
#[path = "../../../../docs/guide/problems/01-playbook/hotspot/start.rs"]
mod hotspot_start;

pub static PROBLEMS: &[&Problem] = &[&SETUP_IN_LOOP, &HOTSPOT];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

static SETUP_IN_LOOP: Problem = Problem {
    id: "01-playbook/setup-in-loop",
    title: "Measure the operation, not its setup",
    target: "the benchmark's ns/op within 0.3x-3x of what one map lookup costs",
    hint: "Reproduce (playbook step 1): a benchmark must time only the operation; build the \
           map before the loop and call b.reset_timer() (Go: b.ResetTimer(), or b.Loop()), \
           then compare its ns/op with -benchmem and -count 5 under gort benchstat",
    check: |w| {
        let bench = match w {
            Which::Start => setup_start::bench_lookup,
            Which::Solution => setup_solution::bench_lookup,
        };
        // The truth: one lookup in a map built once (the check's own measurement).
        let map = setup_solution::build_map();
        let mut i = 0u64;
        let ratios: Vec<f64> = (0..3)
            .map(|_| {
                let truth = ns_per_call(Duration::from_millis(20), || {
                    i += 1;
                    black_box(map.get(&black_box(i % 10_000 * 7)));
                });
                let r = benchmark(BenchTime::Duration(Duration::from_millis(20)), bench);
                let reported = r.t.as_nanos() as f64 / r.n.max(1) as f64;
                reported / truth
            })
            .collect();
        let ratio = median(ratios);
        Outcome::new(
            (0.3..=3.0).contains(&ratio),
            format!(
                "the benchmark reports {ratio:.1}x the cost of one lookup (target: 0.3x to 3x)"
            ),
        )
    },
    run: |w, time| {
        let bench = match w {
            Which::Start => setup_start::bench_lookup,
            Which::Solution => setup_solution::bench_lookup,
        };
        crate::repeat_for(time, || {
            benchmark(BenchTime::Duration(Duration::from_millis(50)), bench);
        })
    },
};

/// The hotspot's input: 3,000 words drawn from 2,000 distinct ones.
fn hotspot_text() -> String {
    let mut s = String::new();
    let mut x = 12345u32;
    for _ in 0..3000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        s.push_str(&format!("w{} ", (x >> 8) % 2000));
    }
    s
}

/// The unedited start's code: the baseline the speed-up is measured against.
fn hotspot_baseline(text: &str) -> (usize, Vec<&str>) {
    let mut words = 0;
    let mut distinct: Vec<&str> = Vec::new();
    for w in text.split_whitespace() {
        words += 1;
        if !distinct.contains(&w) {
            distinct.push(w);
        }
    }
    (words, distinct)
}

static HOTSPOT: Problem = Problem {
    id: "01-playbook/hotspot",
    title: "Profile first: the bottleneck gort doctor names",
    target: "same result, at least 3x faster than the start",
    hint: "Profile (playbook step 2): gort doctor -- target/release/gort-guide bench hotspot \
           names the hot function (a linear <[&str]>::contains per word); classify it as \
           CPU-bound, then replace the scan with a set",
    check: |w| {
        let f = match w {
            Which::Start => hotspot_start::vocabulary,
            Which::Solution => hotspot_solution::vocabulary,
        };
        let text = hotspot_text();
        if f(&text) != hotspot_baseline(&text) {
            return Outcome::new(
                false,
                "wrong result: the word count and the distinct words in first-seen order",
            );
        }
        let s = speedup(
            3,
            Duration::from_millis(30),
            || {
                black_box(hotspot_baseline(black_box(&text)));
            },
            || {
                black_box(f(black_box(&text)));
            },
        );
        Outcome::new(
            s >= 3.0,
            format!("{s:.1}x faster than the start (target: at least 3x)"),
        )
    },
    run: |w, time| {
        let f = match w {
            Which::Start => hotspot_start::vocabulary,
            Which::Solution => hotspot_solution::vocabulary,
        };
        let text = hotspot_text();
        crate::repeat_for(time, || {
            black_box(f(black_box(&text)));
        })
    },
};
