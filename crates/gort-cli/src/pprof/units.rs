//! pprof's measurement units: scaling and labels.
//!
//! Mirrors `go tool pprof`: memory units scale by 1024 (`B`, `kB`, `MB`,
//! `GB`, `TB`, `PB`), time units by their size (`ns`, `us`, `ms`, `s`,
//! `hrs`); counts have no unit. A label is `%.2f` with a trailing `.00`
//! dropped, and zero prints as `0`. A report picks one output unit from
//! its smallest non-zero node and the total, so columns are comparable.

type UnitTable = &'static [(&'static str, &'static [&'static str], f64)];

const MEMORY: UnitTable = &[
    ("B", &["b", "byte"], 1.0),
    ("kB", &["kb", "kbyte", "kilobyte"], 1024.0),
    ("MB", &["mb", "mbyte", "megabyte"], 1048576.0),
    ("GB", &["gb", "gbyte", "gigabyte"], 1073741824.0),
    ("TB", &["tb", "tbyte", "terabyte"], 1099511627776.0),
    ("PB", &["pb", "pbyte", "petabyte"], 1125899906842624.0),
];
const TIME: UnitTable = &[
    ("ns", &["ns", "nanosecond"], 1.0),
    ("us", &["μs", "us", "microsecond"], 1e3),
    ("ms", &["ms", "millisecond"], 1e6),
    ("s", &["s", "sec", "second"], 1e9),
    ("hrs", &["hour", "hr"], 3.6e12),
];
const DEFAULTS: [(&str, f64); 2] = [("B", 1.0), ("s", 1e9)];

fn sniff(table: UnitTable, unit: &str) -> Option<f64> {
    let mut u = unit.to_lowercase();
    if u.chars().count() > 2 {
        if let Some(s) = u.strip_suffix('s') {
            u = s.to_string();
        }
    }
    table
        .iter()
        .find(|(_, aliases, _)| aliases.contains(&u.as_str()))
        .map(|(_, _, f)| *f)
}

/// Scales `value` from `from` to `to` (`minimum`/`auto` pick the largest
/// unit with value >= 1); returns the number and the unit name.
pub fn scale(value: i64, from: &str, to: &str) -> (f64, String) {
    if value < 0 && value != i64::MIN {
        let (v, u) = scale(-value, from, to);
        return (-v, u);
    }
    for (ti, table) in [MEMORY, TIME].iter().enumerate() {
        let Some(f) = sniff(table, from) else {
            continue;
        };
        let v = value as f64 * f;
        if to == "minimum" || to == "auto" {
            let mut best: Option<(f64, &str)> = None;
            for (name, _, uf) in table.iter() {
                let better = match best {
                    None => true,
                    Some((bf, _)) => *uf >= bf,
                };
                if better && v / uf >= 1.0 {
                    best = Some((*uf, name));
                }
            }
            return match best {
                Some((bf, name)) => (v / bf, name.to_string()),
                None => (v / DEFAULTS[ti].1, DEFAULTS[ti].0.to_string()),
            };
        }
        return match sniff(table, to) {
            Some(tf) => {
                let name = table.iter().find(|(_, _, f)| *f == tf).map_or("", |t| t.0);
                (v / tf, name.to_string())
            }
            None => (v / DEFAULTS[ti].1, DEFAULTS[ti].0.to_string()),
        };
    }
    match to {
        "count" | "sample" | "unit" | "minimum" | "auto" => (value as f64, String::new()),
        _ => (value as f64, to.to_string()),
    }
}

/// `%.2f` with `.00` trimmed, plus the unit; `0` for zero.
pub fn label(value: i64, from: &str, to: &str) -> String {
    let (v, u) = scale(value, from, to);
    let s = format!("{v:.2}");
    let s = s.strip_suffix(".00").unwrap_or(&s).to_string();
    if s == "0" || s == "-0" {
        return "0".into();
    }
    s + &u
}

/// pprof's percentage column (`  100%`, `25.91%`, ` 0.84%`, `0.0091%`).
pub fn percentage(value: i64, total: i64) -> String {
    let ratio = if total != 0 {
        (value as f64 / total as f64).abs() * 100.0
    } else {
        0.0
    };
    if (99.95..=100.05).contains(&ratio) {
        "  100%".into()
    } else if ratio >= 1.0 {
        format!("{ratio:5.2}%")
    } else {
        // Go's %5.2g: two significant digits, no exponent for these sizes.
        format!("{:>5}%", g2(ratio))
    }
}

/// Go's `%.2g` for a value in [0, 1).
fn g2(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let exp = v.abs().log10().floor() as i32;
    if exp < -4 {
        let s = format!("{v:.1e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        return format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    let decimals = (1 - exp).max(0) as usize;
    let s = format!("{v:.decimals$}");
    // %g drops trailing zeros.
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The output unit a report uses, from its smallest non-zero node value
/// and the total (pprof's "minimum" unit selection).
pub fn select_output_unit(min_value: i64, total: i64, sample_unit: &str) -> String {
    let min_value = if min_value == 0 { total } else { min_value };
    let (_, min_unit) = scale(min_value, sample_unit, "minimum");
    let (_, max_unit) = scale(total, sample_unit, "minimum");
    let mut unit = min_unit.clone();
    if min_unit != max_unit && min_value.saturating_mul(100) < total {
        unit = scale(min_value.saturating_mul(100), sample_unit, "minimum").1;
    }
    if unit.is_empty() {
        sample_unit.to_string()
    } else {
        unit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_match_pprof() {
        assert_eq!(label(930_000_000, "nanoseconds", "s"), "0.93s");
        assert_eq!(label(120 << 20, "bytes", "MB"), "120MB");
        assert_eq!(label(0, "bytes", "MB"), "0");
        assert_eq!(label(3_510_000_000, "nanoseconds", "auto"), "3.51s");
        assert_eq!(label(17, "count", "minimum"), "17");
        assert_eq!(percentage(93, 359), "25.91%");
        assert_eq!(percentage(359, 359), "  100%");
        assert_eq!(percentage(3, 359), " 0.84%");
        assert_eq!(percentage(0, 359), "    0%");
        assert_eq!(
            select_output_unit(10_000_000, 3_590_000_000, "nanoseconds"),
            "s"
        );
    }
}
