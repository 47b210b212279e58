//! The guide's problem sets (`docs/guide/`): every problem is a program to fix, a check that
//! measures it against a target, and a hint that names the playbook step to take.
//!
//! A problem lives in `docs/guide/problems/<lesson>/<name>/`: `README.md` (the task, the
//! target, how to find the cause with gort's tools), `start.rs` (the version the reader edits)
//! and `solution.rs` (a reference solution, not to be read first). This crate compiles both
//! files as modules (`#[path]`, in `src/problems/lNN.rs`) and registers one [`Problem`] per
//! directory; its check runs the variant asked for and compares what it measures with the
//! target. `cargo run -p gort-guide -- check 03-allocations/prealloc` checks the reader's
//! `start.rs`; `--solution` the reference. `cargo test -p gort-guide` checks, for every
//! problem, that the unedited start fails and the solution passes (CI runs it).
//!
//! Checks measure ratios and counts, not absolute times: allocations per call (exact, from
//! gort's counting allocator, installed here), or a speed-up against the problem's own
//! baseline (the unedited start's code, kept in the check) measured side by side, alternated,
//! median of several rounds, with targets well inside what the solution reaches, so that a
//! loaded CI machine gives the same verdict.

pub mod measure;
pub mod problems;

#[global_allocator]
static ALLOC: gort::alloc::CountingAlloc = gort::alloc::CountingAlloc::system();

/// Which version of a problem to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// `start.rs`: the reader's version (unedited: the slow or wrong program).
    Start,
    /// `solution.rs`: the reference solution.
    Solution,
}

/// What a check found.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub pass: bool,
    /// The numbers measured, against the target, e.g. `11 allocs/call (target: at most 1)`.
    pub measured: String,
}

impl Outcome {
    /// An outcome that passes when `pass`, described by `measured`.
    pub fn new(pass: bool, measured: impl Into<String>) -> Outcome {
        Outcome {
            pass,
            measured: measured.into(),
        }
    }
}

/// One problem of a lesson's set.
pub struct Problem {
    /// `<lesson dir>/<problem dir>`, e.g. `03-allocations/prealloc`.
    pub id: &'static str,
    pub title: &'static str,
    /// The target in words, e.g. `at most 1 allocation per call`.
    pub target: &'static str,
    /// Shown when the check fails: the playbook step and the tool that finds the cause.
    pub hint: &'static str,
    /// Runs the variant and measures it.
    pub check: fn(Which) -> Outcome,
    /// Runs the variant's work over and over for about the given time, measuring nothing:
    /// what `gort-guide bench` runs under `gort doctor`, `GORT_CPUPROFILE`, `GODEBUG=...`.
    pub run: fn(Which, std::time::Duration),
}

/// Calls `f` until `time` has passed (at least once): a [`Problem::run`] body.
pub fn repeat_for(time: std::time::Duration, mut f: impl FnMut()) {
    let t0 = std::time::Instant::now();
    loop {
        f();
        if t0.elapsed() >= time {
            break;
        }
    }
}

/// Every problem, in lesson order.
pub fn all() -> Vec<&'static Problem> {
    let mut v = problems::all();
    v.sort_by_key(|p| p.id);
    v
}

/// The problem `id` (a unique prefix or suffix is enough: `prealloc`, `03-allocations/pre`).
pub fn find(id: &str) -> Result<&'static Problem, String> {
    let all = all();
    if let Some(p) = all.iter().find(|p| p.id == id) {
        return Ok(p);
    }
    let m: Vec<&&Problem> = all
        .iter()
        .filter(|p| p.id.starts_with(id) || p.id.ends_with(id))
        .collect();
    match m.as_slice() {
        [p] => Ok(p),
        [] => Err(format!(
            "no problem {id:?}; `gort-guide list` shows them all"
        )),
        many => Err(format!(
            "{id:?} names {} problems: {}",
            many.len(),
            many.iter().map(|p| p.id).collect::<Vec<_>>().join(", ")
        )),
    }
}
