//! The Prometheus text exposition (format 0.0.4) of every metric, named as client_golang's
//! Go collector names `runtime/metrics`.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::table::{self, Reading};
use super::{Description, ValueKind};

/// The Prometheus name of a metric (client_golang's `RuntimeMetricsToProm`):
/// `/gc/heap/goal:bytes` -> `go_gc_heap_goal_bytes`; `/gort/...` metrics take `gort` as the
/// namespace instead of `go`; cumulative scalars end in `_total`.
pub(crate) fn prom_name(d: &Description) -> String {
    let (path, unit) = d.name.split_once(':').unwrap_or((d.name, ""));
    let path = path.trim_start_matches('/');
    let mut s = String::with_capacity(d.name.len() + 12);
    if !path.starts_with("gort/") {
        s.push_str("go_");
    }
    s.push_str(path);
    if !unit.is_empty() {
        s.push('_');
        s.push_str(unit);
    }
    let mut s: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if d.cumulative && d.kind != ValueKind::Float64Histogram {
        s.push_str("_total");
    }
    s
}

/// HELP text escaping: backslash and newline.
fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value in the exposition's float syntax.
fn float(v: f64) -> String {
    if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else if v.is_nan() {
        "NaN".into()
    } else {
        format!("{v}")
    }
}

/// Writes every metric of [`super::all`] in the Prometheus text exposition format 0.0.4
/// (`Content-Type: text/plain; version=0.0.4`): a `# HELP` and a `# TYPE` line each, then its
/// samples. Scalars are `gauge`s, or `counter`s with a `_total` suffix when cumulative;
/// histograms have cumulative `_bucket{le="..."}` lines up to `le="+Inf"`, then `_sum` (the
/// exact sum of the recorded durations, in seconds) and `_count`.
///
/// ```
/// let mut out = Vec::new();
/// gort::metrics::write_prometheus(&mut out).unwrap();
/// let text = String::from_utf8(out).unwrap();
/// assert!(text.contains("# TYPE go_gc_cycles_total_gc_cycles_total counter"));
/// assert!(text.contains("go_sched_latencies_seconds_bucket{le=\"+Inf\"}"));
/// ```
pub fn write_prometheus(w: &mut impl Write) -> io::Result<()> {
    let mut ctx = table::Ctx::default();
    let mut out = String::with_capacity(16 << 10);
    let bounds = crate::rt::timehist::boundaries_seconds();
    for (d, read) in table::DESCRIPTIONS.iter().zip(table::READERS) {
        let name = prom_name(d);
        let ty = match (d.kind, d.cumulative) {
            (ValueKind::Float64Histogram, _) => "histogram",
            (_, true) => "counter",
            _ => "gauge",
        };
        let _ = write!(
            out,
            "# HELP {name} {}\n# TYPE {name} {ty}\n",
            escape_help(d.description)
        );
        match read(&mut ctx) {
            Reading::U(v) => {
                let _ = writeln!(out, "{name} {v}");
            }
            Reading::F(v) => {
                let _ = writeln!(out, "{name} {}", float(v));
            }
            Reading::H(counts, sum_ns) => {
                let mut cum = 0u64;
                for (i, c) in counts.iter().enumerate() {
                    cum += c;
                    let _ = writeln!(
                        out,
                        "{name}_bucket{{le=\"{}\"}} {cum}",
                        float(bounds[i + 1])
                    );
                }
                let _ = write!(
                    out,
                    "{name}_sum {}\n{name}_count {cum}\n",
                    float(sum_ns as f64 * 1e-9)
                );
            }
        }
    }
    w.write_all(out.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_of(n: &str) -> String {
        let d = table::DESCRIPTIONS[table::index(n).unwrap()];
        prom_name(&d)
    }

    #[test]
    fn names_as_client_golang() {
        assert_eq!(name_of("/gc/heap/goal:bytes"), "go_gc_heap_goal_bytes");
        assert_eq!(
            name_of("/gc/cycles/total:gc-cycles"),
            "go_gc_cycles_total_gc_cycles_total"
        );
        assert_eq!(
            name_of("/sched/goroutines/not-in-go:goroutines"),
            "go_sched_goroutines_not_in_go_goroutines"
        );
        assert_eq!(
            name_of("/sched/latencies:seconds"),
            "go_sched_latencies_seconds"
        );
        assert_eq!(
            name_of("/cpu/classes/gc/total:cpu-seconds"),
            "go_cpu_classes_gc_total_cpu_seconds_total"
        );
        assert_eq!(
            name_of("/gort/sched/stalls:episodes"),
            "gort_sched_stalls_episodes_total"
        );
        assert_eq!(float(f64::INFINITY), "+Inf");
        assert_eq!(escape_help("a\\b\nc"), "a\\\\b\\nc");
    }
}
