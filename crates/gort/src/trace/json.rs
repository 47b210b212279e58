//! Writing a session as Chrome Trace Event JSON (what Perfetto UI and chrome://tracing open).
//!
//! Layout (process ids group tracks):
//!
//! * pid 1 "Ps and threads": one track per thread that recorded events. A worker's track is
//!   named after its P (`P0`, ...) and shows `G<id>` slices while it runs a goroutine and
//!   `idle` while its M sleeps; a blocking-pool thread shows `syscall G<id>` slices. A stall
//!   episode (`rt/sched/stall.rs`: a goroutine kept the P's thread while others waited) is a
//!   `stall G<id> (<kind>)` slice nested in that goroutine's `G<id>` slice, from when the P
//!   last scheduled to when it scheduled again, its `args` naming the goroutine, the P, the
//!   kind (`cpu`, `futex wait`, `syscall`, `other`), the culprit's source line (`at`) and the
//!   report's first line (`report`).
//! * pid 2 "Goroutines": one track per goroutine (tid = goid) with non-overlapping state
//!   slices `running`, `runnable`, `blocked (reason)` (also `args.reason`: Go's wait reason).
//! * pid 3 "Runtime": `GC` and `STW` tracks, and the counters `heap` (`heap_alloc` bytes) and
//!   `GC` (`active` 0 or 1).
//!
//! State slices are rebuilt from the events of each goroutine sorted by time; each slice
//! starts where the previous one ended, so they cannot overlap, whatever the input. States
//! before a goroutine's first event are implied by it (a first `GoStart` means the goroutine
//! was runnable since the trace began). `otherData` carries the trace window (`start_ns`,
//! `end_ns`), which `gort trace` reads.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use crate::rt::exectrace::buf::Collected;
use crate::rt::exectrace::clock::Conv;
use crate::rt::exectrace::event::{unpack_stall, Kind, StwReason};
use crate::rt::sched::stall::StallKind;
use crate::rt::sched::WaitReason;

const PID_THREADS: u32 = 1;
const PID_GOROUTINES: u32 = 2;
const PID_RUNTIME: u32 = 3;
const TID_GC: u64 = 1;
const TID_STW: u64 = 2;

/// One output event.
struct Out {
    pid: u32,
    tid: u64,
    ts: u64,
    /// `Some(dur)`: a complete ("X") slice; `None`: a counter ("C").
    dur: Option<u64>,
    name: String,
    /// The body of the `args` object (without braces), or empty.
    args: String,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum St {
    Runnable,
    Running,
    Blocked(u64),
}

fn reason(arg: u64) -> &'static str {
    match WaitReason::from_u8(arg.min(255) as u8).as_str() {
        "" => "unknown",
        s => s,
    }
}

fn micros(ns: u64) -> String {
    format!("{}.{:03}", ns / 1000, ns % 1000)
}

/// A slice on a thread track that may be open.
struct Open {
    since: u64,
    goid: u64,
}

/// Writes the session's events as JSON. `end_ticks` is the stop time.
pub(crate) fn write(
    w: &mut dyn Write,
    c: &Collected,
    conv: &Conv,
    end_ticks: u64,
) -> io::Result<()> {
    let end = conv.ns(end_ticks);
    let start = if c.dropped_until > 0 {
        conv.ns(c.dropped_until).min(end)
    } else {
        0
    };
    let clamp = |t: u64| conv.ns(t).clamp(start, end);
    let mut out: Vec<Out> = Vec::new();
    let mut meta: Vec<(u32, u64, String)> = Vec::new();
    let mut gevents: HashMap<u64, Vec<(u64, Kind, u64)>> = HashMap::new();
    let mut runtime: Vec<(u64, Kind, u64)> = Vec::new();
    // Stall events: (ts, kind, goid, arg, the track that recorded them).
    let mut stalls: Vec<(u64, Kind, u64, u64, u64)> = Vec::new();
    for (tid, name, events) in &c.tracks {
        let tid = *tid;
        meta.push((PID_THREADS, tid, name.clone()));
        let slice = |out: &mut Vec<Out>, from: u64, to: u64, name: String, args: String| {
            out.push(Out {
                pid: PID_THREADS,
                tid,
                ts: from,
                dur: Some(to.saturating_sub(from)),
                name,
                args,
            })
        };
        let (mut run, mut idle, mut call): (Option<Open>, Option<u64>, Option<Open>) =
            (None, None, None);
        let (mut saw_run, mut saw_idle, mut saw_call) = (false, false, false);
        // `last` keeps this track's slices in order even if the clock stepped back.
        let mut last = start;
        for e in events {
            if c.dropped_until > 0 && e.ticks <= c.dropped_until {
                continue;
            }
            let Some(kind) = e.kind() else { continue };
            // A wake-up is stamped by its waker, before the switch it is expanded from
            // (`exectrace::event::expand`): the one event of a track that may step back.
            let ts = if kind == Kind::GoUnblock {
                clamp(e.ticks)
            } else {
                last = clamp(e.ticks).max(last);
                last
            };
            let g = e.goid;
            let gslice = |o: &Open| (format!("G{}", o.goid), format!("\"goid\":{}", o.goid));
            match kind {
                Kind::GoStart => {
                    if let Some(o) = run.take() {
                        let (n, a) = gslice(&o);
                        slice(&mut out, o.since, ts, n, a);
                    }
                    run = Some(Open { since: ts, goid: g });
                    saw_run = true;
                }
                Kind::GoBlock | Kind::GoSched | Kind::GoEnd => {
                    let o = match run.take() {
                        Some(o) if o.goid == g => Some(o),
                        None if !saw_run => Some(Open {
                            since: start,
                            goid: g,
                        }),
                        other => {
                            run = other;
                            None
                        }
                    };
                    if let Some(o) = o {
                        let (n, a) = gslice(&o);
                        slice(&mut out, o.since, ts, n, a);
                    }
                    saw_run = true;
                }
                Kind::ProcStop => {
                    if idle.is_none() {
                        idle = Some(ts);
                    }
                    saw_idle = true;
                }
                Kind::ProcStart => {
                    match idle.take() {
                        Some(since) => slice(&mut out, since, ts, "idle".into(), String::new()),
                        None if !saw_idle => {
                            slice(&mut out, start, ts, "idle".into(), String::new())
                        }
                        None => {}
                    }
                    saw_idle = true;
                }
                Kind::BlockingBegin => {
                    call = Some(Open { since: ts, goid: g });
                    saw_call = true;
                }
                Kind::BlockingEnd => {
                    let o = match call.take() {
                        Some(o) => Some(o),
                        None if !saw_call => Some(Open {
                            since: start,
                            goid: g,
                        }),
                        None => None,
                    };
                    if let Some(o) = o {
                        let a = format!("\"goid\":{}", o.goid);
                        slice(&mut out, o.since, ts, format!("syscall G{}", o.goid), a);
                    }
                    saw_call = true;
                }
                Kind::GcStart | Kind::GcEnd | Kind::StwStart | Kind::StwEnd | Kind::HeapAlloc => {
                    runtime.push((ts, kind, e.arg()))
                }
                Kind::StallBegin | Kind::StallEnd => stalls.push((ts, kind, g, e.arg(), tid)),
                // Switches are expanded before they get here.
                Kind::GoCreate | Kind::GoUnblock | Kind::GoSwitch => {}
            }
            if kind.is_goroutine_transition() {
                gevents.entry(g).or_default().push((ts, kind, e.arg()));
            }
        }
        if let Some(o) = run {
            let (n, a) = (format!("G{}", o.goid), format!("\"goid\":{}", o.goid));
            slice(&mut out, o.since, end, n, a);
        }
        if let Some(since) = idle {
            slice(&mut out, since, end, "idle".into(), String::new());
        }
        if let Some(o) = call {
            let a = format!("\"goid\":{}", o.goid);
            slice(&mut out, o.since, end, format!("syscall G{}", o.goid), a);
        }
    }
    stall_slices(&mut out, &mut meta, &stalls, start, end);
    let mut goids: Vec<u64> = gevents.keys().copied().collect();
    goids.sort_unstable();
    for goid in goids {
        let evs = gevents.get_mut(&goid).expect("listed");
        evs.sort_by_key(|e| e.0);
        meta.push((PID_GOROUTINES, goid, format!("G{goid}")));
        goroutine_slices(&mut out, goid, evs, start, end);
    }
    runtime_tracks(&mut out, &mut runtime, start, end);
    if runtime.is_empty() {
        // No GC events: no empty tracks either.
    } else {
        meta.push((PID_RUNTIME, TID_GC, "GC".into()));
        meta.push((PID_RUNTIME, TID_STW, "STW".into()));
    }
    write_all(w, &meta, &mut out, start, end)
}

/// One `stall G<id> (<kind>)` slice per episode, on the stuck P's track (the recording
/// track if that is unknown), from when the P last scheduled (the report's lead before the
/// begin event) to the end event or the trace's end, kept inside the goroutine's own `G<id>`
/// slice on that track so that viewers nest it there.
fn stall_slices(
    out: &mut Vec<Out>,
    meta: &mut Vec<(u32, u64, String)>,
    stalls: &[(u64, Kind, u64, u64, u64)],
    start: u64,
    end: u64,
) {
    let ends: HashMap<u64, u64> = stalls
        .iter()
        .filter(|s| s.1 == Kind::StallEnd)
        .map(|s| (unpack_stall(s.3).0, s.0))
        .collect();
    for &(ts, kind, goid, arg, recorded_on) in stalls {
        if kind != Kind::StallBegin {
            continue; // an end without its begin: reported before the trace started
        }
        let (id, track, k) = unpack_stall(arg);
        let tid = if track != 0 { track } else { recorded_on };
        let ep = crate::rt::sched::stall::episode(id).filter(|e| e.goid == goid);
        let lead = ep.as_ref().map_or(0, |e| e.lead_ns);
        let mut from = ts.saturating_sub(lead).max(start);
        let mut to = ends.get(&id).copied().unwrap_or(end).max(ts);
        let g_name = format!("G{goid}");
        let overlap = |o: &Out| {
            let (a, b) = (o.ts, o.ts + o.dur.unwrap_or(0));
            b.min(to).saturating_sub(a.max(from))
        };
        let g = out
            .iter()
            .filter(|o| o.pid == PID_THREADS && o.tid == tid && o.name == g_name)
            .filter(|o| overlap(o) > 0)
            .max_by_key(|o| overlap(o))
            .map(|o| (o.ts, o.ts + o.dur.unwrap_or(0)));
        if let Some((a, b)) = g {
            from = from.clamp(a, b);
            to = to.clamp(from, b);
        }
        if !meta.iter().any(|m| m.0 == PID_THREADS && m.1 == tid) {
            let name = ep
                .as_ref()
                .map_or("stalled P".into(), |e| format!("P{}", e.p));
            meta.push((PID_THREADS, tid, name));
        }
        let kind_name = StallKind::from_u8(k).name();
        let mut args = format!("\"goid\":{goid},\"kind\":\"{kind_name}\",\"episode\":{id}");
        if let Some(e) = &ep {
            let _ = write!(
                args,
                ",\"p\":{},\"at\":\"{}\",\"report\":\"{}\"",
                e.p,
                escape(e.at.as_deref().unwrap_or("unknown")),
                escape(&e.line)
            );
        }
        out.push(Out {
            pid: PID_THREADS,
            tid,
            ts: from,
            dur: Some(to.saturating_sub(from)),
            name: format!("stall G{goid} ({kind_name})"),
            args,
        });
    }
}

/// Rebuilds one goroutine's state slices from its events, sorted by time.
fn goroutine_slices(out: &mut Vec<Out>, goid: u64, evs: &[(u64, Kind, u64)], start: u64, end: u64) {
    let mut cur: Option<(St, u64)> = None;
    let mut first = true;
    let emit = |out: &mut Vec<Out>, st: St, from: u64, to: u64| {
        if to <= from {
            return;
        }
        let (name, args) = match st {
            St::Runnable => ("runnable".to_string(), String::new()),
            St::Running => ("running".to_string(), String::new()),
            St::Blocked(r) => (
                format!("blocked ({})", reason(r)),
                format!("\"reason\":\"{}\"", reason(r)),
            ),
        };
        out.push(Out {
            pid: PID_GOROUTINES,
            tid: goid,
            ts: from,
            dur: Some(to - from),
            name,
            args,
        });
    };
    for &(ts, kind, arg) in evs {
        let (prior, next) = match kind {
            Kind::GoCreate => (None, Some(St::Runnable)),
            Kind::GoUnblock => (Some(St::Blocked(arg)), Some(St::Runnable)),
            Kind::GoStart => (Some(St::Runnable), Some(St::Running)),
            Kind::GoBlock => (Some(St::Running), Some(St::Blocked(arg))),
            Kind::GoSched => (Some(St::Running), Some(St::Runnable)),
            Kind::GoEnd => (Some(St::Running), None),
            _ => continue,
        };
        if first {
            first = false;
            if let Some(p) = prior {
                cur = Some((p, start));
            }
        }
        // A wake-up of a goroutine that is not blocked changes nothing (it can only be a
        // clock-skew reordering between threads).
        if kind == Kind::GoUnblock && !matches!(cur, Some((St::Blocked(_), _)) | None) {
            continue;
        }
        let mut since = ts;
        if let Some((st, from)) = cur {
            since = ts.max(from);
            emit(out, st, from, since);
        }
        cur = next.map(|n| (n, since));
    }
    if let Some((st, from)) = cur {
        emit(out, st, from, end);
    }
}

/// GC and STW slices and the heap and GC counters.
fn runtime_tracks(out: &mut Vec<Out>, evs: &mut [(u64, Kind, u64)], start: u64, end: u64) {
    evs.sort_by_key(|e| e.0);
    let mut gc: Option<(u64, u64)> = None;
    let mut stw: Option<(u64, u64)> = None;
    let mut ngc = 0u64;
    let counter = |out: &mut Vec<Out>, ts: u64, name: &str, args: String| {
        out.push(Out {
            pid: PID_RUNTIME,
            tid: 0,
            ts,
            dur: None,
            name: name.into(),
            args,
        })
    };
    let slice = |out: &mut Vec<Out>, tid: u64, from: u64, to: u64, name: String, args: String| {
        out.push(Out {
            pid: PID_RUNTIME,
            tid,
            ts: from,
            dur: Some(to.saturating_sub(from)),
            name,
            args,
        })
    };
    for &(ts, kind, arg) in evs.iter() {
        match kind {
            Kind::GcStart if gc.is_none() => {
                ngc += 1;
                gc = Some((ts, ngc));
                counter(out, ts, "GC", "\"active\":1".into());
            }
            Kind::GcEnd => {
                let (from, n) = gc.take().unwrap_or((start, 0));
                slice(out, TID_GC, from, ts, "GC".into(), format!("\"n\":{n}"));
                counter(out, ts, "GC", "\"active\":0".into());
            }
            Kind::StwStart if stw.is_none() => stw = Some((ts, arg)),
            Kind::StwEnd => {
                let (from, r) = stw.take().unwrap_or((start, 3));
                let name = format!("STW ({})", StwReason::name(r));
                let args = format!("\"reason\":\"{}\"", StwReason::name(r));
                slice(out, TID_STW, from, ts, name, args);
            }
            Kind::HeapAlloc => counter(out, ts, "heap", format!("\"heap_alloc\":{arg}")),
            _ => {}
        }
    }
    if let Some((from, n)) = gc {
        slice(out, TID_GC, from, end, "GC".into(), format!("\"n\":{n}"));
    }
    if let Some((from, r)) = stw {
        let name = format!("STW ({})", StwReason::name(r));
        let args = format!("\"reason\":\"{}\"", StwReason::name(r));
        slice(out, TID_STW, from, end, name, args);
    }
}

fn write_all(
    w: &mut dyn Write,
    meta: &[(u32, u64, String)],
    out: &mut [Out],
    start: u64,
    end: u64,
) -> io::Result<()> {
    let mut w = io::BufWriter::with_capacity(1 << 16, w);
    writeln!(
        w,
        "{{\"displayTimeUnit\":\"ns\",\"otherData\":{{\"producer\":\"gort\",\"version\":\"1\",\
         \"start_ns\":{start},\"end_ns\":{end}}},\"traceEvents\":["
    )?;
    let mut line = String::new();
    let procs = [
        (PID_THREADS, "Ps and threads"),
        (PID_GOROUTINES, "Goroutines"),
        (PID_RUNTIME, "Runtime"),
    ];
    for (pid, name) in procs {
        writeln!(
            w,
            "{{\"ph\":\"M\",\"pid\":{pid},\"tid\":0,\"name\":\"process_name\",\"args\":{{\"name\":\"{name}\"}}}},"
        )?;
        writeln!(
            w,
            "{{\"ph\":\"M\",\"pid\":{pid},\"tid\":0,\"name\":\"process_sort_index\",\"args\":{{\"sort_index\":{pid}}}}},"
        )?;
    }
    for (pid, tid, name) in meta {
        writeln!(
            w,
            "{{\"ph\":\"M\",\"pid\":{pid},\"tid\":{tid},\"name\":\"thread_name\",\"args\":{{\"name\":\"{}\"}}}},",
            escape(name)
        )?;
    }
    // Per track, in time order (longer slices first at equal starts, so nesting is right).
    out.sort_by(|a, b| {
        (a.pid, a.tid, a.ts, std::cmp::Reverse(a.dur)).cmp(&(
            b.pid,
            b.tid,
            b.ts,
            std::cmp::Reverse(b.dur),
        ))
    });
    for (i, o) in out.iter().enumerate() {
        line.clear();
        let sep = if i + 1 == out.len() { "" } else { "," };
        match o.dur {
            Some(d) => {
                let _ = write!(
                    line,
                    "{{\"ph\":\"X\",\"pid\":{},\"tid\":{},\"ts\":{},\"dur\":{},\"name\":\"{}\",\"args\":{{{}}}}}{sep}",
                    o.pid,
                    o.tid,
                    micros(o.ts),
                    micros(d),
                    escape(&o.name),
                    o.args
                );
            }
            None => {
                let _ = write!(
                    line,
                    "{{\"ph\":\"C\",\"pid\":{},\"tid\":{},\"ts\":{},\"name\":\"{}\",\"args\":{{{}}}}}{sep}",
                    o.pid,
                    o.tid,
                    micros(o.ts),
                    escape(&o.name),
                    o.args
                );
            }
        }
        writeln!(w, "{line}")?;
    }
    if out.is_empty() {
        // The metadata lines end with a comma: close the array with one more harmless record.
        writeln!(
            w,
            "{{\"ph\":\"M\",\"pid\":{PID_RUNTIME},\"tid\":0,\"name\":\"thread_name\",\"args\":{{\"name\":\"runtime\"}}}}"
        )?;
    }
    writeln!(w, "]}}")?;
    w.flush()
}

fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o
}
