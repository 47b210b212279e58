//! Lesson 7's measurement (`docs/guide/07-generics.md`): the same loop over 4096 elements with
//! its operation dispatched four ways, as Go-format benchmarks that `gort benchstat` reads.
//!
//! `cargo run --release -p gort-guide --example dispatch -- --bench -benchmem -count 5`
//!
//! * `DynPerElement`: `&dyn Op`, a vtable call per element (Go: an interface method call).
//! * `Generic`: `impl Op`, monomorphised: the call is inlined, the loop vectorised.
//! * `Enum`: a `match` on an enum per element (Go: a type switch).
//! * `BoxDynShapes` / `EnumShapes`: a `Vec<Box<dyn Shape>>` vs a `Vec` of an enum, built and
//!   summed (problem `07-generics/enum-shapes`).

// The crate whose counting allocator makes -benchmem count.
use gort_guide as _;

use gort::testing::{black_box, B};

trait Op {
    fn apply(&self, x: u64) -> u64;
}

struct MulAdd(u64, u64);

impl Op for MulAdd {
    fn apply(&self, x: u64) -> u64 {
        x.wrapping_mul(self.0).wrapping_add(self.1)
    }
}

enum OpE {
    MulAdd(u64, u64),
    Xor(u64),
}

impl OpE {
    fn apply(&self, x: u64) -> u64 {
        match *self {
            OpE::MulAdd(m, a) => x.wrapping_mul(m).wrapping_add(a),
            OpE::Xor(k) => x ^ k,
        }
    }
}

#[inline(never)]
fn sum_dyn(xs: &[u64], op: &dyn Op) -> u64 {
    xs.iter().fold(0, |s, &x| s.wrapping_add(op.apply(x)))
}

#[inline(never)]
fn sum_generic(xs: &[u64], op: &impl Op) -> u64 {
    xs.iter().fold(0, |s, &x| s.wrapping_add(op.apply(x)))
}

#[inline(never)]
fn sum_enum(xs: &[u64], op: &OpE) -> u64 {
    xs.iter().fold(0, |s, &x| s.wrapping_add(op.apply(x)))
}

fn data() -> Vec<u64> {
    (0..4096).collect()
}

fn bench_dyn_per_element(b: &mut B) {
    let xs = data();
    let op = MulAdd(3, 1);
    for _ in b.iter() {
        black_box(sum_dyn(black_box(&xs), black_box(&op)));
    }
}

fn bench_generic(b: &mut B) {
    let xs = data();
    let op = MulAdd(3, 1);
    for _ in b.iter() {
        black_box(sum_generic(black_box(&xs), black_box(&op)));
    }
}

fn bench_enum(b: &mut B) {
    let xs = data();
    let op = black_box(OpE::MulAdd(3, 1));
    let _other = black_box(OpE::Xor(7));
    for _ in b.iter() {
        black_box(sum_enum(black_box(&xs), black_box(&op)));
    }
}

#[path = "../../../docs/guide/problems/07-generics/enum-shapes/start.rs"]
mod shapes_start;

#[path = "../../../docs/guide/problems/07-generics/enum-shapes/solution.rs"]
mod shapes_solution;

fn bench_box_dyn_shapes(b: &mut B) {
    for _ in b.iter() {
        black_box(shapes_start::total_area(black_box(1000)));
    }
}

fn bench_enum_shapes(b: &mut B) {
    for _ in b.iter() {
        black_box(shapes_solution::total_area(black_box(1000)));
    }
}

gort::benchmarks!(
    bench_dyn_per_element,
    bench_generic,
    bench_enum,
    bench_box_dyn_shapes,
    bench_enum_shapes
);
