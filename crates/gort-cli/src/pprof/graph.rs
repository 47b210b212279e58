//! Samples to per-function flat and cumulative values.
//!
//! As in pprof at function granularity: each location expands to its
//! lines (inlined callees first, the physical function last); a sample's
//! value counts as *flat* for its leaf function and as *cum* once for every
//! distinct function on its stack (recursion is not double counted). A
//! function is marked `(inline)` when every call edge into it is an
//! inlined one, `(partial-inline)` when only some are. Nodes whose cum is
//! below `total * node_fraction` are dropped, and the graph is rebuilt
//! without them (so their flat goes nowhere, as in pprof).

use super::proto::Profile;
use anyhow::{bail, Result};
use std::collections::{HashMap, HashSet};

/// One frame of a stack: function name and whether it was inlined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub name: String,
    pub inline: bool,
}

/// Stacks (leaf first) with the chosen sample value.
pub struct Stacks {
    pub stacks: Vec<(Vec<Frame>, i64)>,
    pub sample_type: String,
    pub sample_unit: String,
}

/// Picks a sample type: an index, a type name (`cpu`, `alloc_space`,
/// with or without `sample_index=`), or the default (the profile's
/// default_sample_type, else the last type).
pub fn sample_index(p: &Profile, choice: Option<&str>) -> Result<usize> {
    let names: Vec<&str> = p.sample_type.iter().map(|t| p.str(t.r#type)).collect();
    let Some(c) = choice else {
        let def = p.str(p.default_sample_type);
        if !def.is_empty() {
            if let Some(i) = names.iter().position(|n| *n == def) {
                return Ok(i);
            }
        }
        return Ok(names.len() - 1);
    };
    let c = c.strip_prefix("sample_index=").unwrap_or(c);
    if let Ok(i) = c.parse::<usize>() {
        if i < names.len() {
            return Ok(i);
        }
        bail!(
            "sample index {i} out of range: the profile has {} sample types ({})",
            names.len(),
            names.join(", ")
        );
    }
    let c_trim = c.strip_prefix("mean_").unwrap_or(c);
    if let Some(i) = names.iter().position(|n| *n == c_trim) {
        return Ok(i);
    }
    // pprof accepts a unique prefix-free match too ("samples" vs "sample").
    if let Some(i) = names
        .iter()
        .position(|n| n.trim_end_matches('s') == c_trim.trim_end_matches('s'))
    {
        return Ok(i);
    }
    bail!(
        "unknown sample type {c:?}; this profile has: {}",
        names.join(", ")
    )
}

/// Expands every sample into a stack of frames for sample type `idx`.
pub fn stacks(p: &Profile, idx: usize) -> Stacks {
    let funcs: HashMap<u64, &str> = p.function.iter().map(|f| (f.id, p.str(f.name))).collect();
    let locs: HashMap<u64, Vec<Frame>> = p
        .location
        .iter()
        .map(|l| {
            let n = l.line.len();
            let frames = if n == 0 {
                vec![Frame {
                    name: format!("{:016x}", l.address),
                    inline: false,
                }]
            } else {
                l.line
                    .iter()
                    .enumerate()
                    .map(|(i, line)| Frame {
                        name: funcs.get(&line.function_id).map_or_else(
                            || format!("func#{}", line.function_id),
                            |s| s.to_string(),
                        ),
                        inline: i != n - 1,
                    })
                    .collect()
            };
            (l.id, frames)
        })
        .collect();
    let stacks = p
        .sample
        .iter()
        .map(|s| {
            let mut frames = Vec::new();
            for id in &s.location_id {
                match locs.get(id) {
                    Some(f) => frames.extend(f.iter().cloned()),
                    None => frames.push(Frame {
                        name: format!("loc#{id}"),
                        inline: false,
                    }),
                }
            }
            (frames, s.value.get(idx).copied().unwrap_or(0))
        })
        .collect();
    let t = &p.sample_type[idx];
    Stacks {
        stacks,
        sample_type: p.str(t.r#type).to_string(),
        sample_unit: p.str(t.unit).to_string(),
    }
}

/// One function's totals.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    pub flat: i64,
    pub cum: i64,
    /// "", "(inline)" or "(partial-inline)".
    pub inline_label: &'static str,
}

/// The function graph, reduced to what text reports need.
pub struct Graph {
    pub nodes: Vec<Node>,
    /// Sum of |value| over all samples (pprof's report total).
    pub total: i64,
    /// Nodes dropped by the cut-off.
    pub dropped: usize,
    /// The cut-off used (cum below it is dropped).
    pub cutoff: i64,
}

fn build(st: &Stacks, keep: Option<&HashSet<String>>) -> Vec<Node> {
    let mut order: Vec<String> = Vec::new();
    let mut idx: HashMap<String, usize> = HashMap::new();
    let mut flat: Vec<i64> = Vec::new();
    let mut cum: Vec<i64> = Vec::new();
    let mut inl: Vec<(bool, bool)> = Vec::new();
    for (frames, v) in &st.stacks {
        if *v == 0 {
            continue; // pprof ignores samples with no weight for this type.
        }
        let mut seen: HashSet<usize> = HashSet::new();
        let mut parent: Option<usize> = None;
        let mut residual = false;
        for f in frames.iter().rev() {
            if keep.is_some_and(|k| !k.contains(&f.name)) {
                residual = true;
                continue;
            }
            let i = *idx.entry(f.name.clone()).or_insert_with(|| {
                order.push(f.name.clone());
                flat.push(0);
                cum.push(0);
                inl.push((false, false));
                order.len() - 1
            });
            if seen.insert(i) {
                cum[i] = cum[i].saturating_add(*v);
            }
            if let Some(pi) = parent {
                if pi != i {
                    if f.inline {
                        inl[i].0 = true;
                    } else {
                        inl[i].1 = true;
                    }
                }
            }
            parent = Some(i);
            residual = false;
        }
        if let (Some(pi), false) = (parent, residual) {
            flat[pi] = flat[pi].saturating_add(*v);
        }
    }
    order
        .into_iter()
        .enumerate()
        .map(|(i, name)| Node {
            name,
            flat: flat[i],
            cum: cum[i],
            inline_label: match inl[i] {
                (true, true) => "(partial-inline)",
                (true, false) => "(inline)",
                _ => "",
            },
        })
        .collect()
}

/// Builds the graph, drops nodes under `node_fraction` of the total, and
/// sorts by flat (then name, then cum) as `pprof -top` does.
pub fn graph(st: &Stacks, node_fraction: f64) -> Graph {
    let total: i64 = st
        .stacks
        .iter()
        .fold(0i64, |t, (_, v)| t.saturating_add(v.saturating_abs()));
    let nodes = build(st, None);
    let flat_total: i64 = nodes.iter().fold(0i64, |t, n| t.saturating_add(n.flat));
    let cutoff = (flat_total as f64 * node_fraction) as i64;
    let cutoff = cutoff.saturating_abs();
    let mut nodes = nodes;
    let mut dropped = 0;
    if cutoff > 0 {
        let keep: HashSet<String> = nodes
            .iter()
            .filter(|n| n.cum.saturating_abs() >= cutoff)
            .map(|n| n.name.clone())
            .collect();
        if keep.len() != nodes.len() {
            dropped = nodes.len() - keep.len();
            nodes = build(st, Some(&keep));
        }
    }
    sort_flat(&mut nodes);
    Graph {
        nodes,
        total,
        dropped,
        cutoff,
    }
}

/// pprof's flat order: |flat| desc, name asc, |cum| desc.
pub fn sort_flat(nodes: &mut [Node]) {
    nodes.sort_by(|a, b| {
        b.flat
            .saturating_abs()
            .cmp(&a.flat.saturating_abs())
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| b.cum.saturating_abs().cmp(&a.cum.saturating_abs()))
    });
}
