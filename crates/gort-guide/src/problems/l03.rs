//! Lesson 3, allocations: `docs/guide/03-allocations.md`.

use crate::measure::allocs_per_call;
use crate::{Outcome, Problem, Which};
use std::hint::black_box;

#[path = "../../../../docs/guide/problems/03-allocations/prealloc/solution.rs"]
mod prealloc_solution;
#[path = "../../../../docs/guide/problems/03-allocations/prealloc/start.rs"]
mod prealloc_start;

#[path = "../../../../docs/guide/problems/03-allocations/format/solution.rs"]
mod format_solution;
#[path = "../../../../docs/guide/problems/03-allocations/format/start.rs"]
mod format_start;

#[path = "../../../../docs/guide/problems/03-allocations/clones/solution.rs"]
mod clones_solution;
#[allow(clippy::ptr_arg, clippy::redundant_clone)]
#[path = "../../../../docs/guide/problems/03-allocations/clones/start.rs"]
mod clones_start;

#[path = "../../../../docs/guide/problems/03-allocations/dyn-box/solution.rs"]
mod dyn_solution;
#[path = "../../../../docs/guide/problems/03-allocations/dyn-box/start.rs"]
mod dyn_start;

pub static PROBLEMS: &[&Problem] = &[&PREALLOC, &FORMAT, &CLONES, &DYN_BOX];

static PREALLOC: Problem = Problem {
    id: "03-allocations/prealloc",
    title: "Grow once: a vector of known size",
    target: "at most 1 allocation per call of squares(1000), same result",
    hint: "Profile (playbook step 2): the heap profile's top site is Vec growth \
           (RawVec::grow_amortized); size the vector up front with Vec::with_capacity",
    check: |w| {
        let f = match w {
            Which::Start => prealloc_start::squares,
            Which::Solution => prealloc_solution::squares,
        };
        let want: Vec<u64> = (0..1000u64).map(|i| i * i).collect();
        if f(1000) != want {
            return Outcome::new(
                false,
                "wrong result: squares(1000) must be the squares of 0..1000",
            );
        }
        let a = allocs_per_call(200, || {
            black_box(f(black_box(1000)));
        });
        Outcome::new(a <= 1.0, format!("{a:.1} allocs/call (target: at most 1)"))
    },
    run: |w, time| {
        let f = match w {
            Which::Start => prealloc_start::squares,
            Which::Solution => prealloc_solution::squares,
        };
        crate::repeat_for(time, || {
            black_box(f(black_box(1000)));
        })
    },
};

/// The readings `render` formats: 100 of them.
fn readings() -> Vec<(u32, f64)> {
    (0..100u32)
        .map(|i| (i, f64::from(i) * 1.25 + 0.004))
        .collect()
}

static FORMAT: Problem = Problem {
    id: "03-allocations/format",
    title: "format! on a hot path: write! into a reused String",
    target: "same text, 0 allocations per call of render (100 readings, reused buffer)",
    hint: "Profile (playbook step 2): the allocs column (-benchmem) or the heap profile \
           (gort pprof top on GORT_MEMPROFILE) puts the String that format! grows on top, \
           one per record; write! (std::fmt::Write) formats into out itself",
    check: |w| {
        let f = match w {
            Which::Start => format_start::render,
            Which::Solution => format_solution::render,
        };
        let r = readings();
        let want: String = r.iter().map(|(i, v)| format!("{i}={v:.2};")).collect();
        let mut out = String::new();
        f(&mut out, &r);
        if out != want {
            return Outcome::new(
                false,
                "wrong result: one `id=value;` per reading, 2 decimals",
            );
        }
        let a = allocs_per_call(200, || {
            f(black_box(&mut out), black_box(&r));
        });
        Outcome::new(a == 0.0, format!("{a:.1} allocs/call (target: 0)"))
    },
    run: |w, time| {
        let f = match w {
            Which::Start => format_start::render,
            Which::Solution => format_solution::render,
        };
        let r = readings();
        let mut out = String::new();
        crate::repeat_for(time, || {
            f(black_box(&mut out), black_box(&r));
        })
    },
};

#[allow(clippy::ptr_arg)] // the start takes &Vec<String>
fn picked(w: Which, words: &Vec<String>, queries: &[usize]) -> usize {
    match w {
        Which::Start => clones_start::picked_len(words, queries),
        Which::Solution => clones_solution::picked_len(words, queries),
    }
}

fn words_and_queries() -> (Vec<String>, Vec<usize>) {
    let words = (0..200).map(|i| format!("word{i}")).collect();
    let queries = (0..50).map(|i| (i * 37) % 200).collect();
    (words, queries)
}

static CLONES: Problem = Problem {
    id: "03-allocations/clones",
    title: "Clones in a loop: borrow instead",
    target: "same total, 0 allocations per call of picked_len (200 words, 50 queries)",
    hint: "Profile (playbook step 2): the heap profile's top site is to_vec (how Vec and String \
           clone) inside picked_len; read through the reference instead",
    check: |w| {
        let (words, queries) = words_and_queries();
        let want: usize = queries.iter().map(|&q| words[q].len()).sum();
        if picked(w, &words, &queries) != want {
            return Outcome::new(false, "wrong result: the sum of the picked words' lengths");
        }
        let a = allocs_per_call(50, || {
            black_box(picked(w, black_box(&words), black_box(&queries)));
        });
        Outcome::new(a == 0.0, format!("{a:.0} allocs/call (target: 0)"))
    },
    run: |w, time| {
        let (words, queries) = words_and_queries();
        crate::repeat_for(time, || {
            black_box(picked(w, black_box(&words), black_box(&queries)));
        })
    },
};

/// The shapes: 300 specs cycling through the three kinds.
fn specs() -> Vec<(u8, f64)> {
    (0..300u32)
        .map(|i| ((i % 3) as u8, f64::from(i % 17) + 0.5))
        .collect()
}

static DYN_BOX: Problem = Problem {
    id: "03-allocations/dyn-box",
    title: "A Box<dyn Trait> per item: an enum",
    target: "same total area, 0 allocations per call of total_area (300 shapes)",
    hint: "Profile (playbook step 2): -benchmem counts 301 allocs/op; the heap profile names \
           the closure that boxes each shape and the collect; a closed set of types is an enum (or \
           a generic over one type), dispatched by match without a box",
    check: |w| {
        let f = match w {
            Which::Start => dyn_start::total_area,
            Which::Solution => dyn_solution::total_area,
        };
        let s = specs();
        let want: f64 = s
            .iter()
            .map(|&(k, x)| match k {
                0 => std::f64::consts::PI * x * x,
                1 => x * x,
                _ => x * (2.0 * x),
            })
            .sum();
        let got = f(&s);
        if (got - want).abs() > 1e-9 * want.abs() {
            return Outcome::new(
                false,
                format!("wrong result: total area {got}, want {want}"),
            );
        }
        let a = allocs_per_call(100, || {
            black_box(f(black_box(&s)));
        });
        Outcome::new(a == 0.0, format!("{a:.0} allocs/call (target: 0)"))
    },
    run: |w, time| {
        let f = match w {
            Which::Start => dyn_start::total_area,
            Which::Solution => dyn_solution::total_area,
        };
        let s = specs();
        crate::repeat_for(time, || {
            black_box(f(black_box(&s)));
        })
    },
};
