//! The CPU profiler: a workload dominated by one function puts most samples in it, samples
//! carry goroutine ids and user labels, and threads that register during a profile are
//! sampled too.
//!
//! One `#[test]` in this binary, so nothing else runs while the profile does.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use gort::prof::{LabelValue, Profile};

/// Spins for `budget` of this thread's CPU time: sample counts do not depend on how loaded
/// the machine is (the profiler's timers count CPU time too).
#[inline(never)]
fn cpu_hot_spin(budget: Duration) -> u64 {
    common::spin_cpu(budget)
}

#[inline(never)]
fn cpu_cold_spin(budget: Duration) -> u64 {
    cpu_hot_spin(budget)
}

fn share(p: &Profile, f: &str) -> f64 {
    p.total_with("samples", f) as f64 / p.total("samples").max(1) as f64
}

#[test]
fn cpu_profile_finds_the_hot_function() {
    let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
    gort::prof::start_cpu_profile(std::io::sink()).unwrap();
    assert!(gort::prof::start_cpu_profile(std::io::sink()).is_err());
    let wall = Instant::now();
    rt.block_on(|| {
        let hs: Vec<_> = (0..2)
            .map(|i| {
                gort::go(move || {
                    gort::prof::with_labels(&[("worker", if i == 0 { "a" } else { "b" })], || {
                        cpu_hot_spin(Duration::from_millis(600))
                    })
                })
            })
            .collect();
        for h in hs {
            black_box(h.join().unwrap());
        }
        // A little time elsewhere, through a blocking-pool thread.
        gort::blocking(move || cpu_cold_spin(Duration::from_millis(100)));
    });
    let p = gort::prof::stop_cpu_profile().unwrap().unwrap();
    let total = p.total("samples");
    // Direct calls only (the blocking-pool call reaches cpu_hot_spin through cpu_cold_spin).
    let hot = share(&p, "cpu_hot_spin") - share(&p, "cpu_cold_spin");
    let cold = share(&p, "cpu_cold_spin");
    let flat: i64 = p
        .samples
        .iter()
        .filter(|s| s.stack.iter().take(3).any(|f| f.mentions("cpu_hot_spin")))
        .map(|s| s.values[0])
        .sum();
    println!(
        "cpu: {total} samples in {:?} wall ({} threads profiled now); cpu_hot_spin {:.1}% \
         (within 3 frames of the leaf {:.1}%), via blocking pool cpu_cold_spin {:.1}%",
        wall.elapsed(),
        gort::prof::profiled_threads(),
        hot * 100.0,
        flat as f64 / total as f64 * 100.0,
        cold * 100.0
    );
    // 2 x 600 ms + 100 ms of CPU at 100 Hz: 130 samples expected.
    assert!(total >= 90, "only {total} samples");
    assert!(hot > 0.5, "hot function has {:.1}% of samples", hot * 100.0);
    assert!(cold > 0.0, "the blocking-pool thread was not sampled");
    assert_eq!(p.period, 10_000_000);
    assert_eq!(p.total("cpu"), total * 10_000_000);
    // Labels and goroutine ids.
    let labelled: Vec<&str> = p
        .samples
        .iter()
        .filter(|s| s.has_function("cpu_hot_spin"))
        .flat_map(|s| s.labels.iter())
        .filter_map(|(k, v)| match (k.as_str(), v) {
            ("worker", LabelValue::Str(v)) => Some(v.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        labelled.contains(&"a") && labelled.contains(&"b"),
        "{labelled:?}"
    );
    assert!(p
        .samples
        .iter()
        .filter(|s| s.has_function("cpu_hot_spin") && !s.has_function("cpu_cold_spin"))
        .all(|s| s
            .labels
            .iter()
            .any(|(k, v)| k == "goroutine" && matches!(v, LabelValue::Num(n, _) if *n > 0))));
    // Stopped: nothing more to stop.
    assert!(gort::prof::stop_cpu_profile().unwrap().is_none());
}
