//! `gort pprof diff A B`: what changed per function, B minus A.
//!
//! Both profiles are reduced to per-function flat and cum (no cut-off,
//! so nothing disappears), matched by function name, and sorted by the
//! absolute change in flat, then in cum. Values use one unit for the
//! table, picked as pprof does. Percentages are of A's total, which is
//! how `pprof -diff_base` reports them.

use super::graph::{graph, sample_index, stacks, Node};
use super::proto::Profile;
use super::units::{label, percentage, select_output_unit};
use anyhow::{bail, Result};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One row of the diff.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub name: String,
    pub flat_a: i64,
    pub flat_b: i64,
    pub cum_a: i64,
    pub cum_b: i64,
}

impl Row {
    pub fn dflat(&self) -> i64 {
        self.flat_b.saturating_sub(self.flat_a)
    }
    pub fn dcum(&self) -> i64 {
        self.cum_b.saturating_sub(self.cum_a)
    }
}

/// Computes the rows and the totals of A and B.
pub fn rows(
    a: &Profile,
    b: &Profile,
    choice: Option<&str>,
) -> Result<(Vec<Row>, i64, i64, String)> {
    let ia = sample_index(a, choice)?;
    let ib = sample_index(b, choice)?;
    let sa = stacks(a, ia)?;
    let sb = stacks(b, ib)?;
    if sa.sample_type != sb.sample_type {
        bail!(
            "sample types differ: {} in A, {} in B (choose one with --sample-index)",
            sa.sample_type,
            sb.sample_type
        );
    }
    let ga = graph(&sa, 0.0);
    let gb = graph(&sb, 0.0);
    let mut m: BTreeMap<String, Row> = BTreeMap::new();
    let mut put = |nodes: &[Node], is_b: bool| {
        for n in nodes {
            let r = m.entry(n.name.clone()).or_insert_with(|| Row {
                name: n.name.clone(),
                flat_a: 0,
                flat_b: 0,
                cum_a: 0,
                cum_b: 0,
            });
            if is_b {
                r.flat_b = r.flat_b.saturating_add(n.flat);
                r.cum_b = r.cum_b.saturating_add(n.cum);
            } else {
                r.flat_a = r.flat_a.saturating_add(n.flat);
                r.cum_a = r.cum_a.saturating_add(n.cum);
            }
        }
    };
    put(&ga.nodes, false);
    put(&gb.nodes, true);
    let mut rows: Vec<Row> = m.into_values().collect();
    rows.sort_by(|x, y| {
        y.dflat()
            .saturating_abs()
            .cmp(&x.dflat().saturating_abs())
            .then_with(|| y.dcum().saturating_abs().cmp(&x.dcum().saturating_abs()))
            .then_with(|| x.name.cmp(&y.name))
    });
    Ok((rows, ga.total, gb.total, sa.sample_unit))
}

/// Renders the diff table.
pub fn render(a: &Profile, b: &Profile, choice: Option<&str>, nodecount: usize) -> Result<String> {
    let (rows, ta, tb, unit_in) = rows(a, b, choice)?;
    let min = rows
        .iter()
        .map(|r| r.dflat().saturating_abs())
        .filter(|v| *v > 0)
        .min()
        .unwrap_or(0);
    let unit = select_output_unit(min, ta.max(tb), &unit_in);
    let f = |v: i64| {
        let s = label(v, &unit_in, &unit);
        if v > 0 {
            format!("+{s}")
        } else {
            s
        }
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Total: A {}, B {} ({})",
        label(ta, &unit_in, &unit),
        label(tb, &unit_in, &unit),
        f(tb.saturating_sub(ta))
    );
    let changed: Vec<&Row> = rows
        .iter()
        .filter(|r| r.dflat() != 0 || r.dcum() != 0)
        .collect();
    let _ = writeln!(
        out,
        "Showing {} of {} changed functions, sorted by |flat change|; % of A's total",
        changed.len().min(nodecount),
        changed.len()
    );
    let _ = writeln!(
        out,
        "{:>11} {:>6} {:>11} {:>6}  function (flat A -> B)",
        "Δflat", "Δflat%", "Δcum", "Δcum%"
    );
    for r in changed.iter().take(nodecount) {
        let _ = writeln!(
            out,
            "{:>11} {} {:>11} {}  {} ({} -> {})",
            f(r.dflat()),
            signed_pct(r.dflat(), ta),
            f(r.dcum()),
            signed_pct(r.dcum(), ta),
            r.name,
            label(r.flat_a, &unit_in, &unit),
            label(r.flat_b, &unit_in, &unit),
        );
    }
    Ok(out)
}

fn signed_pct(v: i64, total: i64) -> String {
    let p = percentage(v, total);
    let p = p.trim();
    let s = if v < 0 {
        format!("-{p}")
    } else if v > 0 {
        format!("+{p}")
    } else {
        p.to_string()
    };
    format!("{s:>7}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pprof::proto::synthetic;

    #[test]
    fn diff_sorts_by_absolute_flat_change() {
        let a = synthetic(
            "cpu",
            "nanoseconds",
            &[(&["f", "main"], 100), (&["g", "main"], 50)],
        );
        let b = synthetic(
            "cpu",
            "nanoseconds",
            &[
                (&["f", "main"], 40),
                (&["g", "main"], 70),
                (&["h", "main"], 5),
            ],
        );
        let (rows, ta, tb, _) = rows(&a, &b, None).expect("rows");
        assert_eq!((ta, tb), (150, 115));
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["f", "g", "h", "main"]);
        assert_eq!(rows[0].dflat(), -60);
        assert_eq!(rows[3].dcum(), -35);
        let text = render(&a, &b, None, 10).expect("render");
        assert!(text.contains("f (100ns -> 40ns)"), "{text}");
    }
}
