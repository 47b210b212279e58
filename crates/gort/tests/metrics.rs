//! `gort::metrics`: the names, kinds and units of Go's `runtime/metrics` that gort supports,
//! values that move with what the program does, and the Prometheus text exposition (read by
//! the `prometheus-parse` crate), also over HTTP at `/debug/metrics`.

use std::collections::HashMap;
mod common;
use common::http_get as get;
use std::time::{Duration, Instant};

use gort::metrics::{self, Sample, Value, ValueKind};

#[global_allocator]
static A: gort::alloc::CountingAlloc = gort::alloc::CountingAlloc::system();

use ValueKind::{Float64 as F, Float64Histogram as H, Uint64 as U};

/// Every metric: name, kind, cumulative.
const EXPECTED: &[(&str, ValueKind, bool)] = &[
    ("/cpu/classes/gc/mark/assist:cpu-seconds", F, true),
    ("/cpu/classes/gc/pause:cpu-seconds", F, true),
    ("/cpu/classes/gc/total:cpu-seconds", F, true),
    ("/gc/cycles/automatic:gc-cycles", U, true),
    ("/gc/cycles/forced:gc-cycles", U, true),
    ("/gc/cycles/total:gc-cycles", U, true),
    ("/gc/gogc:percent", U, false),
    ("/gc/gomemlimit:bytes", U, false),
    ("/gc/heap/allocs:bytes", U, true),
    ("/gc/heap/allocs:objects", U, true),
    ("/gc/heap/frees:bytes", U, true),
    ("/gc/heap/frees:objects", U, true),
    ("/gc/heap/goal:bytes", U, false),
    ("/gc/heap/live:bytes", U, false),
    ("/gc/heap/objects:objects", U, false),
    ("/gc/pauses:seconds", H, true),
    ("/gc/stack/starting-size:bytes", U, false),
    ("/gort/gc/pauses/max:seconds", F, false),
    ("/gort/net/waiting:goroutines", U, false),
    ("/gort/sched/goroutines/leaked:goroutines", U, false),
    ("/gort/sched/stalled-slices:slices", U, true),
    ("/gort/sched/stalls:episodes", U, true),
    ("/gort/sched/threads/blocking:threads", U, false),
    ("/gort/stack/mapped:stacks", U, false),
    ("/gort/stack/mmaps:calls", U, true),
    ("/gort/stack/munmaps:calls", U, true),
    ("/gort/stack/releases:calls", U, true),
    ("/memory/classes/heap/free:bytes", U, false),
    ("/memory/classes/heap/objects:bytes", U, false),
    ("/memory/classes/heap/released:bytes", U, false),
    ("/memory/classes/heap/stacks:bytes", U, false),
    ("/memory/classes/heap/unused:bytes", U, false),
    ("/memory/classes/total:bytes", U, false),
    ("/sched/gomaxprocs:threads", U, false),
    ("/sched/goroutines-created:goroutines", U, true),
    ("/sched/goroutines/not-in-go:goroutines", U, false),
    ("/sched/goroutines/runnable:goroutines", U, false),
    ("/sched/goroutines/running:goroutines", U, false),
    ("/sched/goroutines/waiting:goroutines", U, false),
    ("/sched/goroutines:goroutines", U, false),
    ("/sched/latencies:seconds", H, true),
    ("/sched/pauses/total/gc:seconds", H, true),
    ("/sched/threads/total:threads", U, false),
];

fn read1(name: &str) -> Value {
    let mut s = [Sample::new(name)];
    metrics::read(&mut s);
    let [s] = s;
    s.value
}

fn u(name: &str) -> u64 {
    read1(name).uint64()
}

fn hist_count(name: &str) -> u64 {
    read1(name).float64_histogram().counts.iter().sum()
}

#[test]
fn names_kinds_and_units_match_the_list() {
    let all = metrics::all();
    let got: Vec<(&str, ValueKind, bool)> =
        all.iter().map(|d| (d.name, d.kind, d.cumulative)).collect();
    assert_eq!(got, EXPECTED);
    for d in all {
        assert!(!d.description.is_empty(), "{}", d.name);
    }
    // Every Go name here is one of Go 1.26's, with Go's kind and cumulative flag.
    let go: HashMap<&str, (ValueKind, bool)> = [
        ("/gc/pauses:seconds", (H, true)),
        ("/sched/latencies:seconds", (H, true)),
        ("/gc/heap/goal:bytes", (U, false)),
        ("/gc/cycles/total:gc-cycles", (U, true)),
        ("/cpu/classes/gc/total:cpu-seconds", (F, true)),
    ]
    .into_iter()
    .collect();
    for d in all {
        if let Some(&(k, c)) = go.get(d.name) {
            assert_eq!((d.kind, d.cumulative), (k, c), "{}", d.name);
        }
    }
    // read_all gives every metric a value of its kind.
    for (s, d) in metrics::read_all().iter().zip(all) {
        assert_eq!(s.name, d.name);
        assert_eq!(s.value.kind(), d.kind, "{}", d.name);
        if let Value::Float64Histogram(h) = &s.value {
            assert_eq!(h.buckets.len(), h.counts.len() + 1, "{}", d.name);
            assert!(h.buckets.windows(2).all(|w| w[0] < w[1]), "{}", d.name);
            assert_eq!(h.buckets.last(), Some(&f64::INFINITY));
        }
    }
}

#[test]
fn an_unknown_name_reads_bad() {
    let mut s = [
        Sample::new("/no/such:metric"),
        Sample::new("/sched/gomaxprocs:threads"),
        Sample::new("/sched/gomaxprocs"),
    ];
    metrics::read(&mut s);
    assert_eq!(s[0].value, Value::Bad);
    assert_eq!(s[0].value.kind(), ValueKind::Bad);
    assert_eq!(s[1].value.kind(), ValueKind::Uint64);
    assert_eq!(s[2].value, Value::Bad);
}

#[test]
fn goroutine_states_move() {
    let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
    rt.block_on(|| {
        assert_eq!(u("/sched/gomaxprocs:threads"), 2);
        assert!(u("/sched/threads/total:threads") >= 2);
        assert!(u("/sched/goroutines/running:goroutines") >= 1); // this one
        let created0 = u("/sched/goroutines-created:goroutines");
        let (tx, rx) = gort::chan::bounded::<()>(0);
        let hs: Vec<_> = (0..100)
            .map(|_| {
                let rx = rx.clone();
                gort::go(move || {
                    let _ = rx.recv();
                })
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        while u("/sched/goroutines/waiting:goroutines") < 100 {
            assert!(Instant::now() < deadline, "the 100 goroutines never parked");
            gort::time::sleep(Duration::from_millis(2));
        }
        assert!(u("/sched/goroutines:goroutines") >= 101);
        assert!(u("/sched/goroutines-created:goroutines") >= created0 + 100);
        assert!(u("/gort/stack/mapped:stacks") >= 100);
        let stack = u("/gc/stack/starting-size:bytes");
        assert_eq!(stack, gort::DEFAULT_STACK_SIZE as u64);
        assert!(u("/memory/classes/heap/stacks:bytes") >= 100 * stack);
        assert_eq!(u("/gort/sched/goroutines/leaked:goroutines"), 0);
        tx.close().unwrap(); // the receivers wake with an error
        for h in hs {
            h.join().unwrap();
        }
        assert!(u("/sched/goroutines/waiting:goroutines") < 100);
        // A join can return just before its goroutine's exit is counted.
        let deadline = Instant::now() + Duration::from_secs(10);
        while u("/sched/goroutines:goroutines") >= 100 {
            assert!(Instant::now() < deadline, "the 100 goroutines never exited");
            gort::time::sleep(Duration::from_millis(2));
        }
    });
}

#[test]
fn a_goroutine_in_blocking_is_not_in_go() {
    let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
    rt.block_on(|| {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let h = gort::go(move || gort::blocking(move || rx.recv()));
        let deadline = Instant::now() + Duration::from_secs(10);
        while u("/sched/goroutines/not-in-go:goroutines") < 1 {
            assert!(Instant::now() < deadline, "never counted as not in Go");
            gort::time::sleep(Duration::from_millis(2));
        }
        assert!(u("/gort/sched/threads/blocking:threads") >= 1);
        tx.send(()).unwrap();
        h.join().unwrap().unwrap();
        assert_eq!(u("/sched/goroutines/not-in-go:goroutines"), 0);
    });
}

#[test]
fn a_leaked_goroutine_is_counted() {
    let rt = gort::Builder::new().gomaxprocs(1).build().unwrap();
    rt.block_on(|| {
        let (tx, rx) = gort::chan::bounded::<u32>(0);
        let _h = gort::go(move || {
            let _ = tx.send(1); // the receiver is dropped below: never completes
        });
        gort::time::sleep(Duration::from_millis(10));
        drop(rx);
        assert_eq!(u("/gort/sched/goroutines/leaked:goroutines"), 1);
    });
}

#[test]
fn scheduling_latency_is_sampled() {
    let before = hist_count("/sched/latencies:seconds");
    let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
    rt.block_on(|| {
        let (ping_tx, ping_rx) = gort::chan::bounded::<u32>(0);
        let (pong_tx, pong_rx) = gort::chan::bounded::<u32>(0);
        let h = gort::go(move || {
            for v in ping_rx.iter() {
                pong_tx.send(v).unwrap();
            }
        });
        for i in 0..10_000 {
            ping_tx.send(i).unwrap();
            pong_rx.recv().unwrap();
        }
        ping_tx.close().unwrap();
        h.join().unwrap();
    });
    // 20,000 wake-ups, one in 64 per P sampled.
    let after = read1("/sched/latencies:seconds");
    let h = after.float64_histogram();
    let n: u64 = h.counts.iter().sum();
    assert!(n >= before + 100, "{before} -> {n} samples");
    // Not all in the top (18 min and more) bucket: real latencies.
    assert!(h.counts[..h.counts.len() - 1].iter().sum::<u64>() >= 100);
}

#[test]
fn a_forced_gc_moves_cycles_and_pauses() {
    let names = [
        "/gc/cycles/forced:gc-cycles",
        "/gc/cycles/total:gc-cycles",
        "/gc/pauses:seconds",
        "/sched/pauses/total/gc:seconds",
        "/cpu/classes/gc/pause:cpu-seconds",
    ];
    let mut s: Vec<Sample> = names.iter().map(|n| Sample::new(*n)).collect();
    metrics::read(&mut s);
    let before = s.clone();
    // Something on the GC heap, so the collection has work.
    let keep: Vec<gort::Gc<u64>> = (0..1000).map(gort::Gc::new).collect();
    gort::gc();
    metrics::read(&mut s);
    assert!(s[0].value.uint64() > before[0].value.uint64());
    assert!(s[1].value.uint64() > before[1].value.uint64());
    for i in [2, 3] {
        let (h0, h1) = (
            before[i].value.float64_histogram(),
            s[i].value.float64_histogram(),
        );
        let (n0, n1): (u64, u64) = (h0.counts.iter().sum(), h1.counts.iter().sum());
        assert!(
            n1 >= n0 + 2,
            "{}: {n0} -> {n1} (two pauses a cycle)",
            names[i]
        );
        assert_eq!(h0.buckets, h1.buckets, "boundaries never change");
    }
    assert!(s[4].value.float64() > before[4].value.float64());
    assert!(u("/gc/heap/goal:bytes") > 0);
    assert!(
        u("/gc/heap/live:bytes") >= 1000 * 8,
        "the 1000 objects are live"
    );
    assert_eq!(u("/gc/gogc:percent"), 100);
    assert_eq!(u("/gc/gomemlimit:bytes"), i64::MAX as u64);
    drop(keep);
}

#[test]
fn allocations_and_frees_are_counted() {
    let allocs0 = u("/gc/heap/allocs:objects");
    let bytes0 = u("/gc/heap/allocs:bytes");
    let v: Vec<Box<[u8; 64]>> = (0..1000).map(|_| Box::new([0u8; 64])).collect();
    std::hint::black_box(&v);
    assert!(u("/gc/heap/allocs:objects") >= allocs0 + 1000);
    assert!(u("/gc/heap/allocs:bytes") >= bytes0 + 64_000);
    assert!(u("/memory/classes/heap/objects:bytes") >= 64_000);
    let frees0 = u("/gc/heap/frees:objects");
    drop(v);
    assert!(u("/gc/heap/frees:objects") >= frees0 + 1000);
    let total = u("/memory/classes/total:bytes");
    let parts: u64 = [
        "/memory/classes/heap/free:bytes",
        "/memory/classes/heap/objects:bytes",
        "/memory/classes/heap/released:bytes",
        "/memory/classes/heap/stacks:bytes",
        "/memory/classes/heap/unused:bytes",
    ]
    .iter()
    .map(|n| u(n))
    .sum();
    // Read at different instants by a running program: close, not equal.
    assert!(
        total.abs_diff(parts) < total / 2 + (1 << 20),
        "{total} vs {parts}"
    );
}

#[inline(never)]
fn hog(d: Duration) -> u64 {
    common::spin_until(Instant::now() + d)
}

#[test]
fn a_stall_is_an_episode() {
    let rt = gort::Builder::new().gomaxprocs(1).build().unwrap();
    rt.block_on(|| {
        let stalls0 = u("/gort/sched/stalls:episodes");
        let slices0 = u("/gort/sched/stalled-slices:slices");
        // A CPU-bound loop that makes no runtime call, with another goroutine waiting.
        let other = gort::go(|| ());
        hog(Duration::from_millis(300));
        other.join().unwrap();
        // Reported once (past stalltrace's 100 ms), and counted in 10 ms slices.
        assert_eq!(u("/gort/sched/stalls:episodes"), stalls0 + 1);
        assert!(u("/gort/sched/stalled-slices:slices") > slices0);
        assert_eq!(u("/gort/sched/stalls:episodes"), gort::debug::num_stalls());
    });
}

/// Parses `text` with `prometheus-parse` and checks that every metric of `all()` is there,
/// typed, and that histograms are consistent.
fn check_exposition(text: &str) {
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("prometheus-parse reads it");
    let by_name: HashMap<&str, &prometheus_parse::Sample> = scrape
        .samples
        .iter()
        .map(|s| (s.metric.as_str(), s))
        .collect();
    for d in metrics::all() {
        let path = d.name.split(':').next().unwrap();
        let unit = d.name.split(':').nth(1).unwrap();
        let ns = if path.starts_with("/gort/") {
            ""
        } else {
            "go_"
        };
        let mut name = format!("{ns}{}_{unit}", &path[1..]).replace(['/', '-'], "_");
        if d.cumulative && d.kind != H {
            name.push_str("_total");
        }
        assert!(scrape.docs.contains_key(&name), "no HELP for {name}");
        let s = by_name
            .get(name.as_str())
            .unwrap_or_else(|| panic!("{} ({name}) missing", d.name));
        match (&s.value, d.kind, d.cumulative) {
            (prometheus_parse::Value::Counter(v), U | F, true) => assert!(*v >= 0.0),
            (prometheus_parse::Value::Gauge(v), U | F, false) => assert!(v.is_finite()),
            (prometheus_parse::Value::Histogram(buckets), H, _) => {
                assert_eq!(buckets.len(), 35, "{name}");
                for w in buckets.windows(2) {
                    assert!(w[0].less_than < w[1].less_than, "{name}: le order");
                    assert!(w[0].count <= w[1].count, "{name}: buckets decrease");
                }
                let last = buckets.last().unwrap();
                assert_eq!(last.less_than, f64::INFINITY, "{name}");
                let count = match by_name.get(format!("{name}_count").as_str()) {
                    Some(s) => match s.value {
                        prometheus_parse::Value::Untyped(c)
                        | prometheus_parse::Value::Counter(c)
                        | prometheus_parse::Value::Gauge(c) => c,
                        ref v => panic!("{name}_count: {v:?}"),
                    },
                    None => panic!("{name}_count missing"),
                };
                assert_eq!(last.count, count, "{name}: +Inf bucket != _count");
                assert!(by_name.contains_key(format!("{name}_sum").as_str()));
            }
            (v, k, c) => panic!("{name}: {v:?} for a {k:?} (cumulative {c})"),
        }
    }
    assert!(text.contains("# TYPE go_sched_latencies_seconds histogram"));
    assert!(text.contains("# TYPE go_gc_cycles_total_gc_cycles_total counter"));
    assert!(text.contains("# TYPE go_gc_heap_goal_bytes gauge"));
}

#[test]
fn prometheus_text_parses_with_every_metric() {
    gort::gc(); // a pause in the histograms
    let mut out = Vec::new();
    metrics::write_prometheus(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    check_exposition(&text);
    // A histogram with data: the pause histogram's count is the cycles' pauses.
    let line = text
        .lines()
        .find(|l| l.starts_with("go_gc_pauses_seconds_count "))
        .unwrap();
    let n: f64 = line.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(n >= 2.0, "{line}");
}

#[test]
fn debug_metrics_is_served_over_http() {
    let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
    let l = rt
        .block_on(|| gort::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = l.local_addr().unwrap().port();
    let _server = rt.go(move || gort::prof::http::serve(&l));
    let (head, body) = get(port, "/debug/metrics");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    let text = String::from_utf8(body).unwrap();
    check_exposition(&text);
    // The server's runtime: its serving goroutine is running or waiting, and it has 2 Ps.
    assert!(text.contains("\ngo_sched_gomaxprocs_threads 2\n"), "{text}");
    // Scraped again: the cumulative counters did not go down.
    let created = |t: &str| -> f64 {
        let l = t
            .lines()
            .find(|l| l.starts_with("go_sched_goroutines_created_goroutines_total "))
            .expect("created line");
        l.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let (_, body2) = get(port, "/debug/metrics");
    let text2 = String::from_utf8(body2).unwrap();
    assert!(
        created(&text2) >= created(&text) + 1.0,
        "each request is served by a new goroutine"
    );
}
