//! Lesson 4, the garbage collector: `docs/guide/04-gc.md`.
//!
//! These checks read process-wide GC counters (`gort::gc::num_gc`, `heap_live`,
//! `heap_inuse`): they settle the heap with forced collections first and run one at a time
//! (the harness's test runs the checks in sequence).

use crate::{Outcome, Problem, Which};
use gort::gc::{Gc, Trace};
use std::hint::black_box;

#[path = "../../../../docs/guide/problems/04-gc/short-lived/solution.rs"]
mod short_solution;
#[path = "../../../../docs/guide/problems/04-gc/short-lived/start.rs"]
mod short_start;

#[path = "../../../../docs/guide/problems/04-gc/gogc/solution.rs"]
mod gogc_solution;
#[path = "../../../../docs/guide/problems/04-gc/gogc/start.rs"]
mod gogc_start;

#[path = "../../../../docs/guide/problems/04-gc/retained/solution.rs"]
mod retained_solution;
#[path = "../../../../docs/guide/problems/04-gc/retained/start.rs"]
mod retained_start;

pub static PROBLEMS: &[&Problem] = &[&SHORT_LIVED, &GOGC, &RETAINED];

/// Two forced cycles: the second finishes the first one's sweep, so that `heap_live` counts
/// only what is reachable.
fn settle() {
    gort::gc();
    gort::gc();
}

const STEPS: usize = 400_000;

/// The expected final position (plain values, as the solution computes it).
fn simulate_expected(steps: usize) -> (f64, f64, f64) {
    let (mut x, mut y, mut z) = (0.0f64, 0.0f64, 0.0f64);
    for i in 0..steps {
        x += 0.5;
        y += -0.25;
        z += 0.125;
        if i % 1000 == 999 {
            x *= 0.5;
            y *= 0.5;
            z *= 0.5;
        }
    }
    (x, y, z)
}

static SHORT_LIVED: Problem = Problem {
    id: "04-gc/short-lived",
    title: "Short-lived Gc objects: plain values",
    target: "same position, 0 GC cycles during simulate(400000)",
    hint: "Classify (playbook step 3): GODEBUG=gctrace=1 prints a cycle per few MiB with a \
           tiny live heap (allocation rate, not live heap, drives the cycles); values owned \
           by one variable need no collector: drop Gc::new",
    check: |w| {
        settle();
        let n0 = gort::gc::num_gc();
        let (x, y, z) = match w {
            Which::Start => {
                let p = short_start::simulate(black_box(STEPS));
                (p.x, p.y, p.z)
            }
            Which::Solution => {
                let p = short_solution::simulate(black_box(STEPS));
                (p.x, p.y, p.z)
            }
        };
        let cycles = gort::gc::num_gc() - n0;
        if (x, y, z) != simulate_expected(STEPS) {
            return Outcome::new(false, "wrong result: the final position differs");
        }
        Outcome::new(
            cycles == 0,
            format!("{cycles} GC cycles during simulate({STEPS}) (target: 0)"),
        )
    },
    run: |w, time| {
        crate::repeat_for(time, || match w {
            Which::Start => {
                black_box(short_start::simulate(black_box(STEPS)));
            }
            Which::Solution => {
                black_box(short_solution::simulate(black_box(STEPS)));
            }
        })
    },
};

/// The workload's objects: 496 bytes (the 512-byte size class).
#[derive(Trace)]
struct Blob {
    data: [u64; 62],
}

const LIVE_BLOBS: u64 = 8 << 10; // 4 MiB live
const CHURN_BLOBS: u64 = 128 << 10; // 64 MiB allocated
const BUDGET: u64 = 48 << 20;

/// Runs the workload with the given settings: returns the GC cycles it ran and the peak of
/// the GC heap's spans in use (sampled every 256 allocations). Restores the defaults.
fn gogc_workload(gogc: i64, limit: i64) -> (u64, u64) {
    settle();
    let old_gogc = gort::gc::set_gc_percent(gogc);
    let old_limit = gort::gc::set_memory_limit(limit);
    let n0 = gort::gc::num_gc();
    let live: Vec<Gc<Blob>> = (0..LIVE_BLOBS)
        .map(|i| Gc::new(Blob { data: [i; 62] }))
        .collect();
    let mut peak = gort::gc::heap_inuse();
    for i in 0..CHURN_BLOBS {
        black_box(Gc::new(Blob { data: [i; 62] }));
        if i % 256 == 0 {
            peak = peak.max(gort::gc::heap_inuse());
        }
    }
    let cycles = gort::gc::num_gc() - n0;
    black_box(&live);
    drop(live);
    gort::gc::set_gc_percent(old_gogc);
    gort::gc::set_memory_limit(old_limit);
    settle();
    (cycles, peak)
}

static GOGC: Problem = Problem {
    id: "04-gc/gogc",
    title: "Choose GOGC/GOMEMLIMIT with gort gctrace --what-if",
    target: "at most 40% of the default's GC cycles, GC heap peak at most 48 MiB",
    hint:
        "Tune (playbook step 4, then verify): record GODEBUG=gctrace=1 target/release/gort-guide \
           bench gogc 2> gc.log, then gort gctrace gc.log --what-if GOGC=400 (or \
           GOGC=off,GOMEMLIMIT=32MiB) predicts the cycles and the peak; GOGC=off alone \
           blows the budget",
    check: |w| {
        let (gogc, limit) = match w {
            Which::Start => (gogc_start::GOGC, gogc_start::GOMEMLIMIT),
            Which::Solution => (gogc_solution::GOGC, gogc_solution::GOMEMLIMIT),
        };
        let (base, _) = gogc_workload(100, i64::MAX);
        let (cycles, peak) = gogc_workload(gogc, limit);
        let mib = peak as f64 / (1 << 20) as f64;
        Outcome::new(
            cycles * 5 <= base * 2 && peak <= BUDGET,
            format!(
                "{cycles} GC cycles against {base} at the default, GC heap peak {mib:.1} MiB \
                 (target: at most {} cycles, at most 48 MiB)",
                base * 2 / 5
            ),
        )
    },
    run: |w, time| {
        let (gogc, limit) = match w {
            Which::Start => (gogc_start::GOGC, gogc_start::GOMEMLIMIT),
            Which::Solution => (gogc_solution::GOGC, gogc_solution::GOMEMLIMIT),
        };
        crate::repeat_for(time, || {
            gogc_workload(gogc, limit);
        })
    },
};

const TREES: usize = 20;
const DEPTH: u32 = 10;

static RETAINED: Problem = Problem {
    id: "04-gc/retained",
    title: "A long-lived structure retains a graph",
    target: "same counts; after 20 runs and a collection, at most one tree's bytes still live",
    hint: "Profile (playbook step 2): GODEBUG=gctrace=1 shows the live heap (the last of \
           a->b->c MB) growing run after run (the malloc heap profile does not see the GC \
           heap); whatever a long-lived value holds a Gc handle to is a root: keep the \
           counts, not the trees",
    check: |w| {
        settle();
        let base = gort::gc::heap_live();
        let one = {
            let t = retained_solution::tree(DEPTH);
            settle();
            let b = gort::gc::heap_live().saturating_sub(base);
            black_box(&t);
            b
        };
        settle();
        let base = gort::gc::heap_live();
        // The two variants' `Checker`s are different types with the same methods.
        macro_rules! measure {
            ($checker:path) => {{
                let mut c = <$checker>::new();
                let ok = (0..TREES).all(|_| c.run(DEPTH) == 2047)
                    && c.runs() == TREES
                    && c.results == vec![2047; TREES];
                settle();
                let kept = gort::gc::heap_live().saturating_sub(base);
                black_box(&c);
                (kept, ok)
            }};
        }
        let (kept, ok) = match w {
            Which::Start => measure!(retained_start::Checker),
            Which::Solution => measure!(retained_solution::Checker),
        };
        settle();
        if !ok {
            return Outcome::new(
                false,
                "wrong result: run(10) must return 2047, runs() and results must log every run",
            );
        }
        Outcome::new(
            kept <= one,
            format!(
                "{} KiB of GC heap still live after {TREES} runs (target: at most one tree, \
                 {} KiB)",
                kept >> 10,
                one >> 10
            ),
        )
    },
    run: |w, time| match w {
        Which::Start => {
            let mut c = retained_start::Checker::new();
            crate::repeat_for(time, || {
                c.run(DEPTH);
            })
        }
        Which::Solution => {
            let mut c = retained_solution::Checker::new();
            crate::repeat_for(time, || {
                c.run(DEPTH);
            })
        }
    },
};
