//! The problems of each lesson (one module per lesson; each problem's `start.rs` and
//! `solution.rs` are compiled from `docs/guide/problems/`).

pub mod l03;

/// Every problem of every lesson.
pub fn all() -> Vec<&'static crate::Problem> {
    let mut v = Vec::new();
    v.extend_from_slice(l03::PROBLEMS);
    v
}
