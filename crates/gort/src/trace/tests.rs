//! Direct calls of the hooks the GC will use, and the memory limit. Tracing is process-wide,
//! so the sessions here run one at a time (`LOCK`).

#[path = "../../../gort-cli/src/trace/json.rs"]
#[allow(dead_code)]
mod cli_json;

use std::io::Write;
use std::sync::{Arc, Mutex};

use super::StwReason;

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
        super::heap_alloc(1000);
        super::gc_start();
        super::stw_start(StwReason::GcSweepTermination);
        super::stw_end();
        super::heap_alloc(4096);
        super::stw_start(StwReason::GcMarkTermination);
        super::stw_end();
        super::gc_end();
        super::heap_alloc(2048);
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
fn memory_limit_keeps_the_newest_events() {
    // Two chunks' worth of limit, ten chunks of events: the oldest are dropped and the trace
    // starts after them.
    let n = 10 * super::buf::CHUNK_EVENTS as u64;
    let doc = traced(2 * super::buf::CHUNK_BYTES, || {
        for i in 0..n {
            super::heap_alloc(i);
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
        super::gc_start();
        super::gc_end();
    }
    let doc = traced(super::DEFAULT_BUFFER_LIMIT, || {});
    assert!(named(&doc, "GC").is_empty());
}
