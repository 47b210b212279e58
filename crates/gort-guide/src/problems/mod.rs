//! The problems of each lesson (one module per lesson; each problem's `start.rs` and
//! `solution.rs` are compiled from `docs/guide/problems/`).

pub mod l01;
pub mod l02;
pub mod l03;
pub mod l04;
pub mod l05;
pub mod l06;
pub mod l07;
pub mod l08;
pub mod l09;

/// Every problem of every lesson.
pub fn all() -> Vec<&'static crate::Problem> {
    let mut v = Vec::new();
    v.extend_from_slice(l01::PROBLEMS);
    v.extend_from_slice(l02::PROBLEMS);
    v.extend_from_slice(l03::PROBLEMS);
    v.extend_from_slice(l04::PROBLEMS);
    v.extend_from_slice(l05::PROBLEMS);
    v.extend_from_slice(l06::PROBLEMS);
    v.extend_from_slice(l07::PROBLEMS);
    v.extend_from_slice(l08::PROBLEMS);
    v.extend_from_slice(l09::PROBLEMS);
    v
}
