//! The gctrace summary: cycles, GC CPU, pauses, heap over time.
//!
//! GC CPU is given twice: the `P%` Go printed on the last line (its own
//! running total since program start), and our recomputation from the
//! per-cycle CPU fields, `sum(D + E + F + H) / (T * 1000 * K)`, which
//! leaves idle marking (G) out as Go does (idle marking only uses CPUs
//! that had nothing else to do). Pauses are the two stop-the-world phases
//! of each cycle, A and C, in wall-clock ms; percentiles are
//! nearest-rank.

use super::parse::{Cycle, Trace};
use std::fmt::Write as _;

/// Nearest-rank percentile of a sorted slice (p in 0..=100).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Summary numbers, shared with `doctor` and `whatif`.
#[derive(Debug, Clone)]
pub struct Stats {
    pub cycles: usize,
    pub forced: usize,
    pub seconds: f64,
    pub procs: u32,
    pub printed_pct: f64,
    pub computed_pct: f64,
    pub computed_pct_with_idle: f64,
    /// Sorted STW pauses (ms).
    pub pauses: Vec<f64>,
    pub total_stw_ms: f64,
    pub max_heap: f64,
    pub live_median: f64,
    /// Estimated MiB allocated over the trace.
    pub allocated: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    percentile(&v, 50.0)
}

/// Estimated MiB allocated: the first cycle's end heap, plus for every
/// later cycle its end heap minus the previous live heap.
pub fn allocated(cycles: &[Cycle]) -> f64 {
    let mut total = 0.0;
    for (i, c) in cycles.iter().enumerate() {
        total += if i == 0 {
            c.heap[1]
        } else {
            (c.heap[1] - cycles[i - 1].heap[2]).max(0.0)
        };
    }
    total
}

/// Computes the summary.
pub fn stats(t: &Trace) -> Stats {
    let cs = &t.cycles;
    let last = cs.last();
    let seconds = last.map_or(0.0, |c| c.t);
    let procs = last.map_or(1, |c| c.procs.max(1));
    let gc_ms: f64 = cs.iter().map(|c| c.gc_cpu_ms()).sum();
    let idle_ms: f64 = cs.iter().map(|c| c.cpu[3]).sum();
    let avail = seconds * 1000.0 * procs as f64;
    let pct = |ms: f64| if avail > 0.0 { 100.0 * ms / avail } else { 0.0 };
    let mut pauses: Vec<f64> = cs.iter().flat_map(|c| c.pauses()).collect();
    pauses.sort_by(f64::total_cmp);
    Stats {
        cycles: cs.len(),
        forced: cs.iter().filter(|c| c.forced).count(),
        seconds,
        procs,
        printed_pct: last.map_or(0.0, |c| c.pct),
        computed_pct: pct(gc_ms),
        computed_pct_with_idle: pct(gc_ms + idle_ms),
        total_stw_ms: pauses.iter().sum(),
        pauses,
        max_heap: cs
            .iter()
            .map(|c| c.heap[0].max(c.heap[1]))
            .fold(0.0, f64::max),
        live_median: median(cs.iter().map(|c| c.heap[2]).collect()),
        allocated: allocated(cs),
    }
}

/// Renders the text report.
pub fn render(t: &Trace) -> String {
    let s = stats(t);
    let cs = &t.cycles;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "GC cycles: {} ({} forced) over {:.3}s, {} P, {:.1} cycles/s",
        s.cycles,
        s.forced,
        s.seconds,
        s.procs,
        if s.seconds > 0.0 {
            s.cycles as f64 / s.seconds
        } else {
            0.0
        }
    );
    if t.runs > 1 {
        let _ = writeln!(
            o,
            "warning: {} traces mixed (cycle numbers restart); analysing the longest",
            t.runs
        );
    }
    if t.malformed > 0 {
        let _ = writeln!(
            o,
            "warning: {} gctrace-like lines did not parse",
            t.malformed
        );
    }
    let _ = writeln!(
        o,
        "GC CPU: {}% as printed by the runtime (last line); {:.1}% computed from cpu ms (assist+background+STW), {:.1}% with idle marking",
        s.printed_pct, s.computed_pct, s.computed_pct_with_idle
    );
    let p = &s.pauses;
    let _ = writeln!(
        o,
        "STW pauses ({} = 2 per cycle, wall ms): p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}  total {:.3} ms",
        p.len(),
        percentile(p, 50.0),
        percentile(p, 90.0),
        percentile(p, 99.0),
        p.last().copied().unwrap_or(0.0),
        s.total_stw_ms
    );
    let marks: Vec<f64> = {
        let mut v: Vec<f64> = cs.iter().map(|c| c.clock[1]).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let _ = writeln!(
        o,
        "Concurrent mark (wall ms): p50 {:.3}  max {:.3}",
        percentile(&marks, 50.0),
        marks.last().copied().unwrap_or(0.0)
    );
    let lives: Vec<f64> = cs.iter().map(|c| c.heap[2]).collect();
    let goals: Vec<f64> = cs.iter().map(|c| c.goal).collect();
    let minmax = |v: &[f64]| {
        (
            v.iter().copied().fold(f64::INFINITY, f64::min),
            v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        )
    };
    let (lmin, lmax) = minmax(&lives);
    let (gmin, gmax) = minmax(&goals);
    let _ = writeln!(
        o,
        "Heap (MB as printed, i.e. MiB): live {lmin}..{lmax} (median {}), goal {gmin}..{gmax}, peak {}",
        s.live_median, s.max_heap
    );
    let _ = writeln!(
        o,
        "Allocated (estimate): {:.0} MB, {:.1} MB/s",
        s.allocated,
        if s.seconds > 0.0 {
            s.allocated / s.seconds
        } else {
            0.0
        }
    );
    let _ = writeln!(o, "\nHeap over time (every {} cycles):", step(cs.len()));
    let _ = writeln!(
        o,
        "{:>6} {:>9} {:>7} {:>7} {:>7} {:>7} {:>11}",
        "cycle", "time", "start", "end", "live", "goal", "pause ms"
    );
    for (i, c) in cs.iter().enumerate() {
        if i % step(cs.len()) != 0 && i != cs.len() - 1 {
            continue;
        }
        let _ = writeln!(
            o,
            "{:>6} {:>8.3}s {:>7} {:>7} {:>7} {:>7} {:>11.3}{}",
            c.n,
            c.t,
            c.heap[0],
            c.heap[1],
            c.heap[2],
            c.goal,
            c.clock[0] + c.clock[2],
            if c.forced { " (forced)" } else { "" }
        );
    }
    o
}

fn step(n: usize) -> usize {
    n.div_ceil(20).max(1)
}
