//! Benchmarks the Go way: Go's `testing.B`, its `b.N` rule and its output format.
//!
//! # Problem
//!
//! gort is measured against Go side by side, with Go's tools (benchstat) reading both sides'
//! results. That needs the same measurement protocol (how `b.N` grows, what is timed, how
//! allocations are counted) and the same text, byte for byte. Criterion and libtest's
//! `#[bench]` differ on both.
//!
//! # How
//!
//! A bench target with `harness = false` calls [`main`] (or uses [`benchmarks!`](crate::benchmarks)).
//! The run mirrors Go's `testing` package step by step: every matching top-level benchmark is
//! a sub-benchmark of a hidden `Main` ([`B::run`]); its first round runs `N = 1` (`run1`), which
//! also discovers sub-benchmarks; then each `-cpu` value times `-count` runs grow `N` with Go's
//! predictor (`predict.rs`) until a round lasts `-benchtime`, and prints one line per run
//! (`result.rs`). A function that loops with [`B::loop_`] (Go 1.24's `B.Loop`) is called once
//! per measurement and grows its own iteration count inside that call. `B/op` and `allocs/op` are the differences of the process-wide counters of
//! [`crate::alloc::CountingAlloc`] across the timed region: all threads' allocations count, as
//! Go counts all goroutines'. Reading them allocates nothing, so timing stays clean.
//!
//! # Rejected alternatives
//!
//! * Criterion: statistical sampling with its own iteration schedule and report format; its
//!   numbers are not comparable with `go test -bench` output and benchstat cannot read them.
//! * Counting allocations per thread only: misses work handed to other threads (goroutines
//!   on other Ms), which Go counts.
//!
//! # Invariants
//!
//! * A result line's name is printed before the benchmark runs and its numbers after, as Go
//!   does, so a crash shows which benchmark was running.
//! * The benchmark runs on the calling thread; `run_parallel` workers are joined before the
//!   timer stops, so their allocations are inside the timed region.
//! * Without `--bench` (that is, under `cargo test`) every benchmark runs once, as a smoke test.

mod b;
mod benchtime;
mod flags;
#[cfg(test)]
mod golden_tests;
mod matcher;
mod output;
mod parallel;
mod predict;
mod profiles;
mod result;
mod runner;
mod sysinfo;
mod trace_flag;

pub use b::B;
pub use benchtime::BenchTime;
pub use flags::Config;
pub use parallel::PB;
pub use result::{result_line, BenchmarkResult};
pub use runner::{benchmark, main, main_with_pkg, name_from_fn, BenchFn};

/// Keeps a value (and the work that computed it) from being optimised away: wrap a benchmark
/// loop's inputs and results in it (`std::hint::black_box`; Go's compiler does this for the
/// body of a `for b.Loop()` loop).
pub use std::hint::black_box;

/// Generates `fn main` for a bench target (`harness = false`) from benchmark functions
/// `fn(&mut gort::testing::B)`; each is named by [`name_from_fn`] (`bench_ping_pong` prints as
/// `BenchmarkPingPong`), and `pkg:` is the calling crate's name.
///
/// ```no_run
/// fn bench_alloc(b: &mut gort::testing::B) { for _ in b.iter() { /* ... */ } }
/// gort::benchmarks!(bench_alloc);
/// ```
#[macro_export]
macro_rules! benchmarks {
    ($($f:ident),+ $(,)?) => {
        fn main() {
            let names = [$($crate::testing::name_from_fn(stringify!($f))),+];
            let fns: &[$crate::testing::BenchFn] = &[$($f),+];
            let list: ::std::vec::Vec<(&str, $crate::testing::BenchFn)> =
                names.iter().map(|n| n.as_str()).zip(fns.iter().copied()).collect();
            $crate::testing::main_with_pkg(env!("CARGO_PKG_NAME"), &list)
        }
    };
}
