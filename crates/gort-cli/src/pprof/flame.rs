//! `gort pprof flame`: an SVG flame graph via inferno.
//!
//! Stacks are folded root-first (`a;b;c value`), one line per distinct
//! stack, and handed to inferno's renderer. Inlined frames are kept as
//! their own frames, as pprof's flame view shows them. Samples with a zero
//! or negative value are left out (a flame graph has no negative width).

use super::graph::{sample_index, stacks};
use super::proto::Profile;
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, HashMap};

/// Most bytes of folded stack text a profile whose protobuf is `encoded`
/// bytes may produce: eight per byte plus 16 MiB. Each distinct stack is
/// one line naming every frame, so a crafted profile (one deep stack of a
/// function with a very long name) could otherwise ask for gigabytes.
pub fn max_folded_bytes(encoded: usize) -> u64 {
    8 * encoded as u64 + (16 << 20)
}

/// Folded stack lines for a sample type.
pub fn folded(p: &Profile, choice: Option<&str>) -> Result<(Vec<String>, String)> {
    let idx = sample_index(p, choice)?;
    let st = stacks(p, idx)?;
    // Aggregate by frame ids first (cheap keys), then size the text.
    let mut by_ids: HashMap<Vec<u32>, (i64, usize)> = HashMap::new();
    for (stack, v) in st.iter() {
        if v <= 0 || stack.is_empty() {
            continue;
        }
        let key: Vec<u32> = stack.frames().rev().map(|f| f.id).collect();
        let e = by_ids.entry(key).or_insert((0, 0));
        e.0 = e.0.saturating_add(v);
        if e.1 == 0 {
            e.1 = stack.frames().map(|f| f.name.len() + 1).sum();
        }
    }
    let text: u64 = by_ids.values().map(|(_, n)| *n as u64).sum();
    let limit = max_folded_bytes(prost::Message::encoded_len(p));
    if text > limit {
        bail!(
            "malformed profile: its stacks fold to {} MiB of text, more than the {} MiB a profile this size may (a crafted profile?)",
            text >> 20,
            limit >> 20
        );
    }
    let mut name_of: Vec<Option<String>> = vec![None; st.names()];
    for (stack, _) in st.iter() {
        for f in stack.frames() {
            let slot = &mut name_of[f.id as usize];
            if slot.is_none() {
                *slot = Some(f.name.replace([';', '\n'], "_"));
            }
        }
    }
    let mut acc: BTreeMap<String, i64> = BTreeMap::new();
    for (ids, (v, n)) in by_ids {
        let mut line = String::with_capacity(n);
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                line.push(';');
            }
            line.push_str(name_of[*id as usize].as_deref().unwrap_or(""));
        }
        let e = acc.entry(line).or_default();
        *e = e.saturating_add(v);
    }
    let lines = acc.into_iter().map(|(k, v)| format!("{k} {v}")).collect();
    Ok((lines, format!("{} ({})", st.sample_type, st.sample_unit)))
}

/// Renders the SVG.
pub fn svg(p: &Profile, choice: Option<&str>, title: &str) -> Result<Vec<u8>> {
    let (lines, count_name) = folded(p, choice)?;
    if lines.is_empty() {
        bail!("no samples with a positive value for this sample type");
    }
    let mut opts = inferno::flamegraph::Options::default();
    let base = title.rsplit('/').next().unwrap_or(title);
    opts.title = format!("{base}: {count_name}");
    opts.count_name = count_name;
    let mut out = Vec::new();
    inferno::flamegraph::from_lines(&mut opts, lines.iter().map(|s| s.as_str()), &mut out)
        .context("rendering the flame graph")?;
    Ok(out)
}
