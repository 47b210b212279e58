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

use crate::benchfmt::{self, BenchResult, Config};
use anyhow::{bail, Result};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

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
    /// Index of this table's configuration group (tables of one group are
    /// adjacent).
    pub group: usize,
    /// Configuration lines to print before the table, as benchstat prints
    /// them: every non-common key for the first table (empty when its group
    /// lacks the key), then only the keys whose value changed since the
    /// previous table.
    pub header: Vec<(String, String)>,
    pub unit: String,
    pub cols: Vec<String>,
    pub rows: Vec<String>,
    /// cells[row][col]
    pub cells: Vec<Vec<Option<Cell>>>,
}

/// Result of the analysis.
#[derive(Debug, Default)]
pub struct Report {
    /// Configuration shared by every result.
    pub common: Vec<(String, String)>,
    pub tables: Vec<Table>,
}

/// Reads inputs from paths (`-` is stdin). Returns the inputs and one
/// warning per result line that did not parse.
pub fn load(paths: &[std::ffi::OsString]) -> Result<(Vec<Input>, Vec<String>)> {
    let mut inputs = Vec::new();
    let mut warnings = Vec::new();
    for p in paths {
        let label = p.to_string_lossy().into_owned();
        let text = crate::input::read_text(p)?;
        let parsed = benchfmt::parse_file(&text, &label);
        warnings.extend(parsed.warnings);
        if parsed.results.is_empty() {
            bail!("{label}: no benchmark results (lines like `BenchmarkName-8  1000  123 ns/op`)");
        }
        inputs.push(Input {
            label,
            results: parsed.results,
        });
    }
    Ok((inputs, warnings))
}

/// First-appearance index of strings.
#[derive(Default)]
struct Order<'a> {
    items: Vec<&'a str>,
    index: HashMap<&'a str, usize>,
}

impl<'a> Order<'a> {
    fn add(&mut self, s: &'a str) -> usize {
        *self.index.entry(s).or_insert_with(|| {
            self.items.push(s);
            self.items.len() - 1
        })
    }
}

/// Builds all tables.
///
/// Linear in the input apart from the configuration work, which is linear
/// in the total size of the *distinct* configurations (results that share
/// a configuration share its [`Config`] span, so it is looked at once).
pub fn analyze(inputs: &[Input]) -> Report {
    let all: Vec<&BenchResult> = inputs.iter().flat_map(|i| i.results.iter()).collect();
    let Some(first) = all.first() else {
        return Report::default();
    };

    // Global pair and key ids across files.
    let mut pairs = Pairs::default();
    for r in &all {
        pairs.add_store(&r.config);
    }

    // Distinct configurations, in order of first use.
    let mut span_index: HashMap<(usize, u32, u32), usize> = HashMap::new();
    let mut distinct: Vec<&Config> = Vec::new();
    let mut config_of: Vec<usize> = Vec::with_capacity(all.len());
    for r in &all {
        let i = *span_index.entry(r.config.span()).or_insert_with(|| {
            distinct.push(&r.config);
            distinct.len() - 1
        });
        config_of.push(i);
    }

    // Common pairs: in the first configuration and in every other one.
    let mut common_ids: Vec<u32> = pairs.gids(&first.config).collect();
    let mut stamp: Vec<usize> = vec![usize::MAX; pairs.pairs.len()];
    for (di, c) in distinct.iter().enumerate().skip(1) {
        if common_ids.is_empty() {
            break;
        }
        for g in pairs.gids(c) {
            stamp[g as usize] = di;
        }
        common_ids.retain(|&g| stamp[g as usize] == di);
    }
    let mut is_common = vec![false; pairs.pairs.len()];
    for &g in &common_ids {
        is_common[g as usize] = true;
    }

    // Groups: distinct configurations minus the common pairs, found by a
    // hash of the remaining ids and confirmed by comparing them. Fields:
    // the keys of non-common pairs, in order of first appearance.
    let mut field_pos: Vec<usize> = vec![usize::MAX; pairs.keys.len()];
    let mut fields: Vec<u32> = Vec::new();
    let mut by_hash: HashMap<u64, Vec<usize>> = HashMap::new();
    let mut groups: Vec<&Config> = Vec::new();
    let mut group_of_config: Vec<usize> = Vec::with_capacity(distinct.len());
    for c in &distinct {
        let own = |c| own_ids(&pairs, &is_common, c);
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for g in own(c) {
            g.hash(&mut h);
            let k = pairs.pair_key[g as usize] as usize;
            if field_pos[k] == usize::MAX {
                field_pos[k] = fields.len();
                fields.push(k as u32);
            }
        }
        let bucket = by_hash.entry(h.finish()).or_default();
        let gi = match bucket.iter().find(|&&gi| own(groups[gi]).eq(own(c))) {
            Some(&gi) => gi,
            None => {
                groups.push(c);
                bucket.push(groups.len() - 1);
                groups.len() - 1
            }
        };
        group_of_config.push(gi);
    }

    // One pass over the results: rows and units per group in order of
    // appearance, values per (group, unit, row, column).
    struct GroupData<'a> {
        rows: Order<'a>,
        units: Order<'a>,
        cells: HashMap<(usize, usize, usize), Vec<f64>>,
    }
    let mut data: Vec<GroupData> = (0..groups.len())
        .map(|_| GroupData {
            rows: Order::default(),
            units: Order::default(),
            cells: HashMap::new(),
        })
        .collect();
    let mut tidy: HashMap<&str, (String, f64)> = HashMap::new();
    for r in &all {
        for (_, u) in &r.values {
            tidy.entry(u.as_str())
                .or_insert_with(|| scale::tidy_unit(u));
        }
    }
    let tidy = tidy;
    let mut k = 0;
    for (ci, input) in inputs.iter().enumerate() {
        for r in &input.results {
            let g = group_of_config[config_of[k]];
            k += 1;
            let d = &mut data[g];
            let row = d.rows.add(&r.name);
            for (v, u) in &r.values {
                let (tu, f) = &tidy[u.as_str()];
                let unit = d.units.add(tu);
                d.cells.entry((unit, row, ci)).or_default().push(v * *f);
            }
        }
    }

    let cols: Vec<String> = inputs.iter().map(|i| i.label.clone()).collect();
    let mut tables = Vec::new();
    for (g, mut d) in data.into_iter().enumerate() {
        let rows: Vec<String> = d.rows.items.iter().map(|s| s.to_string()).collect();
        for (ui, unit) in d.units.items.iter().enumerate() {
            let mut cells = vec![vec![None; cols.len()]; rows.len()];
            let mut any = false;
            for (ri, row) in cells.iter_mut().enumerate() {
                for (ci, cell) in row.iter_mut().enumerate() {
                    if let Some(vals) = d.cells.remove(&(ui, ri, ci)) {
                        any = true;
                        *cell = Some(Cell {
                            summary: stats::summarize(&vals),
                            values: vals,
                            cmp: None,
                        });
                    }
                }
                // Compare each later column with the first.
                if let Some(base) = row[0].as_ref().map(|c| c.values.clone()) {
                    for cell in row.iter_mut().skip(1).flatten() {
                        cell.cmp = Some(stats::mann_whitney(&base, &cell.values));
                    }
                }
            }
            if any {
                tables.push(Table {
                    group: g,
                    header: Vec::new(),
                    unit: unit.to_string(),
                    cols: cols.clone(),
                    rows: rows.clone(),
                    cells,
                });
            }
        }
    }
    let common = common_ids
        .iter()
        .map(|&g| {
            let (k, v) = pairs.pairs[g as usize];
            (k.to_string(), v.to_string())
        })
        .collect();
    set_headers(&mut tables, &pairs, &fields, &field_pos, &groups);
    Report { common, tables }
}

/// The global ids of a configuration's non-common pairs.
fn own_ids<'c>(
    pairs: &'c Pairs,
    is_common: &'c [bool],
    c: &'c Config,
) -> impl Iterator<Item = u32> + 'c {
    pairs.gids(c).filter(move |&g| !is_common[g as usize])
}

/// Configuration pairs and keys numbered across all files.
#[derive(Default)]
struct Pairs<'a> {
    ids: HashMap<(&'a str, &'a str), u32>,
    pairs: Vec<(&'a str, &'a str)>,
    /// Key id of each pair.
    pair_key: Vec<u32>,
    key_ids: HashMap<&'a str, u32>,
    keys: Vec<&'a str>,
    /// Per file (store id): global id of each of its pair ids.
    translate: HashMap<usize, Vec<u32>>,
}

impl<'a> Pairs<'a> {
    fn add_store(&mut self, c: &'a Config) {
        if self.translate.contains_key(&c.store_id()) {
            return;
        }
        let mut t = Vec::with_capacity(c.all_pairs().len());
        for (k, v) in c.all_pairs() {
            let key = match self.key_ids.get(k.as_str()) {
                Some(&id) => id,
                None => {
                    self.keys.push(k);
                    self.key_ids.insert(k, (self.keys.len() - 1) as u32);
                    (self.keys.len() - 1) as u32
                }
            };
            let id = match self.ids.get(&(k.as_str(), v.as_str())) {
                Some(&id) => id,
                None => {
                    self.pairs.push((k, v));
                    self.pair_key.push(key);
                    let id = (self.pairs.len() - 1) as u32;
                    self.ids.insert((k, v), id);
                    id
                }
            };
            t.push(id);
        }
        self.translate.insert(c.store_id(), t);
    }

    /// The global pair ids of a configuration, in order.
    fn gids<'c>(&'c self, c: &'c Config) -> impl Iterator<Item = u32> + 'c {
        let t = &self.translate[&c.store_id()];
        c.ids().iter().map(move |&i| t[i as usize])
    }
}

/// Fills in each table's [`Table::header`]: for the first table every
/// field, then the fields that changed since the previous table. Linear in
/// the number of fields for the first table and in the sizes of the two
/// configurations at each change of group (array stamps, no hashing).
fn set_headers(
    tables: &mut [Table],
    pairs: &Pairs,
    fields: &[u32],
    field_pos: &[usize],
    groups: &[&Config],
) {
    let mut pair_stamp = vec![usize::MAX; pairs.pairs.len()];
    let mut key_stamp = vec![usize::MAX; pairs.keys.len()];
    let mut value: Vec<&str> = vec![""; pairs.keys.len()];
    let mut prev: Option<usize> = None;
    for (ti, t) in tables.iter_mut().enumerate() {
        let cur = groups[t.group];
        let mut changed: Vec<(usize, u32, &str)> = Vec::new();
        match prev {
            None => {
                for g in pairs.gids(cur) {
                    value[pairs.pair_key[g as usize] as usize] = pairs.pairs[g as usize].1;
                }
                changed.extend(
                    fields
                        .iter()
                        .enumerate()
                        .map(|(i, &k)| (i, k, value[k as usize])),
                );
            }
            Some(p) if p == t.group => {}
            Some(p) => {
                let before = groups[p];
                for g in pairs.gids(before) {
                    pair_stamp[g as usize] = ti;
                }
                for g in pairs.gids(cur) {
                    let k = pairs.pair_key[g as usize];
                    key_stamp[k as usize] = ti;
                    if pair_stamp[g as usize] != ti {
                        changed.push((field_pos[k as usize], k, pairs.pairs[g as usize].1));
                    }
                }
                for g in pairs.gids(before) {
                    let k = pairs.pair_key[g as usize];
                    if key_stamp[k as usize] != ti {
                        changed.push((field_pos[k as usize], k, ""));
                    }
                }
                changed.retain(|c| c.0 != usize::MAX);
                changed.sort_by_key(|c| c.0);
            }
        }
        t.header = changed
            .into_iter()
            .map(|(_, k, v)| (pairs.keys[k as usize].to_string(), v.to_string()))
            .collect();
        prev = Some(t.group);
    }
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
