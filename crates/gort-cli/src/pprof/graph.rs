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
use std::collections::HashMap;
use std::rc::Rc;

/// One frame of a stack: function name and whether it was inlined.
///
/// Names are shared: every frame of a function holds the same `Rc<str>`,
/// and `id` numbers distinct names (`0..Stacks::names()`), so a stack of
/// 100,000 frames of one long-named function costs 100,000 small frames,
/// not 100,000 copies of the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub name: Rc<str>,
    pub id: u32,
    pub inline: bool,
}

/// The samples of one sample type, as stacks of frames (leaf first).
///
/// Stacks are not materialised: each location's frames are built once and
/// a sample's stack is the concatenation of its locations' frames, walked
/// on demand. The total number of frames all samples expand to is
/// counted up front and bounded by the profile's size ([`max_frames`]), so
/// a crafted profile cannot make reports run for hours.
pub struct Stacks<'p> {
    samples: &'p [super::proto::Sample],
    idx: usize,
    locs: HashMap<u64, Vec<Frame>>,
    names: usize,
    pub sample_type: String,
    pub sample_unit: String,
}

/// One sample's stack.
#[derive(Clone, Copy)]
pub struct Stack<'a> {
    ids: &'a [u64],
    locs: &'a HashMap<u64, Vec<Frame>>,
}

impl<'a> Stack<'a> {
    /// The frames, leaf first.
    pub fn frames(&self) -> impl DoubleEndedIterator<Item = &'a Frame> + Clone + 'a {
        let locs = self.locs;
        self.ids
            .iter()
            .flat_map(move |id| locs.get(id).map_or(&[][..], |f| &f[..]))
    }

    /// The leaf frame.
    pub fn leaf(&self) -> Option<&'a Frame> {
        self.frames().next()
    }

    pub fn is_empty(&self) -> bool {
        self.frames().next().is_none()
    }
}

impl Stacks<'_> {
    /// `(stack, value)` for every sample.
    pub fn iter(&self) -> impl Iterator<Item = (Stack<'_>, i64)> + '_ {
        self.samples.iter().map(move |s| {
            (
                Stack {
                    ids: &s.location_id,
                    locs: &self.locs,
                },
                s.value.get(self.idx).copied().unwrap_or(0),
            )
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Number of distinct frame names (frame ids are below it).
    pub fn names(&self) -> usize {
        self.names
    }
}

/// Most frames a profile whose protobuf is `encoded` bytes may expand to:
/// four per byte plus four million. Real profiles expand to about one
/// frame per byte of location ids (inlining adds a few).
pub fn max_frames(encoded: usize) -> u64 {
    4 * encoded as u64 + (4 << 20)
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

/// Prepares the stacks of sample type `idx`. Fails when the samples would
/// expand to more than [`max_frames`] frames.
pub fn stacks(p: &Profile, idx: usize) -> Result<Stacks<'_>> {
    let mut names: HashMap<Rc<str>, u32> = HashMap::new();
    let mut name_of = |s: &str| -> (Rc<str>, u32) {
        if let Some((k, &id)) = names.get_key_value(s) {
            return (Rc::clone(k), id);
        }
        let id = names.len() as u32;
        let k = Rc::<str>::from(s);
        names.insert(Rc::clone(&k), id);
        (k, id)
    };
    let funcs: HashMap<u64, &str> = p.function.iter().map(|f| (f.id, p.str(f.name))).collect();
    let mut locs: HashMap<u64, Vec<Frame>> = HashMap::with_capacity(p.location.len());
    for l in &p.location {
        let n = l.line.len();
        let frames = if n == 0 {
            let (name, id) = name_of(&format!("{:016x}", l.address));
            vec![Frame {
                name,
                id,
                inline: false,
            }]
        } else {
            l.line
                .iter()
                .enumerate()
                .map(|(i, line)| {
                    let (name, id) = match funcs.get(&line.function_id) {
                        Some(s) => name_of(s),
                        None => name_of(&format!("func#{}", line.function_id)),
                    };
                    Frame {
                        name,
                        id,
                        inline: i != n - 1,
                    }
                })
                .collect()
        };
        locs.entry(l.id).or_insert(frames);
    }
    let limit = max_frames(prost::Message::encoded_len(p));
    let mut total: u64 = 0;
    for s in &p.sample {
        for id in &s.location_id {
            let n = match locs.get(id) {
                Some(f) => f.len(),
                None => {
                    let (name, fid) = name_of(&format!("loc#{id}"));
                    locs.insert(
                        *id,
                        vec![Frame {
                            name,
                            id: fid,
                            inline: false,
                        }],
                    );
                    1
                }
            };
            total += n as u64;
        }
        if total > limit {
            bail!(
                "malformed profile: its samples expand to more than {limit} stack frames (a crafted profile?)"
            );
        }
    }
    let t = &p.sample_type[idx];
    let names = names.len();
    Ok(Stacks {
        samples: &p.sample,
        idx,
        locs,
        names,
        sample_type: p.str(t.r#type).to_string(),
        sample_unit: p.str(t.unit).to_string(),
    })
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

/// The nodes, each with its frame name id.
fn build(st: &Stacks, keep: Option<&[bool]>) -> Vec<(u32, Node)> {
    const NONE: usize = usize::MAX;
    // Node index per frame name id, in order of first appearance.
    let mut node_of: Vec<usize> = vec![NONE; st.names()];
    let mut names: Vec<(u32, Rc<str>)> = Vec::new();
    let mut flat: Vec<i64> = Vec::new();
    let mut cum: Vec<i64> = Vec::new();
    let mut inl: Vec<(bool, bool)> = Vec::new();
    // Which sample last counted a node's cum (recursion counts once).
    let mut seen_in: Vec<usize> = Vec::new();
    for (si, (stack, v)) in st.iter().enumerate() {
        if v == 0 {
            continue; // pprof ignores samples with no weight for this type.
        }
        let mut parent: Option<usize> = None;
        let mut residual = false;
        for f in stack.frames().rev() {
            if keep.is_some_and(|k| !k[f.id as usize]) {
                residual = true;
                continue;
            }
            let slot = &mut node_of[f.id as usize];
            if *slot == NONE {
                *slot = names.len();
                names.push((f.id, Rc::clone(&f.name)));
                flat.push(0);
                cum.push(0);
                inl.push((false, false));
                seen_in.push(NONE);
            }
            let i = *slot;
            if seen_in[i] != si {
                seen_in[i] = si;
                cum[i] = cum[i].saturating_add(v);
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
            flat[pi] = flat[pi].saturating_add(v);
        }
    }
    names
        .into_iter()
        .enumerate()
        .map(|(i, (id, name))| {
            (
                id,
                Node {
                    name: name.to_string(),
                    flat: flat[i],
                    cum: cum[i],
                    inline_label: match inl[i] {
                        (true, true) => "(partial-inline)",
                        (true, false) => "(inline)",
                        _ => "",
                    },
                },
            )
        })
        .collect()
}

/// Builds the graph, drops nodes under `node_fraction` of the total, and
/// sorts by flat (then name, then cum) as `pprof -top` does.
pub fn graph(st: &Stacks, node_fraction: f64) -> Graph {
    let total: i64 = st
        .iter()
        .fold(0i64, |t, (_, v)| t.saturating_add(v.saturating_abs()));
    let nodes = build(st, None);
    let flat_total: i64 = nodes
        .iter()
        .fold(0i64, |t, (_, n)| t.saturating_add(n.flat));
    let cutoff = (flat_total as f64 * node_fraction) as i64;
    let cutoff = cutoff.saturating_abs();
    let mut dropped = 0;
    let mut nodes = nodes;
    if cutoff > 0 {
        let mut keep = vec![false; st.names()];
        for (id, n) in &nodes {
            keep[*id as usize] = n.cum.saturating_abs() >= cutoff;
        }
        let kept = keep.iter().filter(|k| **k).count();
        if kept != nodes.len() {
            dropped = nodes.len() - kept;
            nodes = build(st, Some(&keep));
        }
    }
    let mut nodes: Vec<Node> = nodes.into_iter().map(|(_, n)| n).collect();
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
