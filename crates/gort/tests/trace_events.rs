//! The execution trace of a known workload: the JSON parses (with the `gort trace` CLI's
//! reader), every track is in time order, goroutine state slices never overlap, and the
//! expected create / start / block (with its reason) / unblock / end events appear.
//!
//! Tracing is process-wide, so this file holds one test that traces.

#[path = "../../gort-cli/src/trace/json.rs"]
#[allow(dead_code)]
mod json;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use json::Value;

/// A trace file in the temp directory, and a way to read it back once written.
fn trace_file(name: &str) -> (std::fs::File, std::path::PathBuf) {
    let path = std::env::temp_dir().join(format!("gort-trace-{}-{name}.json", std::process::id()));
    (std::fs::File::create(&path).unwrap(), path)
}

fn read_back(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let _ = std::fs::remove_file(path);
    text
}

/// Goroutine ids of the workload's parts.
struct Ids {
    main: u64,
    echo: u64,
    blocker: u64,
    sleeper: u64,
    waiter: u64,
}

fn workload() -> Ids {
    let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
    rt.block_on(|| {
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
        let blocker = gort::go(|| {
            gort::blocking(|| std::thread::sleep(Duration::from_millis(5)));
            gort::goid()
        });
        let sleeper = gort::go(|| {
            gort::time::sleep(Duration::from_millis(3));
            gort::yield_now();
            gort::goid()
        });
        // Joined at once, so the main goroutine certainly blocks in join.
        let blocker = blocker.join().unwrap();
        let (done_tx, done_rx) = gort::chan::bounded::<()>(1);
        let waiter = gort::go(move || {
            done_rx.recv().unwrap();
            gort::goid()
        });
        // Let the waiter run and park in its receive (the ping-pong below would keep this P
        // busy through runnext).
        gort::time::sleep(Duration::from_millis(2));
        for i in 0..200 {
            ping_tx.send(i).unwrap();
            assert_eq!(pong_rx.recv().unwrap(), i);
        }
        ping_tx.close().unwrap();
        // A forced collection of the GC heap: its cycle and pauses appear on the runtime
        // track.
        let kept = gort::Gc::new(7u64);
        gort::gc();
        assert_eq!(*kept, 7);
        done_tx.send(()).unwrap();
        Ids {
            main,
            echo: echo.join().unwrap(),
            blocker,
            sleeper: sleeper.join().unwrap(),
            waiter: waiter.join().unwrap(),
        }
    })
}

/// Microseconds with three decimals, as written, to integer nanoseconds.
fn ns(v: &Value) -> i64 {
    (v.as_f64().expect("a number") * 1000.0).round() as i64
}

#[test]
fn trace_of_a_known_workload() {
    assert!(gort::trace::stop().is_err(), "stop without start fails");
    let (file, path) = trace_file("main");
    gort::trace::start(file).unwrap();
    assert!(gort::trace::is_enabled());
    assert!(matches!(
        gort::trace::start(std::io::sink()),
        Err(gort::trace::TraceError::AlreadyStarted)
    ));
    let ids = workload();
    gort::trace::stop().unwrap();
    assert!(!gort::trace::is_enabled());

    let text = read_back(&path);
    let doc = json::parse(&text).unwrap_or_else(|e| panic!("trace JSON does not parse: {e}"));
    let end = ns(doc.get("otherData").unwrap().get("end_ns").unwrap()) / 1000;
    let events = doc.get("traceEvents").unwrap().as_array().unwrap();

    // Every track is in time order; goroutine state slices do not overlap.
    let mut tracks: BTreeMap<(i64, i64), Vec<&Value>> = BTreeMap::new();
    let mut names: BTreeMap<(i64, i64), String> = BTreeMap::new();
    for e in events {
        let pid = e.get("pid").unwrap().as_f64().unwrap() as i64;
        let tid = e.get("tid").unwrap().as_f64().unwrap() as i64;
        match e.get("ph").unwrap().as_str().unwrap() {
            "M" => {
                if e.get("name").unwrap().as_str() == Some("thread_name") {
                    let n = e
                        .get("args")
                        .unwrap()
                        .get("name")
                        .unwrap()
                        .as_str()
                        .unwrap();
                    names.insert((pid, tid), n.to_string());
                }
            }
            "X" | "C" => tracks.entry((pid, tid)).or_default().push(e),
            other => panic!("unexpected phase {other}"),
        }
    }
    for (key, evs) in &tracks {
        let mut last = i64::MIN;
        let mut last_end = i64::MIN;
        for e in evs {
            let ts = ns(e.get("ts").unwrap());
            assert!(ts >= last, "track {key:?} out of order at {e:?}");
            assert!(ts >= 0 && ts <= end, "{e:?} outside [0, {end}]");
            last = ts;
            if key.0 == 2 {
                assert!(
                    ts >= last_end,
                    "goroutine {key:?}: overlapping slices at {e:?}"
                );
                last_end = ts + ns(e.get("dur").unwrap());
                assert!(last_end <= end);
            }
        }
    }

    // The goroutines' state slices show what they did, with the right reasons.
    let states = |goid: u64| -> Vec<(String, String)> {
        tracks
            .get(&(2, goid as i64))
            .unwrap_or_else(|| panic!("no track for goroutine {goid}"))
            .iter()
            .map(|e| {
                let name = e.get("name").unwrap().as_str().unwrap().to_string();
                let reason = e
                    .get("args")
                    .and_then(|a| a.get("reason"))
                    .and_then(|r| r.as_str())
                    .unwrap_or("")
                    .to_string();
                (name, reason)
            })
            .collect()
    };
    let has = |goid: u64, name: &str, reason: &str| {
        states(goid)
            .iter()
            .any(|(n, r)| n.starts_with(name) && r == reason)
    };
    for g in [ids.echo, ids.blocker, ids.sleeper, ids.waiter] {
        // Created inside the trace: the first slice is runnable (create), then running.
        let s = states(g);
        assert_eq!(s[0].0, "runnable", "goroutine {g}: {s:?}");
        assert!(s.iter().any(|(n, _)| n == "running"), "goroutine {g}");
        assert_eq!(
            names.get(&(2, g as i64)).map(String::as_str),
            Some(&*format!("G{g}"))
        );
        // Ended inside the trace: its last slice ends before the trace does.
        let last = tracks[&(2, g as i64)].last().unwrap();
        assert!(ns(last.get("ts").unwrap()) + ns(last.get("dur").unwrap()) < end);
    }
    // The ping-pong pair blocks on the channels (which side waits in send or in receive
    // depends on who gets there first).
    for g in [ids.main, ids.echo] {
        assert!(
            has(g, "blocked", "chan receive") || has(g, "blocked", "chan send"),
            "goroutine {g} never blocked on a channel"
        );
    }
    assert!(has(ids.waiter, "blocked", "chan receive"));
    assert!(has(ids.main, "blocked", "join"));
    assert!(has(ids.blocker, "blocked", "syscall"));
    assert!(has(ids.sleeper, "blocked", "sleep"));
    // Blocked, then made runnable by a wake-up (unblock), then running again.
    let s = states(ids.sleeper);
    let i = s
        .iter()
        .position(|(n, r)| n == "blocked (sleep)" && r == "sleep")
        .unwrap();
    assert_eq!(s[i + 1].0, "runnable");

    // P tracks show which goroutine ran; the blocking pool shows the call.
    let p_tracks: Vec<_> = names
        .iter()
        .filter(|(k, n)| k.0 == 1 && n.starts_with('P'))
        .map(|(k, _)| *k)
        .collect();
    assert!(!p_tracks.is_empty(), "{names:?}");
    let slice_names: Vec<&str> = p_tracks
        .iter()
        .flat_map(|k| tracks.get(k).into_iter().flatten())
        .map(|e| e.get("name").unwrap().as_str().unwrap())
        .collect();
    for g in [ids.main, ids.echo, ids.blocker, ids.sleeper] {
        assert!(
            slice_names.contains(&&*format!("G{g}")),
            "G{g} never ran on a P"
        );
    }
    let syscall = format!("syscall G{}", ids.blocker);
    assert!(
        tracks
            .values()
            .flatten()
            .any(|e| e.get("name").unwrap().as_str() == Some(&syscall)),
        "no blocking-pool slice"
    );

    // The forced GC: a `GC` slice, its two stop-the-world pauses, and a heap counter.
    let runtime: Vec<&str> = events
        .iter()
        .filter(|e| e.get("ph").unwrap().as_str() != Some("M"))
        .filter_map(|e| e.get("name").unwrap().as_str())
        .collect();
    assert!(runtime.contains(&"GC"), "no GC slice");
    assert!(
        runtime.contains(&"STW (GC sweep termination)"),
        "{runtime:?}"
    );
    assert!(
        runtime.contains(&"STW (GC mark termination)"),
        "no mark termination STW"
    );
    assert!(runtime.contains(&"heap"), "no heap counter");

    // Tracing again works, and a new session holds none of the old events.
    let (file2, path2) = trace_file("second");
    gort::trace::start(file2).unwrap();
    gort::trace::stop().unwrap();
    let text2 = read_back(&path2);
    let doc2 = json::parse(&text2).unwrap();
    let evs2 = doc2.get("traceEvents").unwrap().as_array().unwrap();
    assert!(
        evs2.iter()
            .all(|e| e.get("ph").unwrap().as_str() == Some("M")),
        "{text2}"
    );

    stall_session();
}

/// A CPU loop that keeps its P: the culprit of the stall session.
#[inline(never)]
fn trace_hog(d: Duration) -> u64 {
    let t0 = Instant::now();
    let mut x = 0u64;
    while t0.elapsed() < d {
        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
    }
    x
}

/// A stall episode in a trace: a `stall G<id> (cpu)` slice on the P's track, inside the
/// goroutine's `G<id>` slice there, with the report's details in its args.
fn stall_session() {
    let (file, path) = trace_file("stall");
    gort::trace::start(file).unwrap();
    let rt = gort::Builder::new().gomaxprocs(1).build().unwrap();
    let hog = rt.block_on(|| {
        // Waits for a timer on the only P while the hog keeps it.
        let beside = gort::go(|| gort::time::sleep(Duration::from_millis(5)));
        gort::yield_now();
        let h = gort::go(|| {
            std::hint::black_box(trace_hog(Duration::from_millis(300)));
            gort::goid()
        });
        let id = h.join().unwrap();
        beside.join().unwrap();
        id
    });
    assert_eq!(rt.num_stalls(), 1);
    drop(rt); // sysmon ends the episode at the latest when it stops
    gort::trace::stop().unwrap();
    let text = read_back(&path);
    let doc = json::parse(&text).unwrap_or_else(|e| panic!("trace JSON does not parse: {e}"));
    let events = doc.get("traceEvents").unwrap().as_array().unwrap();
    let name = |e: &Value| {
        e.get("name")
            .and_then(|n| n.as_str())
            .unwrap_or("")
            .to_string()
    };
    let key = |e: &Value| {
        (
            e.get("pid").unwrap().as_f64().unwrap() as i64,
            e.get("tid").unwrap().as_f64().unwrap() as i64,
        )
    };
    let stalls: Vec<&Value> = events
        .iter()
        .filter(|e| name(e).starts_with("stall "))
        .collect();
    assert_eq!(stalls.len(), 1, "{stalls:?}");
    let st = stalls[0];
    assert_eq!(name(st), format!("stall G{hog} (cpu)"));
    let args = st.get("args").unwrap();
    let arg = |k: &str| {
        args.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(arg("kind"), "cpu");
    assert_eq!(args.get("goid").unwrap().as_f64(), Some(hog as f64));
    assert!(arg("at").contains("trace_hog"), "{args:?}");
    assert!(
        arg("report").contains("has blocked P0's thread"),
        "{args:?}"
    );
    let (from, dur) = (ns(st.get("ts").unwrap()), ns(st.get("dur").unwrap()));
    assert!(
        (150_000_000..2_000_000_000).contains(&dur),
        "a {dur} ns stall slice for a 300 ms hog"
    );
    // On the P's track (named P0), nested in the hog's G slice there.
    let track = key(st);
    let track_name = events
        .iter()
        .filter(|e| e.get("ph").unwrap().as_str() == Some("M") && name(e) == "thread_name")
        .find(|e| key(e) == track)
        .and_then(|e| e.get("args").unwrap().get("name").unwrap().as_str())
        .unwrap_or("");
    assert_eq!((track.0, track_name), (1, "P0"));
    let g = format!("G{hog}");
    assert!(
        events.iter().any(|e| key(e) == track
            && name(e) == g
            && ns(e.get("ts").unwrap()) <= from
            && ns(e.get("ts").unwrap()) + ns(e.get("dur").unwrap()) >= from + dur),
        "the stall slice is not inside a {g} slice on its track"
    );
}
