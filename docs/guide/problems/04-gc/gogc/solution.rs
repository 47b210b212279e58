// Problem 04-gc/gogc: a reference solution.
//
// `GODEBUG=gctrace=1 target/release/gort-guide bench gogc 2> gc.log` records the cycles at
// the default; `gort gctrace gc.log --what-if GOGC=400` predicts a quarter of the cycles with
// a peak goal of live * 5 = 20 MiB, inside the 48 MiB budget. (GOGC=off with GOMEMLIMIT=32MiB
// also fits: a cycle only when the heap reaches the limit.)

/// GOGC: the heap may grow to live * (1 + GOGC/100) before the next cycle; -1 is "off".
pub const GOGC: i64 = 400;

/// GOMEMLIMIT in bytes (the soft memory limit); `i64::MAX` is "no limit".
pub const GOMEMLIMIT: i64 = i64::MAX;
