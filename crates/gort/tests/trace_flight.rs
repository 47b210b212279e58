//! The flight recorder (issue 18 item 5, Go 1.25's `trace.FlightRecorder`): a bounded window
//! of the execution trace, snapshot while recording goes on, beside a full trace or alone.
//!
//! Tracing is process-wide, so this file holds one test.

#[path = "../../gort-cli/src/trace/json.rs"]
#[allow(dead_code)]
mod json;

use gort::trace::{FlightRecorder, FlightRecorderConfig, TraceError};
use std::time::{Duration, Instant};

/// A channel ping-pong between two goroutines for `d`: thousands of events per millisecond.
fn ping_pong(rt: &gort::Runtime, d: Duration) -> u64 {
    rt.block_on(move || {
        let (tx, rx) = gort::chan::bounded::<u64>(0);
        let (btx, brx) = gort::chan::bounded::<u64>(0);
        let echo = gort::go(move || {
            while let Ok(v) = rx.recv() {
                btx.send(v).unwrap();
            }
        });
        let t0 = Instant::now();
        let mut n = 0;
        while t0.elapsed() < d {
            tx.send(n).unwrap();
            brx.recv().unwrap();
            n += 1;
        }
        tx.close().unwrap();
        echo.join().unwrap();
        n
    })
}

/// (earliest, latest) timestamp in microseconds and the number of slices of a snapshot.
fn span(text: &str) -> (f64, f64, usize) {
    let doc = json::parse(text).unwrap_or_else(|e| panic!("snapshot JSON does not parse: {e}"));
    let evs = doc.get("traceEvents").unwrap().as_array().unwrap();
    let ts: Vec<f64> = evs
        .iter()
        .filter(|e| e.get("ph").and_then(|p| p.as_str()) == Some("X"))
        .filter_map(|e| e.get("ts").and_then(|t| t.as_f64()))
        .collect();
    assert!(!ts.is_empty(), "the snapshot holds slices");
    let lo = ts.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = ts.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo, hi, ts.len())
}

#[test]
fn flight_recorder_windows_snapshots_and_runs_beside_a_trace() {
    let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();

    // Not running: no snapshot.
    let idle = FlightRecorder::new(FlightRecorderConfig::default());
    assert!(matches!(
        idle.write_to(Vec::new()),
        Err(TraceError::RecorderNotStarted)
    ));

    // 1. The age window: 50 ms kept of 300 ms of ping-pong, memory bound far away.
    let mut fr = FlightRecorder::new(FlightRecorderConfig {
        min_age: Duration::from_millis(50),
        max_bytes: 64 << 20,
    });
    fr.start().unwrap();
    assert!(fr.enabled());
    let mut second = FlightRecorder::new(FlightRecorderConfig::default());
    assert!(matches!(second.start(), Err(TraceError::RecorderActive)));
    let rounds = ping_pong(&rt, Duration::from_millis(300));
    let mut snap = Vec::new();
    let n = fr.write_to(&mut snap).unwrap();
    assert_eq!(n as usize, snap.len());
    let (lo, hi, slices) = span(std::str::from_utf8(&snap).unwrap());
    let window_ms = (hi - lo) / 1000.0;
    eprintln!(
        "age window: {rounds} round trips, snapshot {} KiB, {slices} slices over {window_ms:.0} ms",
        snap.len() / 1024
    );
    assert!(
        window_ms >= 45.0,
        "at least min_age is kept: {window_ms:.0} ms"
    );
    assert!(
        window_ms < 225.0,
        "older chunks were dropped by age: {window_ms:.0} ms of 300"
    );

    // Recording goes on after a snapshot: a second one ends later.
    ping_pong(&rt, Duration::from_millis(50));
    let mut snap2 = Vec::new();
    fr.write_to(&mut snap2).unwrap();
    let (_, hi2, _) = span(std::str::from_utf8(&snap2).unwrap());
    assert!(
        hi2 > hi,
        "the second snapshot extends past the first: {hi2} vs {hi}"
    );
    fr.stop();
    assert!(!fr.enabled());

    // 2. The byte bound wins over min_age: 256 KiB of events (~8k) from 400 ms.
    let mut fr = FlightRecorder::new(FlightRecorderConfig {
        min_age: Duration::from_secs(60),
        max_bytes: 256 << 10,
    });
    fr.start().unwrap();
    ping_pong(&rt, Duration::from_millis(400));
    let mut snap = Vec::new();
    fr.write_to(&mut snap).unwrap();
    let (lo, hi, slices) = span(std::str::from_utf8(&snap).unwrap());
    eprintln!(
        "byte window: {slices} slices over {:.0} ms",
        (hi - lo) / 1000.0
    );
    // Events are 32 bytes; each thread also holds its current 1024-event chunk. A switch
    // event becomes at most four slices (the P's, and the goroutines' unblock, leave and
    // start); without the bound the 400 ms would be millions.
    assert!(
        slices < 4 * (256 * 1024 / 32 + 8 * 1024),
        "bounded by max_bytes: {slices} slices"
    );
    assert!((hi - lo) / 1000.0 < 350.0, "the oldest events were dropped");

    // 3. Beside a full trace: the trace gets everything from its start, the recorder keeps
    // running after the trace stops, and the HTTP endpoint serves its snapshot.
    let path = std::env::temp_dir().join(format!("gort-fr-{}.json", std::process::id()));
    gort::trace::start(std::fs::File::create(&path).unwrap()).unwrap();
    ping_pong(&rt, Duration::from_millis(60));
    gort::trace::stop().unwrap();
    let trace = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let (tlo, thi, tslices) = span(&trace);
    eprintln!(
        "trace beside the recorder: {tslices} slices over {:.0} ms",
        (thi - tlo) / 1000.0
    );
    assert!(
        (thi - tlo) / 1000.0 >= 45.0,
        "the trace holds its whole 60 ms"
    );
    assert!(fr.enabled(), "the recorder outlives the trace");
    let r = gort::prof::http::respond("/debug/flightrecorder");
    assert_eq!(r.status, 200);
    span(std::str::from_utf8(&r.body).unwrap());
    fr.stop();
    assert_eq!(
        gort::prof::http::respond("/debug/flightrecorder").status,
        404
    );
    // Nothing records any more: a new trace starts cleanly.
    gort::trace::start(std::io::sink()).unwrap();
    gort::trace::stop().unwrap();
}
