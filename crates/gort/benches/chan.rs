//! Channel, select and sync benchmarks with Go equivalents in `bench/go/chan_test.go`
//! (same names), on gort's own benchmark harness (`gort::testing`, Go's flags and output
//! format). crossbeam-channel and flume variants block the OS thread (they do not know about
//! goroutines), so their partner runs on the blocking pool.
//!
//! Run: `cargo bench -p gort --bench chan -- -benchmem`, or side by side with Go:
//! `cargo run --release -p gort-cli -- bench --compare-go --target runtime --target chan`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::chan::bounded;
use gort::sync::{Mutex, WaitGroup};

use gort::testing::B;

#[global_allocator]
static A: gort::alloc::CountingAlloc = gort::alloc::CountingAlloc::system();

type Bench = fn(u64) -> Duration;

/// Runs one of the timed bodies below under the benchmark harness, inside a goroutine (as Go
/// runs a benchmark body). Each body times its own loop, leaving out its set-up; the harness
/// times the whole call, so set-up (a goroutine or two, a channel) is in ns/op, amortised
/// over b.N.
fn harness(b: &mut B, f: Bench) {
    let n = b.n();
    gort::go(move || f(n)).join().unwrap();
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

/// The ping-pong and buffered bodies for a thread-blocking channel crate (crossbeam-channel,
/// flume): the same code, instantiated for each crate's `bounded`.
macro_rules! blocking_channel_benches {
    ($ping_pong:ident, $buffered:ident, $bounded:path) => {
        fn $ping_pong(n: u64) -> Duration {
            let (t1, r1) = $bounded(0);
            let (t2, r2) = $bounded(0);
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

        fn $buffered(n: u64) -> Duration {
            let (tx, rx) = $bounded(1024);
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
    };
}

blocking_channel_benches!(
    crossbeam_ping_pong,
    crossbeam_buffered_1p1c,
    crossbeam_channel::bounded::<u64>
);
blocking_channel_benches!(flume_ping_pong, flume_buffered_1p1c, flume::bounded::<u64>);

fn bench_chan_ping_pong(b: &mut B) {
    harness(b, ping_pong)
}
fn bench_chan_buffered_1p1c(b: &mut B) {
    harness(b, buffered_1p1c)
}
fn bench_chan_many_to_many(b: &mut B) {
    harness(b, many_to_many)
}
fn bench_select2(b: &mut B) {
    harness(b, select2)
}
fn bench_select4(b: &mut B) {
    harness(b, select4)
}
fn bench_mutex_contended4(b: &mut B) {
    harness(b, mutex4)
}
fn bench_wait_group4(b: &mut B) {
    harness(b, waitgroup)
}
fn bench_crossbeam_ping_pong(b: &mut B) {
    harness(b, crossbeam_ping_pong)
}
fn bench_crossbeam_buffered_1p1c(b: &mut B) {
    harness(b, crossbeam_buffered_1p1c)
}
fn bench_flume_ping_pong(b: &mut B) {
    harness(b, flume_ping_pong)
}
fn bench_flume_buffered_1p1c(b: &mut B) {
    harness(b, flume_buffered_1p1c)
}

fn main() {
    // Explicit names: they must match bench/go/chan_test.go for side-by-side comparison.
    gort::testing::main(&[
        ("ChanPingPong", bench_chan_ping_pong as fn(&mut B)),
        ("ChanBuffered1P1C", bench_chan_buffered_1p1c),
        ("ChanManyToMany", bench_chan_many_to_many),
        ("Select2", bench_select2),
        ("Select4", bench_select4),
        ("MutexContended4", bench_mutex_contended4),
        ("WaitGroup4", bench_wait_group4),
        ("CrossbeamPingPong", bench_crossbeam_ping_pong),
        ("CrossbeamBuffered1P1C", bench_crossbeam_buffered_1p1c),
        ("FlumePingPong", bench_flume_ping_pong),
        ("FlumeBuffered1P1C", bench_flume_buffered_1p1c),
    ]);
}
