//! Diagnostics: `GODEBUG=schedtrace`/`scheddetail` lines, goroutine dumps (Go's
//! `goroutine N [reason, how long]:` format, from the API and on SIGQUIT) and the deadlock
//! report.
//!
//! gort cannot walk a parked goroutine's stack frames portably, so a dump shows, for each
//! goroutine, where it parked (the `#[track_caller]` location of the blocking call) and where
//! it was created, in the shape Go prints frames (function line, then a tab and file:line), so
//! tools that read Go dumps can read these.

pub(crate) mod dump;
pub(crate) mod schedtrace;
pub(crate) mod sigquit;

pub use crate::stack::{stack_stats, StackStats};
pub use dump::{goroutine_dump, write_goroutine_dump};
pub use schedtrace::sched_summary;
