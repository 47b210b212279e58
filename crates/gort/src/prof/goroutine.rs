//! The goroutine profile: live goroutines counted per (park site, creation site).
//!
//! gort cannot walk a parked goroutine's frames (see `debug/mod.rs`), so a goroutine's
//! "stack" here is what the goroutine dump shows: where it parked (the `#[track_caller]`
//! location of the blocking call, named `gort.park(<reason>)`) and where it was created
//! (`gort.go`). Goroutines that have never parked (running, runnable or not yet started) are
//! not registered anywhere cheap to read and are counted in one `gort.running` sample.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::{Acquire, Relaxed};

use super::profile::{Frame, Line, Profile, Sample};
use crate::rt::sched::g::{G, PARKED};
use crate::rt::sched::runtime::Shared;

/// `(function, file, line)`: a frame as a grouping key.
type Site = (String, String, u32);

fn site(function: String, loc: &std::panic::Location<'_>) -> Frame {
    Frame {
        addr: 0,
        lines: vec![Line {
            function,
            file: loc.file().to_string(),
            line: loc.line(),
        }],
    }
}

fn stack_of(g: &G) -> Vec<Frame> {
    let mut stack = Vec::with_capacity(2);
    let parked = g.parked_at.load(Relaxed);
    if !parked.is_null() && g.state.load(Acquire) & !crate::rt::sched::gstate::FLAGS == PARKED {
        // SAFETY: parked_at only ever holds `&'static Location` pointers (debug/dump.rs).
        let loc = unsafe { &*parked };
        stack.push(site(format!("gort.park({})", g.reason().as_str()), loc));
    } else {
        stack.push(Frame {
            addr: 0,
            lines: vec![Line {
                function: "gort.running".into(),
                file: String::new(),
                line: 0,
            }],
        });
    }
    stack.push(site("gort.go".into(), g.created_at));
    stack
}

fn shared_with<T>(f: impl FnOnce(&Shared) -> T) -> T {
    match crate::rt::sched::park::ctx() {
        Some(c) => f(c.shared()),
        None => f(&crate::rt::sched::runtime::default_runtime().shared),
    }
}

/// Builds the goroutine profile of the current runtime (the process-wide one outside
/// goroutines).
pub(crate) fn build() -> Profile {
    build_named("goroutine")
}

/// Builds the `goroutineleak` profile (Go 1.26's): the goroutine profile's samples, of the
/// leaked goroutines only (parked on a channel whose other side has no handle left; see
/// `rt/sched/leak.rs`).
pub(crate) fn build_leak() -> Profile {
    build_named("goroutineleak")
}

fn build_named(name: &str) -> Profile {
    let only_leaked = name == "goroutineleak";
    let mut groups: BTreeMap<Vec<Site>, (Vec<Frame>, i64)> = BTreeMap::new();
    let total = shared_with(|shared| {
        let gs = shared.all_gs();
        let mut leaked = 0;
        for g in gs.iter() {
            if only_leaked {
                if !crate::rt::sched::leak::is_leaked(g) {
                    continue;
                }
                leaked += 1;
            }
            let stack = stack_of(g);
            let key = stack
                .iter()
                .map(|f| {
                    (
                        f.function().to_string(),
                        f.lines[0].file.clone(),
                        f.lines[0].line,
                    )
                })
                .collect();
            groups.entry(key).or_insert((stack, 0)).1 += 1;
        }
        if only_leaked {
            return leaked;
        }
        let never_parked = shared.ngoroutines().saturating_sub(gs.len());
        if never_parked > 0 {
            let f = Frame {
                addr: 0,
                lines: vec![Line {
                    function: "gort.running".into(),
                    file: String::new(),
                    line: 0,
                }],
            };
            let key = vec![("gort.running".into(), String::new(), 0)];
            groups.entry(key).or_insert((vec![f], 0)).1 += never_parked as i64;
        }
        shared.ngoroutines()
    });
    let t = |a: &str, b: &str| (a.to_string(), b.to_string());
    Profile {
        sample_types: vec![t(name, "count")],
        period_type: t(name, "count"),
        period: 1,
        time_nanos: super::now_unix_nanos(),
        samples: groups
            .into_values()
            .filter(|(_, n)| *n > 0)
            .map(|(stack, n)| Sample {
                stack,
                values: vec![n],
                labels: Vec::new(),
            })
            .collect(),
        comments: vec![format!("{name} profile: total {total}")],
        ..Profile::default()
    }
}

/// Go's `debug=1` goroutine text: `goroutine profile: total N`, then per group its count and
/// its frames.
pub(crate) fn write_text(w: impl std::io::Write) -> std::io::Result<()> {
    write_text_named(w, "goroutine")
}

/// The `goroutineleak` profile's `debug=1` text (`goroutineleak profile: total N`, ...).
pub(crate) fn write_leak_text(w: impl std::io::Write) -> std::io::Result<()> {
    write_text_named(w, "goroutineleak")
}

fn write_text_named(mut w: impl std::io::Write, name: &str) -> std::io::Result<()> {
    let p = build_named(name);
    let total: i64 = p.total(name);
    writeln!(w, "{name} profile: total {total}")?;
    let mut samples = p.samples;
    samples.sort_by_key(|s| std::cmp::Reverse(s.values[0]));
    for s in samples {
        writeln!(w, "{} @", s.values[0])?;
        for f in &s.stack {
            for l in &f.lines {
                writeln!(w, "#\t{}\t{}:{}", l.function, l.file, l.line)?;
            }
        }
        writeln!(w)?;
    }
    Ok(())
}
