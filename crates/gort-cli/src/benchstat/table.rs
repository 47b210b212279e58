//! Rendering benchstat tables as text or CSV.
//!
//! The text layout follows benchstat's: a two-line header (file names,
//! then the unit and `vs base`, separated by `│` rules), one row per
//! benchmark with `median ± CI%` per file and, for every file after the
//! first, the delta (or `~` when not significant) and `(p=… n=…)`, a
//! `geomean` row, and numbered footnotes (`¹ need >= 6 samples …`) for
//! warnings. CSV writes raw (unscaled) medians, as benchstat does,
//! and sends warnings to standard error.

use super::scale::{class_of, common_scale, scale};
use super::{column_summary, format_cmp, format_delta, Report, Table};
use std::fmt::Write as _;

fn superscript(mut i: usize) -> String {
    const D: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut out = Vec::new();
    while i > 0 {
        out.push(D[i % 10]);
        i /= 10;
    }
    out.iter().rev().collect()
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn pad_left(s: &str, w: usize) -> String {
    format!("{}{}", " ".repeat(w.saturating_sub(width(s))), s)
}

fn pad_right(s: &str, w: usize) -> String {
    format!("{}{}", s, " ".repeat(w.saturating_sub(width(s))))
}

fn center(s: &str, w: usize) -> String {
    let extra = w.saturating_sub(width(s));
    let left = extra / 2;
    format!("{}{}{}", " ".repeat(left), s, " ".repeat(extra - left))
}

/// Footnote registry: message -> number.
#[derive(Default)]
struct Notes(Vec<String>);

impl Notes {
    fn mark(&mut self, msgs: &[String]) -> String {
        let mut marks = Vec::new();
        for m in msgs {
            let i = match self.0.iter().position(|x| x == m) {
                Some(i) => i,
                None => {
                    self.0.push(m.clone());
                    self.0.len() - 1
                }
            };
            marks.push(superscript(i + 1));
        }
        marks.join(" ")
    }
}

/// Text cells of one column group on one row.
#[derive(Default, Clone)]
struct Group {
    center: String,
    ci: String,
    note: String,
    delta: String,
    pval: String,
    note2: String,
}

struct Rendered {
    rows: Vec<(String, Vec<Group>)>,
    notes: Vec<String>,
}

fn render_rows(t: &Table) -> Rendered {
    let mut notes = Notes::default();
    let class = class_of(&t.unit);
    let mut rows = Vec::new();
    for (ri, name) in t.rows.iter().enumerate() {
        let centers: Vec<f64> = t.cells[ri]
            .iter()
            .flatten()
            .map(|c| c.summary.center)
            .collect();
        let scaler = common_scale(&centers, class);
        let mut groups = Vec::new();
        for (ci, cell) in t.cells[ri].iter().enumerate() {
            let mut g = Group::default();
            if let Some(cell) = cell {
                g.center = scaler.format(cell.summary.center);
                g.ci = cell.summary.pct_range();
                g.note = notes.mark(&cell.summary.warnings);
                if let (Some(cmp), Some(base)) = (&cell.cmp, &t.cells[ri][0]) {
                    if ci > 0 {
                        g.delta = format_delta(cmp, base.summary.center, cell.summary.center);
                        g.pval = format!("({})", format_cmp(cmp));
                        g.note2 = notes.mark(&cmp.warnings);
                    }
                }
            }
            groups.push(g);
        }
        rows.push((name.clone(), groups));
    }
    if t.rows.len() > 1 {
        let mut groups = Vec::new();
        for ci in 0..t.cols.len() {
            let (summary, ratio, warns) = column_summary(t, ci);
            let mut g = Group::default();
            if let Some(s) = summary {
                g.center = scale(s, class);
            }
            if ci > 0 {
                g.delta = match ratio {
                    Some(r) => format!("{:+.2}%", (r - 1.0) * 100.0),
                    None => "?".into(),
                };
            }
            let mark = notes.mark(&warns);
            if ci > 0 {
                g.note2 = mark;
            } else {
                g.note = mark;
            }
            groups.push(g);
        }
        rows.push(("geomean".into(), groups));
    }
    Rendered {
        rows,
        notes: notes.0,
    }
}

/// Renders the whole report as text.
pub fn to_text(report: &Report) -> String {
    let mut out = String::new();
    for (k, v) in &report.common {
        let _ = writeln!(out, "{k}: {v}");
    }
    for (ti, t) in report.tables.iter().enumerate() {
        if ti > 0 {
            out.push('\n');
        }
        for (k, v) in &t.header {
            let _ = writeln!(out, "{k}: {v}");
        }
        out.push_str(&table_text(t));
    }
    out
}

/// Width of an optional column: its margin only counts when it has content.
fn opt(w: usize) -> usize {
    if w > 0 {
        1 + w
    } else {
        0
    }
}

/// One table. Column widths are per table, as in benchstat. Within a
/// file's column group the sub-columns are: median (right), ` ± ` CI
/// (right), footnotes, then for compared files `  ` delta (right), p and n
/// (left), footnotes. Empty footnote columns take no space. When a header
/// (file name or unit) is wider than its columns, the median column
/// absorbs the extra width, as benchstat's stretch columns do.
fn table_text(t: &Table) -> String {
    let r = render_rows(t);
    let name_w = r.rows.iter().map(|(n, _)| width(n)).max().unwrap_or(0);
    let mut w = vec![[0usize; 6]; t.cols.len()];
    for (_, groups) in &r.rows {
        for (ci, g) in groups.iter().enumerate() {
            let cells = [&g.center, &g.ci, &g.note, &g.delta, &g.pval, &g.note2];
            for (k, s) in cells.iter().enumerate() {
                w[ci][k] = w[ci][k].max(width(s));
            }
        }
    }
    let center_w = |x: &[usize; 6]| x[0] + 3 + x[1] + opt(x[2]);
    let delta_w = |x: &[usize; 6]| x[3] + 1 + x[4] + opt(x[5]);
    for (ci, x) in w.iter_mut().enumerate() {
        if ci > 0 && delta_w(x) < width("vs base") {
            x[4] += width("vs base") - delta_w(x);
        }
        let unit_w = width(&t.unit);
        if unit_w > center_w(x) {
            x[0] += unit_w - center_w(x);
        }
        let total = center_w(x) + if ci > 0 { 2 + delta_w(x) } else { 0 };
        let label_w = width(&t.cols[ci]);
        if label_w > total {
            x[0] += label_w - total;
        }
    }
    let group_w = |ci: usize| {
        let x = &w[ci];
        center_w(x) + if ci > 0 { 2 + delta_w(x) } else { 0 }
    };
    let mut out = String::new();
    // Header line 1: file names.
    out.push_str(&" ".repeat(name_w));
    for (ci, col) in t.cols.iter().enumerate() {
        let _ = write!(out, " │ {}", center(col, group_w(ci)));
    }
    out.push_str(" │\n");
    // Header line 2: the unit over the values, "vs base" over the deltas.
    out.push_str(&" ".repeat(name_w));
    for (ci, x) in w.iter().enumerate() {
        let mut cell = center(&t.unit, center_w(x));
        if ci > 0 {
            let _ = write!(cell, "  {}", pad_right("vs base", delta_w(x)));
        }
        let _ = write!(out, " │ {cell}");
    }
    out.push_str(" │\n");
    for (name, groups) in &r.rows {
        let mut line = pad_right(name, name_w);
        for (ci, g) in groups.iter().enumerate() {
            let x = &w[ci];
            let _ = write!(line, "   {}", pad_left(&g.center, x[0]));
            if g.ci.is_empty() {
                line.push_str(&" ".repeat(3 + x[1]));
            } else {
                let _ = write!(line, " ± {}", pad_left(&g.ci, x[1]));
            }
            if x[2] > 0 {
                let _ = write!(line, " {}", pad_right(&g.note, x[2]));
            }
            if ci > 0 {
                let _ = write!(
                    line,
                    "  {} {}",
                    pad_left(&g.delta, x[3]),
                    pad_right(&g.pval, x[4])
                );
                if x[5] > 0 {
                    let _ = write!(line, " {}", pad_right(&g.note2, x[5]));
                }
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    for (i, n) in r.notes.iter().enumerate() {
        let _ = writeln!(out, "{} {}", superscript(i + 1), n);
    }
    out
}

/// Formats a float the way Go's `fmt.Sprint` does (shortest round trip,
/// exponent form below 1e-4 or from 1e21).
pub fn go_float(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let e = format!("{v:e}");
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..21).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        format!("{v}")
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Renders the report as CSV; returns `(csv, warnings)`.
pub fn to_csv(report: &Report) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut warnings: Vec<String> = Vec::new();
    for (k, v) in &report.common {
        let _ = writeln!(out, "{k}: {v}");
    }
    let warn = |ws: &[String], warnings: &mut Vec<String>| {
        for m in ws {
            if !warnings.contains(m) {
                warnings.push(m.clone());
            }
        }
    };
    for (ti, t) in report.tables.iter().enumerate() {
        if ti > 0 {
            out.push('\n');
        }
        for (k, v) in &t.header {
            let _ = writeln!(out, "{}", csv_field(&format!("{k}: {v}")));
        }
        let mut head1 = vec![String::new()];
        let mut head2 = vec![String::new()];
        for (ci, c) in t.cols.iter().enumerate() {
            head1.push(c.clone());
            head1.push(String::new());
            head2.push(t.unit.clone());
            head2.push("CI".into());
            if ci > 0 {
                head1.extend([String::new(), String::new()]);
                head2.extend(["vs base".to_string(), "P".to_string()]);
            }
        }
        let mut lines = vec![head1, head2];
        for (ri, name) in t.rows.iter().enumerate() {
            let mut row = vec![name.clone()];
            for (ci, cell) in t.cells[ri].iter().enumerate() {
                match cell {
                    Some(c) => {
                        warn(&c.summary.warnings, &mut warnings);
                        row.push(go_float(c.summary.center));
                        row.push(c.summary.pct_range());
                        if ci > 0 {
                            match (&c.cmp, &t.cells[ri][0]) {
                                (Some(cmp), Some(base)) => {
                                    warn(&cmp.warnings, &mut warnings);
                                    row.push(format_delta(
                                        cmp,
                                        base.summary.center,
                                        c.summary.center,
                                    ));
                                    row.push(format_cmp(cmp));
                                }
                                _ => row.extend([String::new(), String::new()]),
                            }
                        }
                    }
                    None => {
                        row.extend([String::new(), String::new()]);
                        if ci > 0 {
                            row.extend([String::new(), String::new()]);
                        }
                    }
                }
            }
            lines.push(row);
        }
        let mut row = vec!["geomean".to_string()];
        for ci in 0..t.cols.len() {
            let (summary, ratio, ws) = column_summary(t, ci);
            warn(&ws, &mut warnings);
            row.push(summary.map(go_float).unwrap_or_default());
            row.push(String::new());
            if ci > 0 {
                row.push(match ratio {
                    Some(r) => format!("{:+.2}%", (r - 1.0) * 100.0),
                    None => "?".into(),
                });
                row.push(String::new());
            }
        }
        lines.push(row);
        let width = lines.iter().map(|l| l.len()).max().unwrap_or(0);
        for mut l in lines {
            l.resize(width, String::new());
            let fields: Vec<String> = l.iter().map(|f| csv_field(f)).collect();
            out.push_str(&fields.join(","));
            out.push('\n');
        }
    }
    (out, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_float_matches_go() {
        assert_eq!(go_float(1.5600000000000002e-07), "1.5600000000000002e-07");
        assert_eq!(go_float(0.000106587), "0.000106587");
        assert_eq!(go_float(23.0), "23");
        assert_eq!(go_float(2047.0), "2047");
        assert_eq!(superscript(12), "¹²");
    }
}
