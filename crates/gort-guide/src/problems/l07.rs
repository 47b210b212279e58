//! Lesson 7, generics and dispatch: `docs/guide/07-generics.md`.
//!
//! The checks count allocations (exact) and compare results: in a debug build, where the
//! checks run, the speed difference between a vtable call and an inlined one is hidden by
//! everything else being unoptimised, but the boxes that dynamic dispatch brings with it are
//! counted the same in every build.

use crate::measure::allocs_per_call;
use crate::{Outcome, Problem, Which};
use std::hint::black_box;

#[path = "../../../../docs/guide/problems/07-generics/any-stack/solution.rs"]
mod any_stack_solution;
#[path = "../../../../docs/guide/problems/07-generics/any-stack/start.rs"]
mod any_stack_start;
#[path = "../../../../docs/guide/problems/07-generics/boxed-closure/solution.rs"]
mod boxed_closure_solution;
#[path = "../../../../docs/guide/problems/07-generics/boxed-closure/start.rs"]
mod boxed_closure_start;
#[path = "../../../../docs/guide/problems/07-generics/enum-shapes/solution.rs"]
mod enum_shapes_solution;
#[path = "../../../../docs/guide/problems/07-generics/enum-shapes/start.rs"]
mod enum_shapes_start;

pub static PROBLEMS: &[&Problem] = &[&ENUM_SHAPES, &ANY_STACK, &BOXED_CLOSURE];

fn total_area(w: Which) -> fn(usize) -> f64 {
    match w {
        Which::Start => enum_shapes_start::total_area,
        Which::Solution => enum_shapes_solution::total_area,
    }
}

static ENUM_SHAPES: Problem = Problem {
    id: "07-generics/enum-shapes",
    title: "A closed set of shapes: Vec<Box<dyn Shape>> vs an enum",
    target: "at most 1 allocation per call of total_area(1000), same result",
    hint: "Profile (playbook step 2): the heap profile's top site is the Box of each shape; the \
           set of shapes is closed, so an enum stores them inline and a match replaces the \
           vtable call",
    check: |w| {
        let f = total_area(w);
        let want: f64 = (0..1000usize)
            .map(|i| {
                if i % 2 == 0 {
                    3.0 * ((i % 7) as f64).powi(2)
                } else {
                    (i % 5) as f64 * 2.0
                }
            })
            .sum();
        let got = f(1000);
        if (got - want).abs() > 1e-9 * want {
            return Outcome::new(
                false,
                format!("wrong result: total_area(1000) = {got}, want {want}"),
            );
        }
        let a = allocs_per_call(100, || {
            black_box(f(black_box(1000)));
        });
        Outcome::new(a <= 1.0, format!("{a:.1} allocs/call (target: at most 1)"))
    },
    run: |w, time| {
        let f = total_area(w);
        crate::repeat_for(time, || {
            black_box(f(black_box(1000)));
        })
    },
};

fn sum_via_stack(w: Which) -> fn(u64) -> u64 {
    match w {
        Which::Start => any_stack_start::sum_via_stack,
        Which::Solution => any_stack_solution::sum_via_stack,
    }
}

static ANY_STACK: Problem = Problem {
    id: "07-generics/any-stack",
    title: "A container of dyn Any (Go's []interface{}) vs a generic Stack<T>",
    target:
        "at most 20 allocations per call of sum_via_stack(1000) (the vector's growth), same sum",
    hint: "Profile (playbook step 2): one allocation per push, the Box<dyn Any>; make the stack \
           generic (Stack<T>) so the values are stored inline and pop needs no downcast",
    check: |w| {
        let f = sum_via_stack(w);
        if f(1000) != 999 * 1000 / 2 {
            return Outcome::new(false, "wrong result: sum_via_stack(1000) must be 499500");
        }
        let a = allocs_per_call(100, || {
            black_box(f(black_box(1000)));
        });
        Outcome::new(
            a <= 20.0,
            format!("{a:.1} allocs/call (target: at most 20)"),
        )
    },
    run: |w, time| {
        let f = sum_via_stack(w);
        crate::repeat_for(time, || {
            black_box(f(black_box(1000)));
        })
    },
};

fn scale_rows(w: Which) -> fn(&mut [Vec<u64>], u64) {
    match w {
        Which::Start => boxed_closure_start::scale_rows,
        Which::Solution => boxed_closure_solution::scale_rows,
    }
}

static BOXED_CLOSURE: Problem = Problem {
    id: "07-generics/boxed-closure",
    title: "A boxed closure per call: Box<dyn Fn> vs impl Fn",
    target: "0 allocations per call of scale_rows on 100 rows, same result",
    hint: "Profile (playbook step 2): one allocation per row, the Box of the closure (the \
           closure captures `m`, so its box is not zero-sized); take `impl Fn` (or `&dyn Fn`)",
    check: |w| {
        let f = scale_rows(w);
        let mut rows: Vec<Vec<u64>> = (0..100).map(|_| (0..10).collect()).collect();
        f(&mut rows, 3);
        let ok = rows.iter().enumerate().all(|(i, r)| {
            r.iter()
                .enumerate()
                .all(|(j, &x)| x == j as u64 * (3 + i as u64))
        });
        if !ok {
            return Outcome::new(false, "wrong result: row i must be multiplied by k + i");
        }
        let a = allocs_per_call(100, || {
            f(black_box(&mut rows), black_box(1));
        });
        Outcome::new(a == 0.0, format!("{a:.1} allocs/call (target: 0)"))
    },
    run: |w, time| {
        let f = scale_rows(w);
        let mut rows: Vec<Vec<u64>> = (0..100).map(|_| (0..10).collect()).collect();
        crate::repeat_for(time, || {
            f(black_box(&mut rows), black_box(1));
        })
    },
};
