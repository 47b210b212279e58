//! Runtime metrics: some work, the metrics read by name, and the Prometheus text that
//! `/debug/metrics` serves.
//!
//! `cargo run --example metrics` prints the text once and exits; with `serve` it keeps serving
//! `http://127.0.0.1:6060/debug/metrics` (and `/debug/pprof/`) for `curl` or Prometheus:
//! `cargo run --example metrics -- serve`, then
//! `curl -s http://127.0.0.1:6060/debug/metrics | grep ^go_sched`.

use std::time::Duration;

use gort::metrics::{self, Sample};

#[global_allocator]
static A: gort::alloc::CountingAlloc = gort::alloc::CountingAlloc::system();

#[gort::main]
fn main() {
    // Some goroutines that wait, a ping-pong for the latency histogram, a forced GC.
    let (tx, rx) = gort::chan::bounded::<()>(0);
    for _ in 0..100 {
        let rx = rx.clone();
        gort::go(move || {
            let _ = rx.recv();
        });
    }
    let (a_tx, a_rx) = gort::chan::bounded::<u32>(0);
    let (b_tx, b_rx) = gort::chan::bounded::<u32>(0);
    gort::go(move || {
        for v in a_rx.iter() {
            let _ = b_tx.send(v);
        }
    });
    for i in 0..10_000 {
        a_tx.send(i).unwrap();
        b_rx.recv().unwrap();
    }
    let objs: Vec<gort::Gc<u64>> = (0..10_000).map(gort::Gc::new).collect();
    gort::gc();
    drop(objs);
    gort::time::sleep(Duration::from_millis(10));

    let mut s = [
        Sample::new("/sched/goroutines:goroutines"),
        Sample::new("/sched/goroutines/waiting:goroutines"),
        Sample::new("/sched/latencies:seconds"),
        Sample::new("/gc/cycles/total:gc-cycles"),
    ];
    metrics::read(&mut s);
    println!(
        "goroutines {} (waiting {}), latency samples {}, GC cycles {}",
        s[0].value.uint64(),
        s[1].value.uint64(),
        s[2].value.float64_histogram().counts.iter().sum::<u64>(),
        s[3].value.uint64()
    );

    // What a read costs: the goroutine counts, every metric, then the Prometheus text.
    let mut g = [
        Sample::new("/sched/goroutines:goroutines"),
        Sample::new("/sched/goroutines/waiting:goroutines"),
    ];
    metrics::read(&mut g);
    let t = std::time::Instant::now();
    metrics::read(&mut g);
    let read_two = t.elapsed();
    let t = std::time::Instant::now();
    let all = metrics::read_all();
    let read_all = t.elapsed();
    let t = std::time::Instant::now();
    let mut text = Vec::new();
    metrics::write_prometheus(&mut text).unwrap();
    eprintln!(
        "read of 2 goroutine counts: {read_two:?}; read_all ({} metrics): {read_all:?}; \
         write_prometheus ({} bytes): {:?}",
        all.len(),
        text.len(),
        t.elapsed()
    );

    if std::env::args().nth(1).as_deref() == Some("serve") {
        println!("serving http://127.0.0.1:6060/debug/metrics");
        gort::prof::http::listen_and_serve("127.0.0.1:6060").unwrap();
    } else {
        metrics::write_prometheus(&mut std::io::stdout()).unwrap();
    }
    tx.close().unwrap();
}
