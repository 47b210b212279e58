//! gort's runtime benchmarks, printed in Go's format; `bench/go/runtime_test.go` holds the Go
//! equivalents under the same names, for side-by-side comparison with benchstat.
//!
//! `cargo bench -p gort --bench runtime -- -benchtime 1000x -benchmem`
//!
//! The benchmarks that use goroutines run their loop inside one, as Go runs a benchmark
//! function in a goroutine.

use std::hint::black_box;

use gort::testing::B;

#[global_allocator]
static A: gort::alloc::CountingAlloc = gort::alloc::CountingAlloc::system();

/// One 64-byte heap object per op (Go: `new([64]byte)` escaping to the heap).
fn bench_alloc(b: &mut B) {
    for _ in b.iter() {
        black_box(Box::new([0u8; 64]));
    }
}

/// A growing slice of 16 ints per op (Go: `append` without a capacity hint).
fn bench_alloc_vec(b: &mut B) {
    for _ in b.iter() {
        let mut v: Vec<i64> = Vec::new();
        for i in 0..16 {
            v.push(black_box(i));
        }
        black_box(v);
    }
}

/// The same 64-byte allocation from every P in parallel.
fn bench_alloc_parallel(b: &mut B) {
    b.run_parallel(|pb| {
        while pb.next() {
            black_box(Box::new([0u8; 64]));
        }
    });
}

/// Start a goroutine that does nothing and wait for it: Go's `go func() { wg.Done() }()` with
/// a `WaitGroup.Wait` per batch of 128, from a goroutine (Go runs the benchmark body in one).
fn bench_spawn(b: &mut B) {
    let n = b.n();
    gort::go(move || {
        const BATCH: u64 = 128;
        let wg = std::sync::Arc::new(gort::sync::WaitGroup::new());
        let mut left = n;
        while left > 0 {
            let k = left.min(BATCH);
            wg.add(k as i32);
            for _ in 0..k {
                let wg = wg.clone();
                drop(gort::go(move || wg.done()));
            }
            wg.wait();
            left -= k;
        }
    })
    .join()
    .unwrap();
}

/// Spawn and join through the handle, collecting results (no Go equivalent: Go has no join).
fn bench_spawn_join(b: &mut B) {
    let n = b.n();
    gort::go(move || {
        const BATCH: u64 = 128;
        let mut handles = Vec::with_capacity(BATCH as usize);
        let mut left = n;
        while left > 0 {
            let k = left.min(BATCH);
            for i in 0..k {
                handles.push(gort::go(move || i));
            }
            for h in handles.drain(..) {
                black_box(h.join().unwrap());
            }
            left -= k;
        }
    })
    .join()
    .unwrap();
}

/// `runtime.Gosched` in a loop, from a goroutine.
fn bench_yield(b: &mut B) {
    let n = b.n();
    gort::go(move || {
        for _ in 0..n {
            gort::yield_now();
        }
    })
    .join()
    .unwrap();
}

/// A round trip over two unbuffered channels between two goroutines.
fn bench_ping_pong(b: &mut B) {
    let n = b.n();
    gort::go(move || {
        let (ping_tx, ping_rx) = gort::chan::bounded::<u64>(0);
        let (pong_tx, pong_rx) = gort::chan::bounded::<u64>(0);
        let echo = gort::go(move || {
            while let Ok(v) = ping_rx.recv() {
                pong_tx.send(v).unwrap();
            }
        });
        for i in 0..n {
            ping_tx.send(i).unwrap();
            black_box(pong_rx.recv().unwrap());
        }
        ping_tx.close().unwrap();
        echo.join().unwrap();
    })
    .join()
    .unwrap();
}

/// A round trip between two goroutines through the raw park/unpark primitive (Go's
/// gopark/goready have no public API; the Go side uses one-slot token channels, the nearest
/// equivalent of a permit).
fn bench_park_ping_pong(b: &mut B) {
    use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
    use std::sync::{Arc, Mutex};
    let n = b.n();
    gort::go(move || {
        let turn = Arc::new(AtomicU64::new(0));
        let peer: Arc<Mutex<Option<gort::Unparker>>> = Arc::default();
        let (t2, p2) = (turn.clone(), peer.clone());
        let me = gort::Unparker::current();
        let echo = gort::go(move || {
            *p2.lock().unwrap() = Some(gort::Unparker::current());
            for i in 0..n {
                while t2.load(SeqCst) != 2 * i + 1 {
                    gort::park(gort::WaitReason::User);
                }
                t2.store(2 * i + 2, SeqCst);
                me.unpark();
            }
        });
        let other = loop {
            if let Some(u) = peer.lock().unwrap().clone() {
                break u;
            }
            gort::yield_now();
        };
        for i in 0..n {
            turn.store(2 * i + 1, SeqCst);
            other.unpark();
            while turn.load(SeqCst) != 2 * i + 2 {
                gort::park(gort::WaitReason::User);
            }
        }
        echo.join().unwrap();
    })
    .join()
    .unwrap();
}

/// Spawn a goroutine that parks, hold them all, then wake them: ns/op is the cost of a parked
/// goroutine's life (with stacks recycled through the pools, as in steady state);
/// `resident-B/goroutine` is the resident memory each adds while parked, measured in an
/// untimed round of up to 20,000 (so the default vm.max_map_count suffices) after the stack
/// pools were emptied, so that every stack is fresh. Goal: at most 8 KiB. Go's equivalent
/// blocks goroutines on a channel.
fn bench_parked_goroutine(b: &mut B) {
    const MAX_LIVE: u64 = 20_000;
    let n = b.n();
    gort::go(move || {
        let mut left = n;
        while left > 0 {
            let k = left.min(MAX_LIVE);
            parked_round(k);
            left -= k;
        }
    })
    .join()
    .unwrap();
    if n >= 1000 {
        b.stop_timer();
        let per_g = gort::go(move || {
            gort::debug::free_os_memory();
            let k = n.min(MAX_LIVE);
            parked_round(k) / k as f64
        })
        .join()
        .unwrap();
        b.start_timer();
        b.report_metric(per_g, "resident-B/goroutine");
    }
}

/// Parks `k` goroutines at once, then releases them; returns the RSS growth while parked.
fn parked_round(k: u64) -> f64 {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    use std::sync::{Arc, Mutex};
    let rss = || {
        let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
        s.split_whitespace()
            .nth(1)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            * 4096
    };
    let release = Arc::new(AtomicBool::new(false));
    let parked = Arc::new(AtomicUsize::new(0));
    let wakers = Arc::new(Mutex::new(Vec::with_capacity(k as usize)));
    let before = rss();
    let hs: Vec<_> = (0..k)
        .map(|_| {
            let (r, p, w) = (release.clone(), parked.clone(), wakers.clone());
            gort::go(move || {
                w.lock().unwrap().push(gort::Unparker::current());
                p.fetch_add(1, SeqCst);
                while !r.load(SeqCst) {
                    gort::park(gort::WaitReason::User);
                }
            })
        })
        .collect();
    while parked.load(SeqCst) < k as usize {
        gort::yield_now();
    }
    let grown = rss().saturating_sub(before) as f64;
    release.store(true, SeqCst);
    for u in wakers.lock().unwrap().drain(..) {
        u.unpark();
    }
    for h in hs {
        h.join().unwrap();
    }
    grown
}

/// Goroutines that each sleep 1 ms (spawned back to back, so thousands sleep at once): ns/op
/// is the whole life of a sleeping goroutine (spawn, timer, park, wake-up, exit). Go's
/// equivalent calls time.Sleep.
fn bench_sleepers(b: &mut B) {
    let n = b.n();
    gort::go(move || {
        let wg = std::sync::Arc::new(gort::sync::WaitGroup::new());
        wg.add(n as i32);
        for _ in 0..n {
            let wg = wg.clone();
            drop(gort::go(move || {
                gort::time::sleep(std::time::Duration::from_millis(1));
                wg.done();
            }));
        }
        wg.wait();
    })
    .join()
    .unwrap();
}

gort::goroutine_local!(static COUNTER: std::cell::Cell<u64> = std::cell::Cell::new(0));

/// One read-modify-write of a goroutine-local value (`gort::goroutine_local!`): the cost of
/// per-request context. Go has no goroutine-local storage (context.Context is passed instead),
/// so there is no Go twin.
fn bench_goroutine_local(b: &mut B) {
    let n = b.n();
    let total = gort::go(move || {
        for _ in 0..n {
            COUNTER.with(|c| c.set(std::hint::black_box(c.get()) + 1));
        }
        COUNTER.with(|c| c.get())
    })
    .join()
    .unwrap();
    assert_eq!(total, n);
}

gort::benchmarks!(
    bench_alloc,
    bench_alloc_vec,
    bench_alloc_parallel,
    bench_spawn,
    bench_spawn_join,
    bench_yield,
    bench_ping_pong,
    bench_park_ping_pong,
    bench_parked_goroutine,
    bench_sleepers,
    bench_goroutine_local,
);
