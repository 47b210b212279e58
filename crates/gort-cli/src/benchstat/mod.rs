//! `gort benchstat`: summarise and compare Go benchmark runs.
//!
//! The pipeline is the one golang.org/x/perf/cmd/benchstat uses with its
//! defaults: parse each file ([`crate::benchfmt`]), tidy units
//! ([`scale::tidy_unit`]), split results into tables by the configuration
//! that is not shared by every result, then by unit; rows are benchmark
//! names, columns are input files. Each cell is summarised by its median
//! and a 95% confidence interval ([`stats`]); every column after the first
//! is compared to the first with a Mann-Whitney U test. [`table`] renders
//! text (box-drawn, footnoted) or CSV.

pub mod scale;
pub mod stats;
pub mod table;

use crate::benchfmt::{self, BenchResult};
use anyhow::{bail, Result};

/// One input file: its label and its results.
pub struct Input {
    pub label: String,
    pub results: Vec<BenchResult>,
}

/// One summarised cell.
#[derive(Debug, Clone)]
pub struct Cell {
    pub values: Vec<f64>,
    pub summary: stats::Summary,
    /// Comparison with the first column of the row, if any.
    pub cmp: Option<stats::Comparison>,
}

/// One table: a unit within a configuration group.
#[derive(Debug, Clone)]
pub struct Table {
    /// Configuration lines specific to this table's group.
    pub group: Vec<(String, String)>,
    pub unit: String,
    pub cols: Vec<String>,
    pub rows: Vec<String>,
    /// cells[row][col]
    pub cells: Vec<Vec<Option<Cell>>>,
}

/// Result of the analysis.
pub struct Report {
    /// Configuration shared by every result.
    pub common: Vec<(String, String)>,
    pub tables: Vec<Table>,
}

/// Reads inputs from paths (`-` is stdin).
pub fn load(paths: &[String]) -> Result<Vec<Input>> {
    let mut inputs = Vec::new();
    for p in paths {
        let text = crate::input::read_text(p)?;
        let results = benchfmt::parse(&text);
        if results.is_empty() {
            bail!("{p}: no benchmark results (lines like `BenchmarkName-8  1000  123 ns/op`)");
        }
        inputs.push(Input {
            label: p.clone(),
            results,
        });
    }
    Ok(inputs)
}

fn push_unique<T: PartialEq + Clone>(v: &mut Vec<T>, x: &T) -> usize {
    match v.iter().position(|y| y == x) {
        Some(i) => i,
        None => {
            v.push(x.clone());
            v.len() - 1
        }
    }
}

/// Builds all tables.
pub fn analyze(inputs: &[Input]) -> Report {
    // Split configuration into common and per-group keys.
    let all: Vec<&BenchResult> = inputs.iter().flat_map(|i| i.results.iter()).collect();
    let mut common: Vec<(String, String)> = match all.first() {
        Some(r) => r.config.clone(),
        None => Vec::new(),
    };
    common.retain(|kv| all.iter().all(|r| r.config.contains(kv)));
    let group_of = |r: &BenchResult| -> Vec<(String, String)> {
        r.config
            .iter()
            .filter(|kv| !common.contains(kv))
            .cloned()
            .collect()
    };

    let mut groups: Vec<Vec<(String, String)>> = Vec::new();
    for r in &all {
        push_unique(&mut groups, &group_of(r));
    }
    let cols: Vec<String> = inputs.iter().map(|i| i.label.clone()).collect();
    let mut tables = Vec::new();
    for g in &groups {
        let mut units: Vec<String> = Vec::new();
        let mut rows: Vec<String> = Vec::new();
        for r in all.iter().filter(|r| &group_of(r) == g) {
            push_unique(&mut rows, &r.name);
            for (_, u) in &r.values {
                push_unique(&mut units, &scale::tidy_unit(u).0);
            }
        }
        for unit in &units {
            let mut cells = vec![vec![None; cols.len()]; rows.len()];
            let mut any = false;
            for (ri, name) in rows.iter().enumerate() {
                for (ci, input) in inputs.iter().enumerate() {
                    let mut vals = Vec::new();
                    for r in input
                        .results
                        .iter()
                        .filter(|r| &r.name == name && &group_of(r) == g)
                    {
                        for (v, u) in &r.values {
                            let (tu, f) = scale::tidy_unit(u);
                            if &tu == unit {
                                vals.push(v * f);
                            }
                        }
                    }
                    if !vals.is_empty() {
                        any = true;
                        cells[ri][ci] = Some(Cell {
                            summary: stats::summarize(&vals),
                            values: vals,
                            cmp: None,
                        });
                    }
                }
                // Compare each later column with the first.
                if let Some(base) = cells[ri][0].clone() {
                    for cell in cells[ri].iter_mut().skip(1).flatten() {
                        cell.cmp = Some(stats::mann_whitney(&base.values, &cell.values));
                    }
                }
            }
            if any {
                tables.push(Table {
                    group: g.clone(),
                    unit: unit.clone(),
                    cols: cols.clone(),
                    rows: rows.clone(),
                    cells,
                });
            }
        }
    }
    Report { common, tables }
}

/// Geomean summary of one column: `(summary, ratio vs base, warnings)`.
pub fn column_summary(t: &Table, col: usize) -> (Option<f64>, Option<f64>, Vec<String>) {
    let mut warnings = Vec::new();
    let mut centers = Vec::new();
    let mut ratios = Vec::new();
    let mut bad_ratio = false;
    let n_base = t.cells.iter().filter(|r| r[0].is_some()).count();
    for row in &t.cells {
        let Some(cell) = &row[col] else { continue };
        centers.push(cell.summary.center);
        if col > 0 {
            if let Some(base) = &row[0] {
                let (a, b) = (cell.summary.center, base.summary.center);
                if a == b {
                    ratios.push(1.0);
                } else if b == 0.0 {
                    bad_ratio = true;
                    ratios.push(0.0);
                } else {
                    ratios.push(a / b);
                }
            }
        }
    }
    if col > 0 && n_base != ratios.len() {
        warnings.push("benchmark set differs from baseline; geomeans may not be comparable".into());
    }
    let gm = stats::geomean(&centers);
    let summary = if gm.is_nan() {
        warnings.push("summaries must be >0 to compute geomean".into());
        None
    } else {
        Some(gm)
    };
    let mut ratio = None;
    if col > 0 && !bad_ratio {
        let gr = stats::geomean(&ratios);
        if gr.is_nan() {
            warnings.push("ratios must be >0 to compute geomean".into());
        } else {
            ratio = Some(gr);
        }
    }
    (summary, ratio, warnings)
}

/// The delta text for a compared cell: `~`, `+12.34%`, `0.00%` or `?`.
pub fn format_delta(cmp: &stats::Comparison, old: f64, new: f64) -> String {
    if cmp.p > cmp.alpha {
        return "~".into();
    }
    if old == new {
        return "0.00%".into();
    }
    if old == 0.0 {
        return "?".into();
    }
    format!("{:+.2}%", (new / old - 1.0) * 100.0)
}

/// `p=0.PPP n=N` (or `n=N1+N2`).
pub fn format_cmp(c: &stats::Comparison) -> String {
    let mut s = String::new();
    if c.p != 0.0 {
        s = format!("p={:.3} ", c.p);
    }
    if c.n1 == c.n2 {
        format!("{s}n={}", c.n1)
    } else {
        format!("{s}n={}+{}", c.n1, c.n2)
    }
}
