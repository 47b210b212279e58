//! `gort gctrace`: read `GODEBUG=gctrace=1` output (Go's or gort's).
//!
//! [`parse`] turns lines into [`parse::Cycle`]s, [`report`] summarises
//! them (cycles, GC CPU, pauses, heap over time), [`whatif`] replays the
//! observed allocation under another GOGC/GOMEMLIMIT with a pacer model,
//! and [`svg`] draws heap and pauses over time.

pub mod parse;
pub mod report;
pub mod svg;
pub mod whatif;
