//! Event timestamps: the TSC where it is invariant, else `CLOCK_MONOTONIC`.
//!
//! A hook reads the clock once per event, so the read is most of the cost of tracing. On
//! x86-64 with an invariant TSC (`constant_tsc` and `nonstop_tsc`: it ticks at a fixed rate,
//! in sleep states too, and the kernel synchronises it across cores) `rdtsc` costs a few
//! nanoseconds and is monotonic across threads; elsewhere a vDSO `clock_gettime` is used.
//! Ticks become nanoseconds only when the trace is written, from two (ticks, nanoseconds)
//! pairs taken at `start` and `stop`.
//!
//! "A few nanoseconds" is not true everywhere: on the 2-vCPU Xeon VM of 2026-12-02 one
//! `rdtsc` costs 35-40 ns (back to back; `rdtscp` 43-60, vDSO `clock_gettime` 60-85), and
//! perf put 71% of a traced ParkPingPong's recording time on the instruction after it. So
//! the buffers do not read the clock for every event in a dense stretch (`buf.rs`), and
//! need to know how many ticks a microsecond is: [`ticks_per_us`], measured once over a
//! 2 ms sleep against `CLOCK_MONOTONIC`.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::OnceLock;

/// Whether `ticks` reads the TSC (decided once, at the first trace start).
static USE_TSC: AtomicBool = AtomicBool::new(false);

/// Ticks per microsecond of the chosen clock (1000 for `CLOCK_MONOTONIC`).
static TICKS_PER_US: AtomicU64 = AtomicU64::new(1000);

/// Ticks between events below which a stretch counts as dense (`buf.rs`): 500 ns, or
/// `GORT_TRACE_DENSE_NS` nanoseconds. The variable is a measurement aid: under callgrind,
/// which runs code 10-20 times slower, no stretch is dense at 500 ns, so counting the
/// instructions of the sampled path that native runs take needs a larger one
/// (`bench/trace/count.sh`).
static DENSE_TICKS: AtomicU64 = AtomicU64::new(500);

/// Decides the clock source and calibrates it; called by `start` before any hook can
/// record (the first call sleeps 2 ms when the TSC is used).
pub(crate) fn init() {
    static DECIDED: OnceLock<(bool, u64)> = OnceLock::new();
    let (tsc, per_us) = *DECIDED.get_or_init(|| {
        let tsc = tsc_is_invariant();
        (tsc, if tsc { calibrate_tsc() } else { 1000 })
    });
    TICKS_PER_US.store(per_us, Relaxed);
    let dense_ns = std::env::var("GORT_TRACE_DENSE_NS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(500);
    DENSE_TICKS.store((dense_ns.saturating_mul(per_us) / 1000).max(1), Relaxed);
    USE_TSC.store(tsc, Relaxed);
}

/// Ticks between events below which a stretch counts as dense (valid after [`init`]).
#[inline]
pub(crate) fn dense_ticks() -> u64 {
    DENSE_TICKS.load(Relaxed)
}

/// TSC ticks per microsecond, over a 2 ms busy wait.
fn calibrate_tsc() -> u64 {
    let read = || {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `rdtsc` exists on every x86-64 CPU and has no memory effects.
        let t = unsafe { core::arch::x86_64::_rdtsc() };
        #[cfg(not(target_arch = "x86_64"))]
        let t = mono_ns();
        (t, mono_ns())
    };
    let (t0, n0) = read();
    // A busy wait, not a sleep: this runs inside a `OnceLock` initializer, possibly on a
    // goroutine, where a sleep would park it (`rt/interpose/`) and another goroutine of the
    // same thread waiting on the same initializer would then block the thread for good.
    while mono_ns().saturating_sub(n0) < 2_000_000 {
        std::hint::spin_loop();
    }
    let (t1, n1) = read();
    (t1.saturating_sub(t0).saturating_mul(1000) / n1.saturating_sub(n0).max(1)).max(1)
}

/// Ticks per microsecond (valid after [`init`]).
#[inline]
pub(crate) fn ticks_per_us() -> u64 {
    TICKS_PER_US.load(Relaxed)
}

fn tsc_is_invariant() -> bool {
    if !cfg!(target_arch = "x86_64") || std::env::var_os("GORT_TRACE_CLOCK_MONOTONIC").is_some() {
        return false;
    }
    let Ok(info) = std::fs::read_to_string("/proc/cpuinfo") else {
        return false;
    };
    let flags = info.lines().find(|l| l.starts_with("flags")).unwrap_or("");
    let has = |f: &str| flags.split_whitespace().any(|w| w == f);
    has("constant_tsc") && has("nonstop_tsc")
}

/// `CLOCK_MONOTONIC` in nanoseconds.
pub(crate) fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The event clock, in ticks (TSC cycles or nanoseconds).
#[inline]
pub(crate) fn ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    if USE_TSC.load(Relaxed) {
        // SAFETY: `rdtsc` exists on every x86-64 CPU and has no memory effects.
        return unsafe { core::arch::x86_64::_rdtsc() };
    }
    mono_ns()
}

/// A (ticks, nanoseconds) pair read back to back, for converting ticks to nanoseconds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Anchor {
    pub(crate) ticks: u64,
    pub(crate) ns: u64,
}

impl Anchor {
    pub(crate) fn now() -> Anchor {
        Anchor {
            ticks: ticks(),
            ns: mono_ns(),
        }
    }
}

/// Converts ticks to nanoseconds since `start`, by the line through `start` and `end`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Conv {
    start: Anchor,
    ns_per_tick: f64,
}

impl Conv {
    pub(crate) fn new(start: Anchor, end: Anchor) -> Conv {
        let dt = end.ticks.saturating_sub(start.ticks);
        let dn = end.ns.saturating_sub(start.ns);
        let ns_per_tick = if dt == 0 || dn == 0 {
            1.0
        } else {
            dn as f64 / dt as f64
        };
        Conv { start, ns_per_tick }
    }

    /// Nanoseconds from the start anchor (0 for ticks before it).
    pub(crate) fn ns(&self, ticks: u64) -> u64 {
        (ticks.saturating_sub(self.start.ticks) as f64 * self.ns_per_tick) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_monotonic_and_convert() {
        init();
        let a = Anchor::now();
        let mut last = ticks();
        for _ in 0..10_000 {
            let t = ticks();
            assert!(t >= last);
            last = t;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
        let b = Anchor::now();
        let c = Conv::new(a, b);
        let ns = c.ns(b.ticks);
        let want = b.ns - a.ns;
        assert!(ns.abs_diff(want) <= want / 100 + 1000, "{ns} vs {want}");
        assert_eq!(c.ns(a.ticks.saturating_sub(5)), 0);
        // The calibration agrees with the conversion within 5%.
        let per_us = 1000.0 / c.ns_per_tick;
        let cal = ticks_per_us() as f64;
        assert!((cal - per_us).abs() <= per_us / 20.0, "{cal} vs {per_us}");
    }
}
