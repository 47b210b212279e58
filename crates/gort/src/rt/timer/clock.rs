//! The timer clock: monotonic nanoseconds since a process-wide base `Instant`.
//!
//! Timers compare `u64`s rather than `Instant`s so the heap stays small and the scheduler's
//! "is a timer due?" check is one atomic load. `u64::MAX` means "never".

use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// Now, in nanoseconds since the base.
pub(crate) fn now_ns() -> u64 {
    base().elapsed().as_nanos() as u64
}

/// `t` in clock nanoseconds (0 for instants before the base).
pub(crate) fn instant_to_ns(t: Instant) -> u64 {
    t.saturating_duration_since(base()).as_nanos() as u64
}

/// Clock nanoseconds back to an `Instant`.
pub(crate) fn ns_to_instant(ns: u64) -> Instant {
    base() + Duration::from_nanos(ns)
}

/// Time left until `when`, for `park_timeout` (None = never).
pub(crate) fn until(when: u64) -> Option<Duration> {
    (when != u64::MAX).then(|| Duration::from_nanos(when.saturating_sub(now_ns())))
}
