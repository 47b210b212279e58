//! `--what-if GOGC=N,GOMEMLIMIT=X`: replaying the trace under another
//! setting with a simple pacer model.
//!
//! Model (Go 1.18+ pacer, steady state):
//! * The program's work is unchanged: it allocates the same number of
//!   bytes (estimated from the trace: each cycle's end heap minus the
//!   previous live heap) over the same mutator time, and keeps the same
//!   live heap L (median of the live heaps observed).
//! * Heap goal = L + (L + stacks + globals) * GOGC/100, at least
//!   4 MiB * GOGC/100; a memory limit caps the goal (we treat the whole
//!   limit as available to the heap, which overstates it a little).
//!   GOGC=off without a limit means no GC at all.
//! * Each cycle lets the program allocate (goal - L) bytes times the
//!   "runway factor" k observed in the trace (how much was really
//!   allocated per cycle relative to goal - L; it covers triggering early
//!   and allocating during marking). Cycles = allocated / (k (goal - L)).
//! * Peak heap = goal times the largest end-heap/goal ratio observed.
//! * GC CPU per cycle is proportional to the live heap, hence unchanged;
//!   GC CPU share = cycles * observed mean GC CPU per cycle over the
//!   observed CPU time. A limit that forces GC CPU above 50% is capped
//!   there by the runtime's limiter (the program slows down instead).
//!
//! The model is checked against the trace itself: applied to the GOGC
//! that the trace implies, it should predict about the observed cycles.

use super::parse::{Cycle, Trace};
use super::report::stats;
use anyhow::{bail, Context, Result};
use std::fmt::Write as _;

const MIB: f64 = 1024.0 * 1024.0;

/// A setting to model.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// None = off.
    pub gogc: Option<f64>,
    /// Bytes.
    pub memlimit: Option<f64>,
    pub text: String,
}

impl Setting {
    /// Parses `GOGC=200`, `GOGC=off`, `GOMEMLIMIT=512MiB`, comma-separated.
    pub fn parse(s: &str) -> Result<Setting> {
        let mut out = Setting {
            gogc: Some(100.0),
            memlimit: None,
            text: s.to_string(),
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .with_context(|| format!("--what-if: expected KEY=VALUE, got {part:?}"))?;
            match k.trim().to_ascii_uppercase().as_str() {
                "GOGC" => out.gogc = parse_gogc(v.trim())?,
                "GOMEMLIMIT" => out.memlimit = parse_bytes(v.trim())?,
                other => bail!("--what-if: unknown setting {other:?} (use GOGC or GOMEMLIMIT)"),
            }
        }
        Ok(out)
    }
}

/// Parses a GOGC value as Go's runtime reads it: `off`, or a 32-bit
/// integer, negative meaning off. Anything else (fractions, NaN,
/// exponents, out-of-range numbers) is an error, where Go would silently
/// fall back to 100.
pub fn parse_gogc(v: &str) -> Result<Option<f64>> {
    if v.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    match v.parse::<i32>() {
        Ok(n) if n < 0 => Ok(None),
        Ok(n) => Ok(Some(n as f64)),
        Err(_) => bail!(
            "--what-if: bad GOGC value {v:?} (use off or an integer from 0 to {})",
            i32::MAX
        ),
    }
}

/// Parses a GOMEMLIMIT value as Go's runtime reads it: `off`, or a
/// non-negative integer number of bytes with an optional B, KiB, MiB,
/// GiB or TiB suffix, at most 2^63-1 bytes. None means no limit.
pub fn parse_bytes(v: &str) -> Result<Option<f64>> {
    if v.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let units: [(&str, u64); 5] = [
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
        ("B", 1),
    ];
    let (num, factor) = units
        .iter()
        .find_map(|(suffix, f)| v.strip_suffix(suffix).map(|n| (n, *f)))
        .unwrap_or((v, 1));
    let bytes = num
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .filter(|n| *n <= i64::MAX as u64);
    match bytes {
        Some(b) => Ok(Some(b as f64)),
        None => bail!(
            "--what-if: bad GOMEMLIMIT {v:?} (use off or a whole number of bytes up to 2^63-1, with an optional B, KiB, MiB, GiB or TiB suffix: 512MiB, 2GiB)"
        ),
    }
}

/// Observed inputs to the model.
#[derive(Debug, Clone)]
pub struct Observed {
    pub live: f64,
    pub overhead: f64,
    pub allocated: f64,
    pub runway_factor: f64,
    pub peak_ratio: f64,
    pub gogc_estimate: f64,
    pub cpu_per_cycle_ms: f64,
    pub cpu_avail_ms: f64,
    pub cycles: usize,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

/// Measures the model inputs from a trace (sizes in MiB).
pub fn observe(t: &Trace) -> Observed {
    let s = stats(t);
    let cs: &[Cycle] = &t.cycles;
    let overhead = median(
        cs.iter()
            .map(|c| c.stacks.unwrap_or(0.0) + c.globals.unwrap_or(0.0))
            .collect(),
    );
    let mut runway = Vec::new();
    let mut gogc = Vec::new();
    for w in cs.windows(2) {
        let (prev, c) = (&w[0], &w[1]);
        let room = c.goal - prev.heap[2];
        if room > 0.0 && !c.forced {
            runway.push((c.heap[1] - prev.heap[2]).max(0.0) / room);
        }
        let base = prev.heap[2] + overhead;
        if base > 0.0 && c.goal > 4.0 {
            gogc.push(100.0 * (c.goal - prev.heap[2]) / base);
        }
    }
    let peak_ratio = cs
        .iter()
        .filter(|c| c.goal > 0.0)
        .map(|c| c.heap[1] / c.goal)
        .fold(1.0, f64::max);
    let gc_ms: f64 = cs.iter().map(|c| c.gc_cpu_ms()).sum();
    Observed {
        live: s.live_median,
        overhead,
        allocated: s.allocated,
        runway_factor: if runway.is_empty() {
            1.0
        } else {
            median(runway)
        },
        peak_ratio,
        gogc_estimate: if gogc.is_empty() { 100.0 } else { median(gogc) },
        cpu_per_cycle_ms: if cs.is_empty() {
            0.0
        } else {
            gc_ms / cs.len() as f64
        },
        cpu_avail_ms: s.seconds * 1000.0 * s.procs as f64,
        cycles: cs.len(),
    }
}

/// Prediction for one setting.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// MiB; infinite when GC never runs.
    pub goal: f64,
    /// None when the goal is at or below the live heap (GC runs flat out).
    pub cycles: Option<f64>,
    pub peak: f64,
    pub gc_cpu_pct: Option<f64>,
    pub limited: bool,
}

/// Applies the model.
pub fn predict(o: &Observed, s: &Setting) -> Prediction {
    let limit = s.memlimit.map(|b| b / MIB);
    let mut goal = match s.gogc {
        Some(g) => (o.live + (o.live + o.overhead) * g / 100.0).max(4.0 * g / 100.0),
        None => f64::INFINITY,
    };
    let mut limited = false;
    if let Some(l) = limit {
        if l < goal {
            goal = l;
            limited = true;
        }
    }
    if goal.is_infinite() {
        return Prediction {
            goal,
            cycles: Some(0.0),
            peak: o.live + o.allocated,
            gc_cpu_pct: Some(0.0),
            limited,
        };
    }
    let room = (goal - o.live) * o.runway_factor;
    if room <= 0.0 {
        return Prediction {
            goal,
            cycles: None,
            peak: goal.max(o.live),
            gc_cpu_pct: Some(50.0),
            limited,
        };
    }
    let cycles = o.allocated / room;
    let mut cpu = if o.cpu_avail_ms > 0.0 {
        100.0 * cycles * o.cpu_per_cycle_ms / o.cpu_avail_ms
    } else {
        0.0
    };
    if limited && cpu > 50.0 {
        cpu = 50.0;
    }
    Prediction {
        goal,
        cycles: Some(cycles),
        peak: goal * o.peak_ratio,
        gc_cpu_pct: Some(cpu),
        limited,
    }
}

/// Renders the what-if section.
pub fn render(t: &Trace, s: &Setting) -> String {
    let o = observe(t);
    let mut out = String::new();
    let _ = writeln!(out, "\nWhat if {}?", s.text);
    let _ = writeln!(
        out,
        "  observed: {} cycles, live heap {:.1} MiB (median), {:.0} MiB allocated, GOGC ≈ {:.0} (from goal/live), runway factor {:.2}, peak/goal {:.2}, {:.3} ms GC CPU per cycle",
        o.cycles, o.live, o.allocated, o.gogc_estimate, o.runway_factor, o.peak_ratio, o.cpu_per_cycle_ms
    );
    let base = Setting {
        gogc: Some(o.gogc_estimate),
        memlimit: None,
        text: String::new(),
    };
    let check = predict(&o, &base);
    if let Some(c) = check.cycles {
        let _ = writeln!(
            out,
            "  model check: at the observed GOGC it predicts {:.0} cycles (observed {})",
            c, o.cycles
        );
    }
    let p = predict(&o, s);
    let goal = if p.goal.is_infinite() {
        "none (GC off)".to_string()
    } else {
        format!(
            "{:.1} MiB{}",
            p.goal,
            if p.limited {
                " (capped by GOMEMLIMIT)"
            } else {
                ""
            }
        )
    };
    let _ = writeln!(out, "  heap goal: {goal}");
    match p.cycles {
        Some(c) => {
            let _ = writeln!(
                out,
                "  cycles: {:.0} (observed {}, {:+.0}%)",
                c,
                o.cycles,
                if o.cycles > 0 {
                    100.0 * (c / o.cycles as f64 - 1.0)
                } else {
                    0.0
                }
            );
        }
        None if p.limited => {
            let _ = writeln!(
                out,
                "  cycles: continuous — the limit is at or below the live heap; the runtime caps GC at ~50% CPU and the program slows down"
            );
        }
        None => {
            let _ = writeln!(
                out,
                "  cycles: continuous — at this GOGC the goal is the live heap itself, so each cycle starts as the previous one ends"
            );
        }
    }
    let _ = writeln!(
        out,
        "  peak heap: {:.1} MiB (observed {:.1})",
        p.peak,
        stats(t).max_heap
    );
    if let Some(c) = p.gc_cpu_pct {
        let _ = writeln!(
            out,
            "  GC CPU: {:.1}% (observed {:.1}%)",
            c,
            stats(t).computed_pct
        );
    }
    let _ = writeln!(
        out,
        "  assumptions: same allocation volume and live heap; goal = live + (live+stacks+globals)*GOGC/100 (min 4 MiB*GOGC/100), capped by the limit; GC CPU per cycle unchanged"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_settings() {
        let s = Setting::parse("GOGC=off,GOMEMLIMIT=512MiB").expect("ok");
        assert_eq!(s.gogc, None);
        assert_eq!(s.memlimit, Some(512.0 * MIB));
        assert!(Setting::parse("GOGC=abc").is_err());
        assert!(Setting::parse("FOO=1").is_err());
        assert_eq!(parse_bytes("1GiB").expect("ok"), Some(1024.0 * MIB));
        assert_eq!(parse_bytes("off").expect("ok"), None);
        assert_eq!(parse_bytes("0").expect("ok"), Some(0.0));
        for bad in [
            "0.5B",
            "-1MiB",
            "1e3",
            "NaN",
            "16777216TiB",
            "9223372036854775808",
        ] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
        assert_eq!(Setting::parse("GOGC=-1").expect("ok").gogc, None);
        assert_eq!(Setting::parse("GOGC=0").expect("ok").gogc, Some(0.0));
        for bad in ["NaN", "-inf", "1e308", "inf", "1.5", "2147483648"] {
            let e = Setting::parse(&format!("GOGC={bad}"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("bad GOGC value"), "{e}");
        }
    }

    #[test]
    fn doubling_gogc_halves_cycles() {
        let o = Observed {
            live: 10.0,
            overhead: 0.0,
            allocated: 1000.0,
            runway_factor: 1.0,
            peak_ratio: 1.0,
            gogc_estimate: 100.0,
            cpu_per_cycle_ms: 1.0,
            cpu_avail_ms: 1000.0,
            cycles: 100,
        };
        let a = predict(&o, &Setting::parse("GOGC=100").expect("ok"));
        let b = predict(&o, &Setting::parse("GOGC=200").expect("ok"));
        assert_eq!(a.cycles, Some(100.0));
        assert_eq!(b.cycles, Some(50.0));
        let c = predict(&o, &Setting::parse("GOGC=100,GOMEMLIMIT=5MiB").expect("ok"));
        assert_eq!(c.cycles, None);
    }
}
