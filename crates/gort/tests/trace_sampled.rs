//! The execution trace of a ping-pong recorded two ways: every event with a clock read
//! (`GORT_TRACE_DENSE_NS=0`: no stretch counts as dense) and with stretches forced dense
//! (`GORT_TRACE_DENSE_NS` of a second: after the first stretch, context switches are written
//! as switch records without timestamps, `rt/exectrace/buf.rs`). A debug build's ping-pong is
//! too slow to be dense by itself, so without this the sampled path would go untested here.
//! Both traces must say the same thing: the same goroutines block, are woken and run as
//! often, and every track stays in time order without overlapping slices.
//!
//! Tracing is process-wide (and the variable is read at each trace start), so this file holds
//! one test.

#[path = "../../gort-cli/src/trace/json.rs"]
#[allow(dead_code)]
mod json;

use std::collections::BTreeMap;

use json::Value;

const ROUND_TRIPS: u64 = 3000;

/// Microseconds with three decimals, as written, to integer nanoseconds.
fn ns(v: &Value) -> i64 {
    (v.as_f64().expect("a number") * 1000.0).round() as i64
}

/// What the trace says about goroutine `goid`: its state slices' names in time order.
struct Summary {
    states: Vec<String>,
}

impl Summary {
    fn count(&self, prefix: &str) -> usize {
        self.states.iter().filter(|s| s.starts_with(prefix)).count()
    }

    /// Blocked slices followed by a runnable one (the wake-up), then a running one.
    fn woken(&self) -> usize {
        self.states
            .windows(3)
            .filter(|w| w[0].starts_with("blocked") && w[1] == "runnable" && w[2] == "running")
            .count()
    }
}

/// Traces a ping-pong on `procs` Ps with `GORT_TRACE_DENSE_NS=dense_ns`; the summaries of
/// the two goroutines (main, echo).
fn traced_ping_pong(procs: usize, dense_ns: &str) -> (Summary, Summary) {
    std::env::set_var("GORT_TRACE_DENSE_NS", dense_ns);
    let path = std::env::temp_dir().join(format!(
        "gort-trace-sampled-{}-{procs}-{dense_ns}.json",
        std::process::id()
    ));
    gort::trace::start(std::fs::File::create(&path).unwrap()).unwrap();
    let rt = gort::Builder::new().gomaxprocs(procs).build().unwrap();
    let (main, echo) = rt.block_on(|| {
        let main = gort::goid();
        let (ping_tx, ping_rx) = gort::chan::bounded::<u64>(0);
        let (pong_tx, pong_rx) = gort::chan::bounded::<u64>(0);
        let echo = gort::go(move || {
            let me = gort::goid();
            while let Ok(v) = ping_rx.recv() {
                pong_tx.send(v).unwrap();
            }
            me
        });
        for i in 0..ROUND_TRIPS {
            ping_tx.send(i).unwrap();
            assert_eq!(pong_rx.recv().unwrap(), i);
        }
        ping_tx.close().unwrap();
        (main, echo.join().unwrap())
    });
    gort::trace::stop().unwrap();
    std::env::remove_var("GORT_TRACE_DENSE_NS");
    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let doc = json::parse(&text).unwrap_or_else(|e| panic!("trace JSON does not parse: {e}"));
    let end = ns(doc.get("otherData").unwrap().get("end_ns").unwrap()) / 1000;
    let mut tracks: BTreeMap<(i64, i64), Vec<&Value>> = BTreeMap::new();
    for e in doc.get("traceEvents").unwrap().as_array().unwrap() {
        if matches!(e.get("ph").unwrap().as_str(), Some("X" | "C")) {
            let pid = e.get("pid").unwrap().as_f64().unwrap() as i64;
            let tid = e.get("tid").unwrap().as_f64().unwrap() as i64;
            tracks.entry((pid, tid)).or_default().push(e);
        }
    }
    for (key, evs) in &tracks {
        let (mut last, mut last_end) = (i64::MIN, i64::MIN);
        for e in evs {
            let ts = ns(e.get("ts").unwrap());
            assert!(
                ts >= last,
                "{dense_ns}: track {key:?} out of order at {e:?}"
            );
            assert!(ts >= 0 && ts <= end, "{dense_ns}: {e:?} outside [0, {end}]");
            last = ts;
            if key.0 == 2 {
                assert!(ts >= last_end, "{dense_ns}: {key:?} overlaps at {e:?}");
                last_end = ts + ns(e.get("dur").unwrap());
            }
        }
    }
    let summary = |goid: u64| Summary {
        states: tracks
            .get(&(2, goid as i64))
            .unwrap_or_else(|| panic!("{dense_ns}: no track for goroutine {goid}"))
            .iter()
            .map(|e| e.get("name").unwrap().as_str().unwrap().to_string())
            .collect(),
    };
    (summary(main), summary(echo))
}

#[test]
fn sampled_and_exact_traces_say_the_same() {
    for procs in [1, 2] {
        let exact = traced_ping_pong(procs, "0");
        let sampled = traced_ping_pong(procs, "1000000000");
        for (who, e, s) in [
            ("main", &exact.0, &sampled.0),
            ("echo", &exact.1, &sampled.1),
        ] {
            let n = ROUND_TRIPS as usize;
            // Each side runs and waits once per round trip at least, in both traces (on two
            // Ps a send may find its receiver already waiting, so a side may run on without
            // blocking now and then: counts are bounds, not exact).
            for (name, t) in [("exact", e), ("sampled", s)] {
                let ctx = format!(
                    "{procs} P, {who}, {name}: {:?}",
                    &t.states[..20.min(t.states.len())]
                );
                assert!(t.count("running") >= n / 2, "{ctx}");
                assert!(t.count("blocked (chan") >= n / 2, "{ctx}");
                assert!(t.woken() >= n / 2, "{ctx}");
            }
            // The same story: as many blocks, wake-ups and runs, give or take the scheduling
            // of two runs of the same program.
            let close = |a: usize, b: usize| a.abs_diff(b) <= a.max(b) / 5;
            for p in ["running", "runnable", "blocked (chan"] {
                assert!(
                    close(e.count(p), s.count(p)),
                    "{procs} P, {who}: {p}: exact {} sampled {}",
                    e.count(p),
                    s.count(p)
                );
            }
            assert!(
                close(e.woken(), s.woken()),
                "{procs} P, {who}: woken: exact {} sampled {}",
                e.woken(),
                s.woken()
            );
        }
    }
}
