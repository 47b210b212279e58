//! The atomics the lock-free parts of the scheduler use: std's in the runtime, shuttle's when
//! `model_tests.rs` compiles the same source files for model checking.

pub(crate) use std::sync::atomic::{AtomicPtr, AtomicU32};
