//! `gort pprof flame`: an SVG flame graph via inferno.
//!
//! Stacks are folded root-first (`a;b;c value`), one line per distinct
//! stack, and handed to inferno's renderer. Inlined frames are kept as
//! their own frames, as pprof's flame view shows them. Samples with a zero
//! or negative value are left out (a flame graph has no negative width).

use super::graph::{sample_index, stacks};
use super::proto::Profile;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;

/// Folded stack lines for a sample type.
pub fn folded(p: &Profile, choice: Option<&str>) -> Result<(Vec<String>, String)> {
    let idx = sample_index(p, choice)?;
    let st = stacks(p, idx);
    let mut acc: BTreeMap<String, i64> = BTreeMap::new();
    for (frames, v) in &st.stacks {
        if *v <= 0 || frames.is_empty() {
            continue;
        }
        let key: Vec<String> = frames
            .iter()
            .rev()
            .map(|f| f.name.replace([';', '\n'], "_"))
            .collect();
        let e = acc.entry(key.join(";")).or_default();
        *e = e.saturating_add(*v);
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
