//! stub
use crate::Problem;
pub static PROBLEMS: &[&Problem] = &[];
