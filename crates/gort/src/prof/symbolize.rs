//! After-the-fact symbolization: program counters to functions, files and lines (through the
//! `backtrace` crate, which reads the binary's DWARF), and the executable mappings of the
//! process (pprof's Mapping table, from `/proc/self/maps`).
//!
//! Symbolization runs when a profile is written, never while samples are taken: it allocates,
//! takes locks and reads files.

use std::collections::HashMap;

use super::profile::{Frame, Line};

/// Symbolizes stacks, caching each address.
#[derive(Default)]
pub(crate) struct Symbolizer {
    cache: HashMap<u64, Frame>,
}

impl Symbolizer {
    pub(crate) fn new() -> Symbolizer {
        Symbolizer::default()
    }

    /// Frames for `pcs` (innermost first). `pcs[0]` is an exact PC when `leaf_exact` (CPU
    /// samples: the interrupted instruction); every other entry is a return address, looked
    /// up at `pc - 1` so that it names the call instruction's line.
    /// Unresolvable frames at the root end (the word a coroutine's entry trampoline leaves
    /// where a return address would be) are dropped.
    pub(crate) fn stack(&mut self, pcs: &[usize], leaf_exact: bool) -> Vec<Frame> {
        let mut frames: Vec<Frame> = pcs
            .iter()
            .enumerate()
            .map(|(i, &pc)| {
                let addr = if i == 0 && leaf_exact {
                    pc as u64
                } else {
                    (pc as u64).saturating_sub(1)
                };
                self.frame(addr)
            })
            .collect();
        while frames.len() > 1 && frames.last().is_some_and(|f| f.lines.is_empty()) {
            frames.pop();
        }
        frames
    }

    fn frame(&mut self, addr: u64) -> Frame {
        self.cache
            .entry(addr)
            .or_insert_with(|| {
                let mut lines = Vec::new();
                backtrace::resolve(addr as usize as *mut std::ffi::c_void, |sym| {
                    let function = match sym.name() {
                        Some(n) => format!("{n:#}"),
                        None => format!("{addr:#x}"),
                    };
                    let file = sym
                        .filename()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default();
                    lines.push(Line {
                        function,
                        file,
                        line: sym.lineno().unwrap_or(0),
                    });
                });
                Frame { addr, lines }
            })
            .clone()
    }
}

/// Drops the leading frames (leaf side) up to and including the last one for which `is_internal`
/// holds among the first `window` frames: the profiler's and allocator's own frames.
pub(crate) fn trim_leaf(
    stack: &mut Vec<Frame>,
    window: usize,
    is_internal: impl Fn(&Frame) -> bool,
) {
    if let Some(last) = stack.iter().take(window).rposition(is_internal) {
        stack.drain(..=last);
    }
}

/// One executable mapping of the process.
pub(crate) struct Mapping {
    pub(crate) start: u64,
    pub(crate) limit: u64,
    pub(crate) offset: u64,
    pub(crate) file: String,
    pub(crate) build_id: String,
}

/// The executable file mappings, main executable first.
#[derive(Default)]
pub(crate) struct Mappings {
    pub(crate) list: Vec<Mapping>,
}

impl Mappings {
    pub(crate) fn read() -> Mappings {
        let text = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
        let exe = std::fs::read_link("/proc/self/exe")
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let mut list = Vec::new();
        for line in text.lines() {
            let mut it = line.split_whitespace();
            let (Some(range), Some(perms), Some(offset)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            let path = it.nth(2).unwrap_or("");
            if !perms.contains('x') || !path.starts_with('/') {
                continue;
            }
            let Some((a, b)) = range.split_once('-') else {
                continue;
            };
            let (Ok(start), Ok(limit), Ok(offset)) = (
                u64::from_str_radix(a, 16),
                u64::from_str_radix(b, 16),
                u64::from_str_radix(offset, 16),
            ) else {
                continue;
            };
            list.push(Mapping {
                start,
                limit,
                offset,
                file: path.to_string(),
                build_id: String::new(),
            });
        }
        // pprof treats the first mapping as the main binary.
        if let Some(i) = list.iter().position(|m| m.file == exe) {
            let m = list.remove(i);
            list.insert(0, m);
        }
        Mappings { list }
    }

    /// The 1-based id of the mapping holding `addr`, 0 if none.
    pub(crate) fn id_of(&self, addr: u64) -> u64 {
        self.list
            .iter()
            .position(|m| m.start <= addr && addr < m.limit)
            .map_or(0, |i| i as u64 + 1)
    }
}
