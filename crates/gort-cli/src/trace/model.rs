//! The parts of a gort trace the summary needs, read from its JSON.
//!
//! gort writes three processes (see `gort::trace`): "Ps and threads" (pid 1), "Goroutines"
//! (pid 2, one track per goroutine: `running` / `runnable` / `blocked (reason)` slices, the
//! wait reason also in `args.reason`) and "Runtime" (pid 3: `GC` and `STW (reason)` slices);
//! stall episodes are `stall G<id> (<kind>)` slices on P tracks (`args.kind`, `args.at`). Processes are
//! found by their `process_name` metadata, falling back to those pids; events this model does
//! not know are skipped. The trace window comes from `otherData.start_ns`/`end_ns` when
//! present, else from the events.

use std::collections::BTreeMap;

use super::json::{self, Value};

/// A goroutine's state during one slice.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    Running,
    Runnable,
    /// Blocked, with Go's wait reason (`chan receive`, `syscall`, ...).
    Blocked(String),
}

/// A slice of time, in nanoseconds from the trace's time origin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub ts: f64,
    pub dur: f64,
}

/// The trace, as the summary needs it.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// The window the trace covers (ns).
    pub start_ns: f64,
    pub end_ns: f64,
    /// Per goroutine id, its state slices in time order.
    pub goroutines: BTreeMap<u64, Vec<(Span, State)>>,
    /// P tracks: name, and the total time it ran goroutines (ns).
    pub procs: Vec<(String, f64)>,
    pub gc: Vec<Span>,
    /// Stop-the-world pauses and their reasons.
    pub stw: Vec<(Span, String)>,
    /// Stall episodes: a goroutine kept its P's thread while others waited.
    pub stalls: Vec<Stall>,
}

/// One stall episode of the trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Stall {
    pub span: Span,
    pub goid: u64,
    /// The track's name (`P0`), or `?`.
    pub track: String,
    /// `cpu`, `futex wait`, `syscall`, `other`.
    pub kind: String,
    /// The culprit's source line, or `unknown`.
    pub at: String,
}

impl Trace {
    pub fn duration_ns(&self) -> f64 {
        (self.end_ns - self.start_ns).max(0.0)
    }
}

fn num(e: &Value, k: &str) -> Option<f64> {
    e.get(k).and_then(Value::as_f64).filter(|v| v.is_finite())
}

fn text<'a>(e: &'a Value, k: &str) -> Option<&'a str> {
    e.get(k).and_then(Value::as_str)
}

/// One event, as much of it as the model uses.
struct Ev {
    ph: u8,
    pid: f64,
    tid: f64,
    ts: f64,
    dur: f64,
    name: String,
    /// `args.name` (metadata) or `args.reason` (blocked slices).
    arg: Option<String>,
    /// `args.kind` and `args.at` (stall slices).
    kind: Option<String>,
    at: Option<String>,
}

fn compact(e: &Value) -> Option<Ev> {
    let ph = *text(e, "ph")?.as_bytes().first()?;
    if ph != b'M' && ph != b'X' {
        return None;
    }
    let args = e.get("args");
    let arg = args
        .and_then(|a| text(a, if ph == b'M' { "name" } else { "reason" }))
        .map(str::to_string);
    let name = text(e, "name")?;
    let stall_arg = |k: &str| {
        args.filter(|_| name.starts_with("stall "))
            .and_then(|a| text(a, k))
            .map(str::to_string)
    };
    Some(Ev {
        ph,
        pid: num(e, "pid")?,
        tid: num(e, "tid").unwrap_or(0.0),
        // Not filtered: an infinite or NaN time is an error, not zero.
        ts: e.get("ts").and_then(Value::as_f64).unwrap_or(0.0),
        dur: e.get("dur").and_then(Value::as_f64).unwrap_or(0.0),
        name: name.to_string(),
        arg,
        kind: stall_arg("kind"),
        at: stall_arg("at"),
    })
}

/// Largest time accepted, in microseconds (about 31 years): sums of such
/// times stay finite, so no report prints `inf` or `NaN%`.
pub const MAX_US: f64 = 1e15;

fn check_time(what: &str, us: f64) -> Result<(), String> {
    if us.abs() <= MAX_US {
        Ok(())
    } else {
        Err(format!(
            "event {what} {us} is out of range (at most {MAX_US:e} microseconds)"
        ))
    }
}

/// Parses a trace file's text. Errors name what is wrong in one line.
pub fn parse(input: &str) -> Result<Trace, String> {
    let mut events: Vec<Ev> = Vec::new();
    let doc = json::parse_streaming(input, "traceEvents", &mut |v| {
        if let Some(e) = compact(&v) {
            events.push(e);
        }
    })
    .map_err(|e| format!("not a JSON trace: {e}"))?;
    if !matches!(doc, Value::Arr(_)) && doc.get("traceEvents").and_then(Value::as_array).is_none() {
        return Err("no traceEvents array: not a Chrome trace file".into());
    }
    // Which pid is which process.
    let (mut pid_threads, mut pid_gs, mut pid_rt) = (1.0, 2.0, 3.0);
    let mut thread_names: BTreeMap<(u64, u64), String> = BTreeMap::new();
    for e in events.iter().filter(|e| e.ph == b'M') {
        let Some(name) = e.arg.as_deref() else {
            continue;
        };
        match e.name.as_str() {
            "process_name" => match name {
                "Ps and threads" => pid_threads = e.pid,
                "Goroutines" => pid_gs = e.pid,
                "Runtime" => pid_rt = e.pid,
                _ => {}
            },
            "thread_name" => {
                thread_names.insert((e.pid as u64, e.tid as u64), name.to_string());
            }
            _ => {}
        }
    }
    let mut t = Trace::default();
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut busy: BTreeMap<u64, f64> = BTreeMap::new();
    for e in events.iter_mut().filter(|e| e.ph == b'X') {
        if e.dur < 0.0 || e.tid < 0.0 {
            continue;
        }
        check_time("ts", e.ts)?;
        check_time("dur", e.dur)?;
        let (pid, tid, name) = (e.pid, e.tid, e.name.as_str());
        let span = Span {
            ts: e.ts * 1000.0,
            dur: e.dur * 1000.0,
        };
        lo = lo.min(span.ts);
        hi = hi.max(span.ts + span.dur);
        if pid == pid_gs {
            let state = match name {
                "running" => State::Running,
                "runnable" => State::Runnable,
                // `blocked (chan receive)`, the reason also in `args.reason`.
                n if n.starts_with("blocked") => {
                    State::Blocked(e.arg.take().unwrap_or_else(|| {
                        let r = n["blocked".len()..].trim();
                        let r = r.trim_start_matches('(').trim_end_matches(')');
                        if r.is_empty() { "unknown" } else { r }.to_string()
                    }))
                }
                _ => continue,
            };
            t.goroutines
                .entry(tid as u64)
                .or_default()
                .push((span, state));
        } else if pid == pid_rt {
            if name == "GC" {
                t.gc.push(span);
            } else if let Some(r) = name.strip_prefix("STW") {
                let r = r.trim().trim_start_matches('(').trim_end_matches(')');
                t.stw.push((span, r.to_string()));
            }
        } else if pid == pid_threads && name.starts_with('G') && name[1..].parse::<u64>().is_ok() {
            *busy.entry(tid as u64).or_default() += span.dur;
        } else if let Some(rest) = name.strip_prefix("stall G").filter(|_| pid == pid_threads) {
            let goid = rest
                .split(' ')
                .next()
                .and_then(|g| g.parse().ok())
                .unwrap_or(0);
            t.stalls.push(Stall {
                span,
                goid,
                track: thread_names
                    .get(&(pid as u64, tid as u64))
                    .cloned()
                    .unwrap_or_else(|| "?".into()),
                kind: e.kind.take().unwrap_or_else(|| "other".into()),
                at: e.at.take().unwrap_or_else(|| "unknown".into()),
            });
        }
    }
    if t.goroutines.is_empty() {
        return Err("no goroutine state slices: not a trace written by gort::trace".into());
    }
    for v in t.goroutines.values_mut() {
        v.sort_by(|a, b| a.0.ts.total_cmp(&b.0.ts));
    }
    t.stalls.sort_by(|a, b| a.span.ts.total_cmp(&b.span.ts));
    let other = doc.get("otherData");
    let window = |k: &str| other.and_then(|o| num(o, k));
    for k in ["start_ns", "end_ns"] {
        if let Some(v) = window(k) {
            check_time(k, v / 1000.0)?;
        }
    }
    t.start_ns = window("start_ns").unwrap_or(lo);
    t.end_ns = window("end_ns").unwrap_or(hi).max(t.start_ns);
    for ((pid, tid), name) in &thread_names {
        if *pid as f64 == pid_threads && name.starts_with('P') {
            t.procs
                .push((name.clone(), busy.get(tid).copied().unwrap_or(0.0)));
        }
    }
    Ok(t)
}

/// A small trace in gort's layout, with every kind of track (used by tests).
pub const SAMPLE: &str = r#"{"displayTimeUnit":"ns","otherData":{"producer":"gort","version":"1","start_ns":0,"end_ns":10000},"traceEvents":[
{"ph":"M","pid":1,"tid":0,"name":"process_name","args":{"name":"Ps and threads"}},
{"ph":"M","pid":2,"tid":0,"name":"process_name","args":{"name":"Goroutines"}},
{"ph":"M","pid":3,"tid":0,"name":"process_name","args":{"name":"Runtime"}},
{"ph":"M","pid":1,"tid":4,"name":"thread_name","args":{"name":"P0"}},
{"ph":"M","pid":2,"tid":7,"name":"thread_name","args":{"name":"G7"}},
{"ph":"X","pid":1,"tid":4,"ts":1.000,"dur":2.000,"name":"G7","args":{"goid":7}},
{"ph":"X","pid":1,"tid":4,"ts":5.000,"dur":1.000,"name":"G7","args":{"goid":7}},
{"ph":"X","pid":1,"tid":4,"ts":5.250,"dur":0.500,"name":"stall G7 (futex wait)","args":{"goid":7,"kind":"futex wait","episode":1,"p":0,"at":"src/main.rs:9 (app::work)","report":"gort: goroutine 7 has blocked P0's thread"}},
{"ph":"X","pid":2,"tid":7,"ts":0.000,"dur":1.000,"name":"runnable","args":{}},
{"ph":"X","pid":2,"tid":7,"ts":1.000,"dur":2.000,"name":"running","args":{}},
{"ph":"X","pid":2,"tid":7,"ts":3.000,"dur":1.500,"name":"blocked","args":{"reason":"syscall"}},
{"ph":"X","pid":2,"tid":7,"ts":4.500,"dur":0.500,"name":"runnable","args":{}},
{"ph":"X","pid":2,"tid":7,"ts":5.000,"dur":1.000,"name":"running","args":{}},
{"ph":"X","pid":2,"tid":8,"ts":2.000,"dur":8.000,"name":"blocked (chan receive)"},
{"ph":"X","pid":3,"tid":1,"ts":6.000,"dur":3.000,"name":"GC","args":{"n":1}},
{"ph":"X","pid":3,"tid":2,"ts":6.000,"dur":0.250,"name":"STW (GC sweep termination)","args":{}},
{"ph":"X","pid":3,"tid":2,"ts":8.500,"dur":0.500,"name":"STW (GC mark termination)","args":{}},
{"ph":"C","pid":3,"tid":0,"ts":6.000,"name":"heap","args":{"heap_alloc":4096}}
]}"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_sample() {
        let t = parse(SAMPLE).unwrap();
        assert_eq!((t.start_ns, t.end_ns), (0.0, 10_000.0));
        assert_eq!(t.goroutines.len(), 2);
        assert_eq!(t.goroutines[&7].len(), 5);
        assert_eq!(
            t.goroutines[&7][2],
            (
                Span {
                    ts: 3000.0,
                    dur: 1500.0
                },
                State::Blocked("syscall".into())
            )
        );
        assert_eq!(t.procs, vec![("P0".to_string(), 3000.0)]);
        assert_eq!(t.gc.len(), 1);
        assert_eq!(t.stw[1].1, "GC mark termination");
        assert_eq!(
            t.stalls,
            vec![Stall {
                span: Span {
                    ts: 5250.0,
                    dur: 500.0
                },
                goid: 7,
                track: "P0".into(),
                kind: "futex wait".into(),
                at: "src/main.rs:9 (app::work)".into(),
            }]
        );
    }

    #[test]
    fn one_line_errors() {
        assert!(parse("").unwrap_err().starts_with("not a JSON trace"));
        assert!(parse("{\"a\":1}").unwrap_err().contains("no traceEvents"));
        assert!(parse("{\"traceEvents\":[]}")
            .unwrap_err()
            .contains("not a trace written by gort"));
        let cut = &SAMPLE[..SAMPLE.len() / 2];
        assert!(parse(cut).unwrap_err().contains("truncated"));
    }
}
