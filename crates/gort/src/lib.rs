//! gort: the Go runtime, in Rust.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod alloc;
pub mod testing;

pub use alloc::{read_mem_stats, MemStats};
