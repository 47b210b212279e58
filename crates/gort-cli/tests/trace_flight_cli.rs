//! `gort trace` reads a flight recorder's snapshot (issue 18 item 5): the window taken while
//! a server-like workload runs loads into the same summary as a full trace. Its own process:
//! tracing is process-wide.

use std::process::Command;
use std::time::Duration;

use gort::trace::{FlightRecorder, FlightRecorderConfig};
use gort_cli::trace::{model, report};

#[test]
fn a_flight_recorder_snapshot_loads_in_the_trace_summary() {
    let mut fr = FlightRecorder::new(FlightRecorderConfig {
        min_age: Duration::from_millis(200),
        max_bytes: 8 << 20,
    });
    fr.start().unwrap();
    let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
    rt.block_on(|| {
        let (tx, rx) = gort::chan::bounded::<u64>(0);
        let echo = gort::go(move || rx.iter().sum::<u64>());
        let sleeper = gort::go(|| gort::time::sleep(Duration::from_millis(5)));
        for i in 0..2000 {
            tx.send(i).unwrap();
        }
        tx.close().unwrap();
        assert_eq!(echo.join().unwrap(), 1999 * 2000 / 2);
        sleeper.join().unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flight.json");
    let n = fr.write_to(std::fs::File::create(&path).unwrap()).unwrap();
    fr.stop();
    assert!(n > 0);
    let t = model::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let s = report::summarize(&t);
    assert!(s.goroutines.len() >= 3, "{} goroutines", s.goroutines.len());
    assert!(s.blocking.contains_key("sleep"), "{:?}", s.blocking.keys());
    assert!(s.blocking.contains_key("chan receive") || s.blocking.contains_key("chan send"));
    let out = Command::new(env!("CARGO_BIN_EXE_gort"))
        .arg("trace")
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("sleep"), "{text}");
}
