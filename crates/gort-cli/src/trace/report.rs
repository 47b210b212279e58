//! The `gort trace` summary: time per goroutine state, scheduler latency, blocking by
//! reason, GC time, P utilisation.
//!
//! Scheduler latency is the length of each `runnable` slice that ends where a `running` slice
//! of the same goroutine begins (the wait for a P after being created, woken or yielding);
//! percentiles are nearest-rank.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::model::{Stall, State, Trace};
use crate::gctrace::report::percentile;

/// Time one goroutine spent in each state (ns).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GStats {
    pub goid: u64,
    pub running: f64,
    pub runnable: f64,
    /// Blocked time by wait reason.
    pub blocked: BTreeMap<String, f64>,
}

impl GStats {
    pub fn blocked_total(&self) -> f64 {
        self.blocked.values().sum()
    }

    pub fn total(&self) -> f64 {
        self.running + self.runnable + self.blocked_total()
    }
}

/// Everything the report prints.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub duration_ns: f64,
    pub goroutines: Vec<GStats>,
    /// Sorted runnable-to-running delays (ns).
    pub latency: Vec<f64>,
    /// Per wait reason: (times blocked, total ns).
    pub blocking: BTreeMap<String, (u64, f64)>,
    pub gc_count: usize,
    pub gc_ns: f64,
    /// Sorted STW pause lengths (ns).
    pub stw: Vec<f64>,
    pub procs: Vec<(String, f64)>,
    /// Stall episodes, in time order.
    pub stalls: Vec<Stall>,
}

pub fn summarize(t: &Trace) -> Summary {
    let mut s = Summary {
        duration_ns: t.duration_ns(),
        gc_count: t.gc.len(),
        gc_ns: t.gc.iter().map(|g| g.dur).sum(),
        procs: t.procs.clone(),
        stalls: t.stalls.clone(),
        ..Summary::default()
    };
    for (&goid, slices) in &t.goroutines {
        let mut g = GStats {
            goid,
            ..GStats::default()
        };
        for (i, (span, state)) in slices.iter().enumerate() {
            match state {
                State::Running => g.running += span.dur,
                State::Runnable => {
                    g.runnable += span.dur;
                    if let Some((next, State::Running)) = slices.get(i + 1) {
                        if (next.ts - (span.ts + span.dur)).abs() < 1.0 {
                            s.latency.push(span.dur);
                        }
                    }
                }
                State::Blocked(r) => {
                    *g.blocked.entry(r.clone()).or_default() += span.dur;
                    let b = s.blocking.entry(r.clone()).or_default();
                    b.0 += 1;
                    b.1 += span.dur;
                }
            }
        }
        s.goroutines.push(g);
    }
    s.latency.sort_by(f64::total_cmp);
    s.stw = t.stw.iter().map(|(sp, _)| sp.dur).collect();
    s.stw.sort_by(f64::total_cmp);
    s
}

/// Nanoseconds in a readable unit.
pub fn dur(ns: f64) -> String {
    if !ns.is_finite() {
        return "-".into();
    }
    let a = ns.abs();
    if a < 1e3 {
        format!("{ns:.0}ns")
    } else if a < 1e6 {
        format!("{:.2}us", ns / 1e3)
    } else if a < 1e9 {
        format!("{:.2}ms", ns / 1e6)
    } else {
        format!("{:.3}s", ns / 1e9)
    }
}

fn pct(part: f64, whole: f64) -> String {
    if whole > 0.0 {
        format!("{:.1}%", 100.0 * part / whole)
    } else {
        "-".into()
    }
}

pub fn render(s: &Summary, top: usize) -> String {
    let mut o = String::new();
    let d = s.duration_ns;
    let _ = writeln!(
        o,
        "trace: {} long, {} goroutines, {} Ps",
        dur(d),
        s.goroutines.len(),
        s.procs.len()
    );
    for (name, busy) in &s.procs {
        let _ = writeln!(
            o,
            "  {name:<8} ran goroutines {} of the time",
            pct(*busy, d)
        );
    }

    let running: f64 = s.goroutines.iter().map(|g| g.running).sum();
    let runnable: f64 = s.goroutines.iter().map(|g| g.runnable).sum();
    let blocked: f64 = s.goroutines.iter().map(|g| g.blocked_total()).sum();
    let all = running + runnable + blocked;
    let _ = writeln!(o, "\nGoroutine time by state (all goroutines):");
    for (name, v) in [
        ("running", running),
        ("runnable", runnable),
        ("blocked", blocked),
    ] {
        let _ = writeln!(o, "  {name:<22} {:>10}  {:>6}", dur(v), pct(v, all));
    }
    let mut reasons: Vec<_> = s.blocking.iter().collect();
    reasons.sort_by(|a, b| b.1 .1.total_cmp(&a.1 .1));
    for (r, (_, ns)) in &reasons {
        let _ = writeln!(o, "    {r:<20} {:>10}  {:>6}", dur(*ns), pct(*ns, all));
    }

    let _ = writeln!(
        o,
        "\nScheduler latency (runnable -> running), {} samples:",
        s.latency.len()
    );
    if s.latency.is_empty() {
        let _ = writeln!(o, "  none");
    } else {
        let l = &s.latency;
        let _ = writeln!(
            o,
            "  p50 {}  p90 {}  p99 {}  max {}",
            dur(percentile(l, 50.0)),
            dur(percentile(l, 90.0)),
            dur(percentile(l, 99.0)),
            dur(l[l.len() - 1])
        );
    }

    let _ = writeln!(o, "\nBlocking by reason:");
    if reasons.is_empty() {
        let _ = writeln!(o, "  none");
    } else {
        let _ = writeln!(
            o,
            "  {:<20} {:>8} {:>10} {:>10}",
            "reason", "count", "total", "mean"
        );
        for (r, (n, ns)) in &reasons {
            let _ = writeln!(
                o,
                "  {r:<20} {n:>8} {:>10} {:>10}",
                dur(*ns),
                dur(*ns / (*n).max(1) as f64)
            );
        }
    }

    let mut gs: Vec<&GStats> = s.goroutines.iter().collect();
    gs.sort_by(|a, b| b.running.total_cmp(&a.running).then(a.goid.cmp(&b.goid)));
    let _ = writeln!(o, "\nTop {} goroutines by running time:", top.min(gs.len()));
    let _ = writeln!(
        o,
        "  {:>10} {:>10} {:>10} {:>10}  most blocked on",
        "goroutine", "running", "runnable", "blocked"
    );
    for g in gs.iter().take(top) {
        let most = g
            .blocked
            .iter()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or("-", |(r, _)| r.as_str());
        let _ = writeln!(
            o,
            "  {:>10} {:>10} {:>10} {:>10}  {most}",
            format!("G{}", g.goid),
            dur(g.running),
            dur(g.runnable),
            dur(g.blocked_total())
        );
    }

    let _ = writeln!(o);
    if s.gc_count == 0 && s.stw.is_empty() {
        let _ = writeln!(o, "GC: no GC events in this trace");
    } else {
        let _ = writeln!(
            o,
            "GC: {} cycles, {} ({} of the trace)",
            s.gc_count,
            dur(s.gc_ns),
            pct(s.gc_ns, d)
        );
        if !s.stw.is_empty() {
            let _ = writeln!(
                o,
                "STW: {} pauses, {} total, p50 {}, max {}",
                s.stw.len(),
                dur(s.stw.iter().sum()),
                dur(percentile(&s.stw, 50.0)),
                dur(s.stw[s.stw.len() - 1])
            );
        }
    }
    if !s.stalls.is_empty() {
        let total: f64 = s.stalls.iter().map(|x| x.span.dur).sum();
        let _ = writeln!(
            o,
            "\nStalls (a goroutine kept its P's thread while others waited): {}, {} in all",
            s.stalls.len(),
            dur(total)
        );
        for x in &s.stalls {
            let _ = writeln!(
                o,
                "  {:>10} on {:<4} {:>10}  {:<10}  at {}",
                format!("G{}", x.goid),
                x.track,
                dur(x.span.dur),
                x.kind,
                x.at
            );
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_the_sample() {
        let t = crate::trace::model::parse(crate::trace::model::SAMPLE).unwrap();
        let s = summarize(&t);
        assert_eq!(s.duration_ns, 10_000.0);
        let g7 = &s.goroutines[0];
        assert_eq!((g7.goid, g7.running, g7.runnable), (7, 3000.0, 1500.0));
        assert_eq!(g7.blocked["syscall"], 1500.0);
        // Two runnable slices, both followed by running.
        assert_eq!(s.latency, vec![500.0, 1000.0]);
        assert_eq!(s.blocking["chan receive"], (1, 8000.0));
        assert_eq!((s.gc_count, s.gc_ns), (1, 3000.0));
        assert_eq!(s.stw, vec![250.0, 500.0]);
        let text = render(&s, 1);
        for want in [
            "trace: 10.00us long, 2 goroutines, 1 Ps",
            "P0       ran goroutines 30.0% of the time",
            "p50 500ns  p90 1.00us  p99 1.00us  max 1.00us",
            "chan receive",
            "Top 1 goroutines by running time",
            "GC: 1 cycles, 3.00us (30.0% of the trace)",
            "STW: 2 pauses, 750ns total, p50 250ns, max 500ns",
            "Stalls (a goroutine kept its P's thread while others waited): 1, 500ns in all",
            "        G7 on P0        500ns  futex wait  at src/main.rs:9 (app::work)",
        ] {
            assert!(text.contains(want), "{want:?} not in\n{text}");
        }
        assert!(!text.contains("G8 "), "top 1 lists only G7:\n{text}");
    }
}
