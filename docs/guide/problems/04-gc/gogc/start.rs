// Problem 04-gc/gogc: the start. Edit the two settings below (not the workload, which lives
// in the check); `cargo run -p gort-guide -- check gogc` runs the workload with them.
//
// The workload keeps 4 MiB live on the GC heap and allocates 64 MiB of short-lived objects.
// The budget: the GC heap may use at most 48 MiB. The goal: at most a third of the GC
// cycles that the default (GOGC=100, no limit) runs.

/// GOGC: the heap may grow to live * (1 + GOGC/100) before the next cycle; -1 is "off".
pub const GOGC: i64 = 100;

/// GOMEMLIMIT in bytes (the soft memory limit); `i64::MAX` is "no limit".
pub const GOMEMLIMIT: i64 = i64::MAX;
