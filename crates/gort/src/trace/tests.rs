//! Direct calls of the hooks the GC will use, and the memory limit. Tracing is process-wide,
//! so the sessions here run one at a time (`LOCK`).

#[path = "../../../gort-cli/src/trace/json.rs"]
#[allow(dead_code)]
pub(crate) mod cli_json;

use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::rt::exectrace::StwReason;

/// Held by every test in the crate that starts a trace.
pub(crate) static LOCK: Mutex<()> = Mutex::new(());

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn traced(limit: usize, f: impl FnOnce()) -> cli_json::Value {
    let _l = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let sink = Sink::default();
    super::start_with_limit(sink.clone(), limit).unwrap();
    f();
    super::stop().unwrap();
    let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    cli_json::parse(&text).unwrap()
}

fn named<'a>(doc: &'a cli_json::Value, name: &str) -> Vec<&'a cli_json::Value> {
    doc.get("traceEvents")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e.get("name").and_then(|n| n.as_str()) == Some(name))
        .collect()
}

#[test]
fn gc_hooks_make_slices_and_counters() {
    let doc = traced(super::DEFAULT_BUFFER_LIMIT, || {
        crate::rt::exectrace::heap_alloc(1000);
        crate::rt::exectrace::gc_start();
        crate::rt::exectrace::stw_start(StwReason::GcSweepTermination);
        crate::rt::exectrace::stw_end();
        crate::rt::exectrace::heap_alloc(4096);
        crate::rt::exectrace::stw_start(StwReason::GcMarkTermination);
        crate::rt::exectrace::stw_end();
        crate::rt::exectrace::gc_end();
        crate::rt::exectrace::heap_alloc(2048);
    });
    let gc = named(&doc, "GC");
    let slices: Vec<_> = gc
        .iter()
        .filter(|e| e.get("ph").unwrap().as_str() == Some("X"))
        .collect();
    assert_eq!(slices.len(), 1, "{gc:?}");
    let active: Vec<f64> = gc
        .iter()
        .filter_map(|e| e.get("args")?.get("active")?.as_f64())
        .collect();
    assert_eq!(active, [1.0, 0.0]);
    assert_eq!(named(&doc, "STW (GC sweep termination)").len(), 1);
    assert_eq!(named(&doc, "STW (GC mark termination)").len(), 1);
    let heap: Vec<f64> = named(&doc, "heap")
        .iter()
        .filter_map(|e| e.get("args")?.get("heap_alloc")?.as_f64())
        .collect();
    assert_eq!(heap, [1000.0, 4096.0, 2048.0]);
    // The STW slices lie inside the GC slice.
    let ts = |e: &cli_json::Value| e.get("ts").unwrap().as_f64().unwrap();
    let dur = |e: &cli_json::Value| e.get("dur").unwrap().as_f64().unwrap();
    let g = slices[0];
    for s in named(&doc, "STW (GC mark termination)") {
        assert!(ts(s) >= ts(g) && ts(s) + dur(s) <= ts(g) + dur(g) + 0.001);
    }
}

#[test]
fn stall_events_make_a_slice_nested_in_the_goroutine() {
    use crate::rt::exectrace::buf::Collected;
    use crate::rt::exectrace::clock::{Anchor, Conv};
    use crate::rt::exectrace::event::{pack_stall, Event, Kind};
    // Track 5 (a P) runs G9 from 1000 to 9000; sysmon (track 6) reports episode 4_000_000_000
    // (not in the log: no lead, no args from it) at 3000 and ends it at 9500; an end without
    // a begin (episode 5) draws nothing.
    let id = 4_000_000_000;
    let c = Collected {
        tracks: vec![
            (
                5,
                "P0".into(),
                vec![
                    Event::new(1000, Kind::GoStart, 9, 0),
                    Event::new(9000, Kind::GoEnd, 9, 0),
                ],
            ),
            (
                6,
                "gort-sysmon".into(),
                vec![
                    Event::new(3000, Kind::StallBegin, 9, pack_stall(id, 5, 1)),
                    Event::new(9500, Kind::StallEnd, 9, pack_stall(id, 0, 1)),
                    Event::new(9600, Kind::StallEnd, 9, pack_stall(5, 0, 0)),
                ],
            ),
        ],
        dropped_until: 0,
    };
    let conv = Conv::new(
        Anchor { ticks: 0, ns: 0 },
        Anchor {
            ticks: 20_000,
            ns: 20_000,
        },
    );
    let mut out = Vec::new();
    super::json::write(&mut out, &c, &conv, 20_000).unwrap();
    let doc = cli_json::parse(&String::from_utf8(out).unwrap()).unwrap();
    let stalls: Vec<_> = doc
        .get("traceEvents")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e.get("name")
                .and_then(|n| n.as_str())
                .is_some_and(|n| n.starts_with("stall"))
        })
        .collect();
    assert_eq!(stalls.len(), 1, "{stalls:?}");
    let s = stalls[0];
    assert_eq!(
        s.get("name").unwrap().as_str(),
        Some("stall G9 (futex wait)")
    );
    assert_eq!(
        s.get("tid").unwrap().as_f64(),
        Some(5.0),
        "on the P's track"
    );
    // From the begin (no lead known) to the end, clamped to G9's slice.
    assert_eq!(s.get("ts").unwrap().as_f64(), Some(3.0));
    assert_eq!(s.get("dur").unwrap().as_f64(), Some(6.0));
    let args = s.get("args").unwrap();
    assert_eq!(args.get("kind").unwrap().as_str(), Some("futex wait"));
    assert_eq!(
        args.get("episode").unwrap().as_f64(),
        Some((id & 0xFFFF_FFFF) as f64)
    );
}

#[test]
fn memory_limit_keeps_the_newest_events() {
    // Two chunks' worth of limit, ten chunks of events: the oldest are dropped and the trace
    // starts after them.
    let n = 10 * crate::rt::exectrace::buf::CHUNK_EVENTS as u64;
    let doc = traced(2 * crate::rt::exectrace::buf::CHUNK_BYTES, || {
        for i in 0..n {
            crate::rt::exectrace::heap_alloc(i);
        }
    });
    let heap: Vec<f64> = named(&doc, "heap")
        .iter()
        .filter_map(|e| e.get("args")?.get("heap_alloc")?.as_f64())
        .collect();
    assert!(
        !heap.is_empty() && heap.len() < n as usize,
        "{}",
        heap.len()
    );
    assert_eq!(*heap.last().unwrap(), (n - 1) as f64);
    // What is kept is contiguous: the newest events, none missing in between.
    for w in heap.windows(2) {
        assert_eq!(w[1], w[0] + 1.0);
    }
    let start = doc.get("otherData").unwrap().get("start_ns").unwrap();
    assert!(start.as_f64().unwrap() > 0.0);
}

#[test]
fn off_records_nothing() {
    {
        let _l = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        assert!(!super::is_enabled());
        crate::rt::exectrace::gc_start();
        crate::rt::exectrace::gc_end();
    }
    let doc = traced(super::DEFAULT_BUFFER_LIMIT, || {});
    assert!(named(&doc, "GC").is_empty());
}

/// Random event streams (any kinds, any order, clock skew between tracks, a dropped prefix)
/// still give JSON that parses, tracks in time order, and goroutine state slices that never
/// overlap: the writer's guarantees do not depend on the recorder's.
#[test]
fn writer_invariants_hold_for_random_events() {
    use crate::rt::exectrace::buf::Collected;
    use crate::rt::exectrace::clock::{Anchor, Conv};
    use crate::rt::exectrace::event::{Event, Kind};
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for case in 0..200 {
        let mut tracks = Vec::new();
        for t in 0..3u64 {
            let mut ticks = 1000 + next() % 500;
            let mut evs = Vec::new();
            for _ in 0..next() % 60 {
                // Mostly forward, sometimes backward (skew), within [0, 20_000].
                ticks = (ticks + next() % 400)
                    .saturating_sub(next() % 100)
                    .min(20_000);
                let kind = Kind::from_u8(1 + (next() % 17) as u8).unwrap();
                evs.push(Event::new(ticks, kind, next() % 4, next() % 20));
            }
            tracks.push((t + 1, format!("P{t}"), evs));
        }
        let c = Collected {
            tracks,
            dropped_until: if case % 3 == 0 { 1500 } else { 0 },
        };
        let conv = Conv::new(
            Anchor { ticks: 0, ns: 0 },
            Anchor {
                ticks: 20_000,
                ns: 20_000,
            },
        );
        let mut out = Vec::new();
        super::json::write(&mut out, &c, &conv, 20_000).unwrap();
        let text = String::from_utf8(out).unwrap();
        let doc = cli_json::parse(&text).unwrap_or_else(|e| panic!("case {case}: {e}\n{text}"));
        let ns = |v: &cli_json::Value| (v.as_f64().unwrap() * 1000.0).round() as i64;
        let mut last: std::collections::BTreeMap<(i64, i64), (i64, i64)> = Default::default();
        for e in doc.get("traceEvents").unwrap().as_array().unwrap() {
            if e.get("ph").unwrap().as_str() == Some("M") {
                continue;
            }
            let key = (ns(e.get("pid").unwrap()), ns(e.get("tid").unwrap()));
            let ts = ns(e.get("ts").unwrap());
            let end = ts + e.get("dur").map_or(0, ns);
            assert!(
                (0..=20_000).contains(&ts) && end <= 20_000,
                "case {case}: {e:?}"
            );
            let (prev_ts, prev_end) = last.get(&key).copied().unwrap_or((0, 0));
            assert!(ts >= prev_ts, "case {case}: track {key:?} out of order");
            if key.0 == 2000 {
                // Goroutine tracks (pid 2, scaled by 1000 above): no overlap.
                assert!(ts >= prev_end, "case {case}: overlapping state slices");
            }
            last.insert(key, (ts, end));
        }
    }
}
