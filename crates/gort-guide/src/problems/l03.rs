//! Lesson 3, allocations: `docs/guide/03-allocations.md`.

use crate::measure::allocs_per_call;
use crate::{Outcome, Problem, Which};
use std::hint::black_box;

#[path = "../../../../docs/guide/problems/03-allocations/prealloc/solution.rs"]
mod prealloc_solution;
#[path = "../../../../docs/guide/problems/03-allocations/prealloc/start.rs"]
mod prealloc_start;

pub static PROBLEMS: &[&Problem] = &[&PREALLOC];

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
