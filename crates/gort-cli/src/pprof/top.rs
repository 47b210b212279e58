//! `gort pprof top`: the `go tool pprof -top` table.
//!
//! Header lines (File, Type, Time, Duration and total, what is shown and
//! what was dropped), then `flat flat% sum% cum cum%` and the function,
//! sorted by flat. Formats follow pprof: one output unit chosen for the
//! whole table, `%.2f` values with `.00` trimmed, and the same percentage
//! formatting, so the two outputs can be compared line by line.

use super::graph::{graph, sample_index, stacks};
use super::proto::Profile;
use super::units::{label, percentage, select_output_unit};
use anyhow::Result;
use std::fmt::Write as _;

/// pprof's default node fraction for reports.
pub const NODE_FRACTION: f64 = 0.005;

/// Header lines shared by reports: File, Type, Time, Duration.
pub fn profile_labels(
    p: &Profile,
    sample_type: &str,
    total_label: &str,
    total_ns: Option<i64>,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(m) = p.mapping.first() {
        let f = p.str(m.filename);
        if !f.is_empty() {
            let base = f.rsplit('/').next().unwrap_or(f);
            out.push(format!("File: {base}"));
        }
        let b = p.str(m.build_id);
        if !b.is_empty() {
            out.push(format!("Build ID: {b}"));
        }
    }
    for c in &p.comment {
        let c = p.str(*c);
        if !c.starts_with('#') {
            out.push(c.to_string());
        }
    }
    out.push(format!("Type: {sample_type}"));
    if p.time_nanos != 0 {
        out.push(format!("Time: {}", format_time(p.time_nanos)));
    }
    if p.duration_nanos != 0 {
        let d = label(p.duration_nanos, "nanoseconds", "auto");
        let ratio = match total_ns {
            Some(t) if t != 0 => format!("({})", percentage(t, p.duration_nanos)),
            _ => String::new(),
        };
        out.push(format!(
            "Duration: {d}, Total samples = {total_label} {ratio}"
        ));
    }
    out
}

/// `2006-01-02 15:04:05 UTC` from Unix nanoseconds (always UTC).
pub fn format_time(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Renders the top table.
pub fn render(p: &Profile, choice: Option<&str>, nodecount: Option<usize>) -> Result<String> {
    let idx = sample_index(p, choice)?;
    let st = stacks(p, idx)?;
    let g = graph(&st, NODE_FRACTION);
    let min_value = g
        .nodes
        .iter()
        .map(|n| {
            if n.flat != 0 {
                n.flat.saturating_abs()
            } else {
                n.cum.saturating_abs()
            }
        })
        .filter(|v| *v > 0)
        .min()
        .unwrap_or(0);
    let unit = if g.nodes.is_empty() {
        "minimum".to_string()
    } else {
        select_output_unit(min_value, g.total, &st.sample_unit)
    };
    let fmt = |v: i64| label(v, &st.sample_unit, &unit);
    let total_ns = {
        let (v, u) = super::units::scale(g.total, &st.sample_unit, "nanoseconds");
        (u == "ns").then_some(v as i64)
    };
    let mut out = String::new();
    for l in profile_labels(p, &st.sample_type, &fmt(g.total), total_ns) {
        let _ = writeln!(out, "{l}");
    }
    let orig = g.nodes.len();
    let shown: Vec<_> = match nodecount {
        Some(n) if n > 0 => g.nodes.iter().take(n).collect(),
        _ => g.nodes.iter().collect(),
    };
    let shown_total: i64 = shown.iter().fold(0i64, |t, n| t.saturating_add(n.flat));
    let _ = writeln!(
        out,
        "Showing nodes accounting for {}, {} of {} total",
        fmt(shown_total),
        percentage(shown_total, g.total).trim(),
        fmt(g.total)
    );
    if g.total != 0 {
        if g.dropped > 0 {
            let _ = writeln!(
                out,
                "Dropped {} node{} (cum <= {})",
                g.dropped,
                if g.dropped == 1 { "" } else { "s" },
                fmt((g.total as f64 * NODE_FRACTION) as i64)
            );
        }
        if shown.len() < orig {
            let _ = writeln!(out, "Showing top {} nodes out of {}", shown.len(), orig);
        }
    }
    let _ = writeln!(
        out,
        "{:>10} {:>5}% {:>5}% {:>10} {:>5}%",
        "flat", "flat", "sum", "cum", "cum"
    );
    let mut sum = 0i64;
    for n in shown {
        sum = sum.saturating_add(n.flat);
        let inl = if n.inline_label.is_empty() {
            String::new()
        } else {
            format!(" {}", n.inline_label)
        };
        let _ = writeln!(
            out,
            "{:>10} {} {} {:>10} {}  {}{}",
            fmt(n.flat),
            percentage(n.flat, g.total),
            percentage(sum, g.total),
            fmt(n.cum),
            percentage(n.cum, g.total),
            n.name,
            inl
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn time_format() {
        assert_eq!(super::format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(
            super::format_time(1_795_000_000_000_000_000),
            "2026-11-18 11:06:40 UTC"
        );
    }
}
