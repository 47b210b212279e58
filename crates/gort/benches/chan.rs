//! Channel, select and sync benchmarks with Go equivalents in `bench/go/chan_test.go`
//! (same names). Prints Go-format lines (`BenchmarkX-P  N  T ns/op`) so that benchstat and
//! `gort benchstat` can compare the two. A tiny local timing loop grows N like `go test` until
//! a run takes `GORT_BENCHTIME` seconds (default 1). crossbeam-channel and flume variants
//! block the OS thread (they do not know about goroutines), so they run between goroutines on
//! different Ps only.
//!
//! Run: `cargo bench -p gort --bench chan [filter]`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::chan::bounded;
use gort::sync::{Mutex, WaitGroup};

type Bench = fn(u64) -> Duration;

fn run(rt: &gort::Runtime, name: &str, f: Bench, procs: usize) {
    let target = std::env::var("GORT_BENCHTIME")
        .ok()
        .and_then(|s| s.trim_end_matches('s').parse::<f64>().ok())
        .map_or(Duration::from_secs(1), Duration::from_secs_f64);
    let mut n: u64 = 1;
    loop {
        if std::env::var_os("GORT_BENCH_TRACE").is_some() {
            eprintln!("{name} n={n}");
        }
        let d = rt.block_on(move || f(n));
        if d >= target || n >= 1_000_000_000 {
            println!(
                "Benchmark{name}-{procs}\t{n:>10}\t{:>12.1} ns/op",
                d.as_nanos() as f64 / n as f64
            );
            return;
        }
        // Go's predictNumber: aim 20% past the target, grow at most 100x.
        let per = (d.as_nanos().max(1) as f64) / n as f64;
        let want = (target.as_nanos() as f64 * 1.2 / per) as u64;
        n = want.clamp(n + 1, n * 100);
    }
}

fn ping_pong(n: u64) -> Duration {
    let (t1, r1) = bounded::<u64>(0);
    let (t2, r2) = bounded::<u64>(0);
    let h = gort::go(move || {
        for v in &r1 {
            t2.send(v).unwrap();
        }
    });
    let t = Instant::now();
    for i in 0..n {
        t1.send(i).unwrap();
        black_box(r2.recv().unwrap());
    }
    let d = t.elapsed();
    t1.close().unwrap();
    h.join().unwrap();
    d
}

fn buffered_1p1c(n: u64) -> Duration {
    let (tx, rx) = bounded::<u64>(1024);
    let t = Instant::now();
    let h = gort::go(move || {
        for i in 0..n {
            tx.send(i).unwrap();
        }
    });
    for _ in 0..n {
        black_box(rx.recv().unwrap());
    }
    let d = t.elapsed();
    h.join().unwrap();
    d
}

fn many_to_many(n: u64) -> Duration {
    const P: u64 = 4;
    let (tx, rx) = bounded::<u64>(128);
    let t = Instant::now();
    let ps: Vec<_> = (0..P)
        .map(|p| {
            let tx = tx.clone();
            gort::go(move || {
                for i in (p..n).step_by(P as usize) {
                    tx.send(i).unwrap();
                }
            })
        })
        .collect();
    let cs: Vec<_> = (0..P)
        .map(|_| {
            let rx = rx.clone();
            gort::go(move || rx.iter().fold(0u64, |a, v| a.wrapping_add(v)))
        })
        .collect();
    for p in ps {
        p.join().unwrap();
    }
    tx.close().unwrap();
    let s = cs
        .into_iter()
        .fold(0u64, |a, c| a.wrapping_add(c.join().unwrap()));
    let d = t.elapsed();
    black_box(s);
    d
}

fn select2(n: u64) -> Duration {
    let (a, ra) = bounded::<u64>(0);
    let (b, rb) = bounded::<u64>(0);
    let h = gort::go(move || {
        for i in 0..n {
            if i & 1 == 0 { a.send(i) } else { b.send(i) }.unwrap();
        }
    });
    let t = Instant::now();
    for _ in 0..n {
        gort::select! {
            recv(ra) -> v => black_box(v.unwrap()),
            recv(rb) -> v => black_box(v.unwrap()),
        };
    }
    let d = t.elapsed();
    h.join().unwrap();
    d
}

fn select4(n: u64) -> Duration {
    let chans: Vec<_> = (0..4).map(|_| bounded::<u64>(0)).collect();
    let txs: Vec<_> = chans.iter().map(|c| c.0.clone()).collect();
    let h = gort::go(move || {
        for i in 0..n {
            txs[(i & 3) as usize].send(i).unwrap();
        }
    });
    let r: Vec<_> = chans.iter().map(|c| c.1.clone()).collect();
    let t = Instant::now();
    for _ in 0..n {
        gort::select! {
            recv(r[0]) -> v => black_box(v.unwrap()),
            recv(r[1]) -> v => black_box(v.unwrap()),
            recv(r[2]) -> v => black_box(v.unwrap()),
            recv(r[3]) -> v => black_box(v.unwrap()),
        };
    }
    let d = t.elapsed();
    h.join().unwrap();
    d
}

fn mutex4(n: u64) -> Duration {
    let m = Arc::new(Mutex::new(0u64));
    let t = Instant::now();
    let hs: Vec<_> = (0..4)
        .map(|_| {
            let m = m.clone();
            gort::go(move || {
                for _ in 0..n / 4 {
                    *m.lock() += 1;
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let d = t.elapsed();
    black_box(*m.lock());
    d
}

fn waitgroup(n: u64) -> Duration {
    // 4 goroutines each add(1)/done() n/4 times on a shared group; then wait.
    let wg = Arc::new(WaitGroup::new());
    let t = Instant::now();
    let hs: Vec<_> = (0..4)
        .map(|_| {
            let wg = wg.clone();
            gort::go(move || {
                for _ in 0..n / 4 {
                    wg.add(1);
                    wg.done();
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    wg.wait();
    t.elapsed()
}

fn crossbeam_ping_pong(n: u64) -> Duration {
    let (t1, r1) = crossbeam_channel::bounded::<u64>(0);
    let (t2, r2) = crossbeam_channel::bounded::<u64>(0);
    let h = gort::go(move || {
        gort::blocking(move || {
            for v in r1.iter() {
                t2.send(v).unwrap();
            }
        })
    });
    let t = Instant::now();
    for i in 0..n {
        t1.send(i).unwrap();
        black_box(r2.recv().unwrap());
    }
    let d = t.elapsed();
    drop(t1);
    h.join().unwrap();
    d
}

fn crossbeam_buffered_1p1c(n: u64) -> Duration {
    let (tx, rx) = crossbeam_channel::bounded::<u64>(1024);
    let t = Instant::now();
    let h = gort::go(move || {
        gort::blocking(move || {
            for i in 0..n {
                tx.send(i).unwrap();
            }
        })
    });
    for _ in 0..n {
        black_box(rx.recv().unwrap());
    }
    let d = t.elapsed();
    h.join().unwrap();
    d
}

fn flume_ping_pong(n: u64) -> Duration {
    let (t1, r1) = flume::bounded::<u64>(0);
    let (t2, r2) = flume::bounded::<u64>(0);
    let h = gort::go(move || {
        gort::blocking(move || {
            for v in r1.iter() {
                t2.send(v).unwrap();
            }
        })
    });
    let t = Instant::now();
    for i in 0..n {
        t1.send(i).unwrap();
        black_box(r2.recv().unwrap());
    }
    let d = t.elapsed();
    drop(t1);
    h.join().unwrap();
    d
}

fn flume_buffered_1p1c(n: u64) -> Duration {
    let (tx, rx) = flume::bounded::<u64>(1024);
    let t = Instant::now();
    let h = gort::go(move || {
        gort::blocking(move || {
            for i in 0..n {
                tx.send(i).unwrap();
            }
        })
    });
    for _ in 0..n {
        black_box(rx.recv().unwrap());
    }
    let d = t.elapsed();
    h.join().unwrap();
    d
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let procs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rt = gort::Builder::new().gomaxprocs(procs).build().unwrap();
    let benches: &[(&str, Bench, bool)] = &[
        ("ChanPingPong", ping_pong, false),
        ("ChanBuffered1P1C", buffered_1p1c, false),
        ("ChanManyToMany", many_to_many, false),
        ("Select2", select2, false),
        ("Select4", select4, false),
        ("MutexContended4", mutex4, false),
        ("WaitGroup4", waitgroup, false),
        ("CrossbeamPingPong", crossbeam_ping_pong, true),
        ("CrossbeamBuffered1P1C", crossbeam_buffered_1p1c, true),
        ("FlumePingPong", flume_ping_pong, true),
        ("FlumeBuffered1P1C", flume_buffered_1p1c, true),
    ];
    println!("goos: linux\ngoarch: amd64\npkg: gort/chan");
    for (name, f, needs_two_ps) in benches {
        if !filter.is_empty() && !filter.iter().any(|p| name.contains(p.as_str())) {
            continue;
        }
        if *needs_two_ps && procs < 2 {
            continue;
        }
        run(&rt, name, *f, procs);
    }
    println!("PASS");
}
