//! `gort pprof`: read pprof profiles written by Go or gort.
//!
//! [`proto`] decodes the protobuf, [`graph`] turns samples into
//! per-function flat/cum totals exactly as `go tool pprof` builds its
//! function-granularity graph, and [`top`], [`flame`] and [`diff`] render
//! it. [`units`] holds pprof's unit scaling so numbers print alike.

pub mod diff;
pub mod flame;
pub mod graph;
pub mod proto;
pub mod top;
pub mod units;
