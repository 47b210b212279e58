//! The mutex and block profiles (Go's `SetMutexProfileFraction`, `SetBlockProfileRate`):
//! the public switches and the profiles built from the events the runtime core records
//! (`crate::rt::hooks::contention`, which documents where events come from).

use super::profile::{Frame, Profile, Sample};
use super::symbolize::{trim_leaf, Symbolizer};
use crate::rt::hooks::contention::{self, Table, BLOCK_EVENTS, MUTEX_EVENTS};
use std::sync::Mutex;

/// Sets the fraction of mutex contention events reported (Go's
/// `runtime.SetMutexProfileFraction`): on average 1 in `rate`; 0 turns it off; a negative
/// `rate` only reads the current value. Returns the previous value.
pub fn set_mutex_profile_fraction(rate: i64) -> i64 {
    contention::set_mutex_fraction(rate)
}

/// Sets the block profile rate (Go's `runtime.SetBlockProfileRate`): aim to sample one
/// blocking event per `rate` nanoseconds spent blocked; 1 records every event, 0 (or less)
/// turns it off.
pub fn set_block_profile_rate(rate: i64) {
    contention::set_block_rate(rate)
}

fn is_internal(f: &Frame) -> bool {
    f.lines.iter().any(|l| {
        let n = l.function.as_str();
        n.contains("gort::prof::")
            || n.contains("gort::rt::hooks::")
            || n.contains("gort::alloc::fpwalk")
            || n.contains("gort::sync::runtime_sema::")
            || n.contains("gort::rt::parking::")
    })
}

fn build(table: &Mutex<Option<Table>>) -> Profile {
    let events = contention::events(table);
    let mut sym = Symbolizer::new();
    let samples = events
        .into_iter()
        .map(|(pcs, (count, delay))| {
            let mut stack = sym.stack(&pcs, false);
            trim_leaf(&mut stack, 8, is_internal);
            Sample {
                stack,
                values: vec![count as i64, delay as i64],
                labels: Vec::new(),
            }
        })
        .collect();
    let t = |a: &str, b: &str| (a.to_string(), b.to_string());
    Profile {
        sample_types: vec![t("contentions", "count"), t("delay", "nanoseconds")],
        period_type: t("contentions", "count"),
        period: 1,
        time_nanos: super::now_unix_nanos(),
        samples,
        ..Profile::default()
    }
}

/// The mutex profile built from the events recorded so far.
pub(crate) fn build_mutex() -> Profile {
    build(&MUTEX_EVENTS)
}

/// The block profile built from the events recorded so far.
pub(crate) fn build_block() -> Profile {
    build(&BLOCK_EVENTS)
}
