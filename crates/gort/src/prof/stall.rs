//! The stall profile (gort's own): the stall episodes sysmon reported
//! (`rt/sched/stall.rs`: a goroutine kept its P's thread past `GODEBUG=stalltrace` while
//! other goroutines waited for that P), counted per (kind, culprit location, culprit's
//! creation site), with the total time stalled.
//!
//! A sample's stack, leaf first: `gort.stall(<kind>)` (`cpu`, `futex wait`, `syscall`,
//! `other`), the culprit's frame (the code address the report named, with its inlined
//! functions; absent when no frame of the program's own code was found), and `gort.go` at
//! the culprit goroutine's creation site. Values: `stalls` (count) and `stalled`
//! (nanoseconds: closed episodes' whole length, open ones' up to now). The core records;
//! this module only reads ([`crate::rt::sched::stall::entries`]).

use std::io::{self, Write};

use super::profile::{Frame, LabelValue, Line, Profile, Sample};
use super::symbolize::Symbolizer;
use crate::rt::sched::stall;

fn named(function: String, file: &str, line: u32) -> Frame {
    Frame {
        addr: 0,
        lines: vec![Line {
            function,
            file: file.to_string(),
            line,
        }],
    }
}

/// Builds the stall profile from every episode reported in the process so far.
pub(crate) fn build() -> Profile {
    let mut sym = Symbolizer::new();
    let mut samples: Vec<Sample> = stall::entries()
        .into_iter()
        .map(|e| {
            let mut stack = vec![named(format!("gort.stall({})", e.kind.name()), "", 0)];
            if e.addr != 0 {
                // The address the report looked up (already a call instruction's): exact.
                stack.extend(sym.stack(&[e.addr], true));
            }
            if let Some(c) = e.created_at {
                stack.push(named("gort.go".into(), c.file(), c.line()));
            }
            Sample {
                stack,
                values: vec![e.count as i64, e.total_ns as i64],
                labels: vec![("kind".into(), LabelValue::Str(e.kind.name().into()))],
            }
        })
        .collect();
    samples.sort_by_key(|s| std::cmp::Reverse(s.values[1]));
    let t = |a: &str, b: &str| (a.to_string(), b.to_string());
    let total: i64 = samples.iter().map(|s| s.values[0]).sum();
    Profile {
        sample_types: vec![t("stalls", "count"), t("stalled", "nanoseconds")],
        period_type: t("stalls", "count"),
        period: 1,
        time_nanos: super::now_unix_nanos(),
        samples,
        comments: vec![format!("stall profile: total {total}")],
        ..Profile::default()
    }
}

/// `debug=1`: `stall profile: total N`, then per group (longest first) its count, its
/// stalled time and the culprit's address, and its frames as `#\tfunction\tfile:line`.
pub(crate) fn write_text(p: &Profile, mut w: impl Write) -> io::Result<()> {
    let total = p.total("stalls");
    let ns = p.total("stalled");
    writeln!(
        w,
        "stall profile: total {total} ({}.{:03} s stalled)",
        ns / 1_000_000_000,
        ns % 1_000_000_000 / 1_000_000
    )?;
    for s in &p.samples {
        let addrs: Vec<String> = s
            .stack
            .iter()
            .filter(|f| f.addr != 0)
            .map(|f| format!("{:#x}", f.addr))
            .collect();
        writeln!(w, "{} {} @ {}", s.values[0], s.values[1], addrs.join(" "))?;
        for f in &s.stack {
            for l in &f.lines {
                if l.file.is_empty() {
                    writeln!(w, "#\t{}", l.function)?;
                } else {
                    writeln!(w, "#\t{}\t{}:{}", l.function, l.file, l.line)?;
                }
            }
        }
        writeln!(w)?;
    }
    Ok(())
}
