//! gort: the Go runtime, in Rust.
#![deny(unsafe_op_in_unsafe_fn)]

pub(crate) mod stack;
