//! The scheduling suite (issue 15): workloads whose goroutines span Ps, where placement,
//! wake-ups and load balance decide the time, not one channel operation. `bench/go/sched_test.go`
//! holds the Go twins under the same names and with the same workloads;
//! `bench/sched/run.sh` runs both at GOMAXPROCS=1 and 2, quiet and under a competing load, and
//! prints the ratio table (see `bench/sched/README.md`).
//!
//! `cargo bench -p gort --bench sched -- -benchtime 200ms`
//!
//! Every benchmark runs its body inside one goroutine (as Go runs a benchmark function in a
//! goroutine) and spawns its goroutines from there. Set-up (spawning the chain, the producers,
//! the workers) is inside the timed region on both sides, amortised over b.N: spawning and
//! placing those goroutines is part of what the suite measures. Each benchmark's comment says
//! what one op is; both sides use the same constants.
//!
//! Only the public API is used (`gort::go`, `gort::chan::bounded`, `gort::sync::WaitGroup`,
//! `JoinHandle::join`), so the suite measures whatever scheduler it is built against.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gort::chan::{bounded, Receiver, Sender};
use gort::sync::WaitGroup;
use gort::testing::B;

#[global_allocator]
static A: gort::alloc::CountingAlloc = gort::alloc::CountingAlloc::system();

/// Runs `f(b.n())` in a goroutine and waits for it.
fn in_goroutine<T: Send + 'static>(b: &B, f: fn(u64) -> T) -> T {
    let n = b.n();
    gort::go(move || f(n)).join().unwrap()
}

/// Relay goroutines in the pipeline chain.
const CHAIN_STAGES: u64 = 2000;

/// PipelineChain: a chain of 2,000 relay goroutines joined by unbuffered channels (the shape
/// of the prime sieve, without the arithmetic); a feeder goroutine pushes ceil(N/2000) items
/// in at one end and the benchmark goroutine takes them out at the other. One op = one item
/// crossing one stage (one unbuffered hand-off), so ns/op is the cost of a pipeline hop.
fn bench_sched_pipeline_chain(b: &mut B) {
    in_goroutine(b, |n| {
        let items = n.div_ceil(CHAIN_STAGES);
        let (first_tx, mut rx) = bounded::<u64>(0);
        let mut stages = Vec::with_capacity(CHAIN_STAGES as usize);
        for _ in 0..CHAIN_STAGES {
            let (tx, next_rx) = bounded::<u64>(0);
            let input = std::mem::replace(&mut rx, next_rx);
            stages.push(gort::go(move || {
                for v in &input {
                    tx.send(v + 1).unwrap();
                }
                tx.close().unwrap();
            }));
        }
        let feeder = gort::go(move || {
            for i in 0..items {
                first_tx.send(i).unwrap();
            }
            first_tx.close().unwrap();
        });
        let mut sum = 0u64;
        for v in &rx {
            sum = sum.wrapping_add(v);
        }
        feeder.join().unwrap();
        for s in stages {
            s.join().unwrap();
        }
        assert_eq!(
            sum,
            items * items.saturating_sub(1) / 2 + items * CHAIN_STAGES
        );
    })
}

/// Producers in FanIn.
const FANIN_PRODUCERS: u64 = 100;

/// FanIn: 100 producer goroutines send into one unbuffered channel, the benchmark goroutine
/// receives. One op = one item received (the N items are shared out among the producers).
fn bench_sched_fan_in(b: &mut B) {
    in_goroutine(b, |n| {
        let (tx, rx) = bounded::<u64>(0);
        let producers: Vec<_> = (0..FANIN_PRODUCERS)
            .map(|p| {
                let tx = tx.clone();
                gort::go(move || {
                    let mut i = p;
                    while i < n {
                        tx.send(i).unwrap();
                        i += FANIN_PRODUCERS;
                    }
                })
            })
            .collect();
        let mut sum = 0u64;
        for _ in 0..n {
            sum = sum.wrapping_add(rx.recv().unwrap());
        }
        for p in producers {
            p.join().unwrap();
        }
        black_box(sum);
    })
}

/// Workers in WorkerPool (fixed, so that 1 P and 2 Ps run the same program).
const POOL_WORKERS: usize = 8;
/// Capacity of the jobs and the results channels.
const POOL_BUFFER: usize = 64;
/// xorshift rounds per job: about 1.7 us of dependent arithmetic (the same in both compilers).
const POOL_WORK_ROUNDS: u32 = 1000;

/// The job: POOL_WORK_ROUNDS rounds of xorshift64 (the same arithmetic in the Go twin).
fn pool_work(mut x: u64) -> u64 {
    x |= 1;
    for _ in 0..POOL_WORK_ROUNDS {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}

/// WorkerPool: fan-out/fan-in. A dispatcher goroutine sends N jobs into a 64-slot jobs
/// channel, 8 worker goroutines each compute ~1.7 us of arithmetic per job and send the
/// result into a 64-slot results channel, and the benchmark goroutine collects the N results.
/// One op = one job dispatched, computed and collected; the work dominates, so at 2 Ps ns/op
/// should approach half the 1-P figure: this is the suite's test of load balance.
fn bench_sched_worker_pool(b: &mut B) {
    in_goroutine(b, |n| {
        let (jobs_tx, jobs_rx) = bounded::<u64>(POOL_BUFFER);
        let (res_tx, res_rx) = bounded::<u64>(POOL_BUFFER);
        let workers: Vec<_> = (0..POOL_WORKERS)
            .map(|_| {
                let (jobs, res) = (jobs_rx.clone(), res_tx.clone());
                gort::go(move || {
                    for j in &jobs {
                        res.send(pool_work(j)).unwrap();
                    }
                })
            })
            .collect();
        let dispatcher = gort::go(move || {
            for i in 0..n {
                jobs_tx.send(i).unwrap();
            }
            jobs_tx.close().unwrap();
        });
        let mut sum = 0u64;
        for _ in 0..n {
            sum = sum.wrapping_add(res_rx.recv().unwrap());
        }
        dispatcher.join().unwrap();
        for w in workers {
            w.join().unwrap();
        }
        black_box(sum);
    })
}

/// One node of the spawn tree: a goroutine that owns `k` goroutines (itself and its
/// subtree), spawns two children owning the rest split in halves, and joins them.
fn tree_node(k: u64) {
    let rest = k - 1;
    let left = rest / 2;
    let right = rest - left;
    let l = (left > 0).then(|| gort::go(move || tree_node(left)));
    let r = (right > 0).then(|| gort::go(move || tree_node(right)));
    if let Some(l) = l {
        l.join().unwrap();
    }
    if let Some(r) = r {
        r.join().unwrap();
    }
}

/// SpawnTree: a binary spawn tree of exactly N goroutines: each spawns two children (the
/// rest of its share split in halves) and joins them (Go: a WaitGroup per node). One op = one
/// goroutine of the tree. `bench/sched/run.sh` runs it at `-benchtime 1048575x`: the full
/// binary tree of depth 20, a million goroutines.
fn bench_sched_spawn_tree(b: &mut B) {
    let n = b.n();
    if n > 0 {
        gort::go(move || tree_node(n)).join().unwrap();
    }
}

/// SpawnJoin: spawn one goroutine that does nothing and wait for it, one at a time (gort:
/// `go(..).join()`; Go: a WaitGroup of one). One op = one spawn + join: the latency of
/// starting a goroutine (on whichever P the scheduler picks) and hearing that it finished.
fn bench_sched_spawn_join(b: &mut B) {
    in_goroutine(b, |n| {
        for _ in 0..n {
            gort::go(|| ()).join().unwrap();
        }
    })
}

/// PingPongCrossP: a round trip over two unbuffered channels between two goroutines, where
/// the echo goroutine is started while the benchmark goroutine is busy (it spins until the
/// echo runs, for at most 1 ms, then yields), so that at GOMAXPROCS=2 another P has to pick
/// it up. gort never moves a started goroutine, so the two then stay on two Ps; Go moves
/// the readied goroutine to the waker's P, so there the pair may end up on one P. One op =
/// one round trip (two hand-offs). The `crossP` metric (gort only) is 1 when the echo ran on
/// another thread than the benchmark goroutine (each P has its own thread), else 0.
fn bench_sched_ping_pong_cross_p(b: &mut B) {
    let cross = in_goroutine(b, |n| {
        let (ping_tx, ping_rx) = bounded::<u64>(0);
        let (pong_tx, pong_rx) = bounded::<u64>(0);
        let started = Arc::new(AtomicBool::new(false));
        let echo_thread = Arc::new(Mutex::new(None::<String>));
        let (s2, t2) = (started.clone(), echo_thread.clone());
        let echo = gort::go(move || {
            *t2.lock().unwrap() = std::thread::current().name().map(str::to_owned);
            s2.store(true, SeqCst);
            for v in &ping_rx {
                pong_tx.send(v).unwrap();
            }
        });
        wait_started(&started);
        for i in 0..n {
            ping_tx.send(i).unwrap();
            black_box(pong_rx.recv().unwrap());
        }
        ping_tx.close().unwrap();
        echo.join().unwrap();
        let here = std::thread::current().name().map(str::to_owned);
        let there = echo_thread.lock().unwrap().clone();
        u8::from(here != there)
    });
    b.report_metric(cross as f64, "crossP");
}

/// Spins until `flag` is set, for at most 1 ms, then yields until it is (at one P the
/// goroutine that sets it can only run once this one yields).
fn wait_started(flag: &AtomicBool) {
    let t = Instant::now();
    while !flag.load(SeqCst) {
        if t.elapsed() < Duration::from_millis(1) {
            std::hint::spin_loop();
        } else {
            gort::yield_now();
        }
    }
}

/// Producers and consumers in ManyToMany.
const M2M_SIDES: u64 = 8;

/// ManyToMany: 8 producer goroutines and 8 consumer goroutines on one channel of capacity 1;
/// the benchmark goroutine joins the producers, closes the channel and joins the consumers.
/// One op = one item sent and received.
fn bench_sched_many_to_many(b: &mut B) {
    in_goroutine(b, |n| {
        let (tx, rx): (Sender<u64>, Receiver<u64>) = bounded(1);
        let wg = Arc::new(WaitGroup::new());
        wg.add(M2M_SIDES as i32);
        for p in 0..M2M_SIDES {
            let (tx, wg) = (tx.clone(), wg.clone());
            drop(gort::go(move || {
                let mut i = p;
                while i < n {
                    tx.send(i).unwrap();
                    i += M2M_SIDES;
                }
                wg.done();
            }));
        }
        let consumers: Vec<_> = (0..M2M_SIDES)
            .map(|_| {
                let rx = rx.clone();
                gort::go(move || rx.iter().fold(0u64, u64::wrapping_add))
            })
            .collect();
        wg.wait();
        tx.close().unwrap();
        let sum = consumers
            .into_iter()
            .fold(0u64, |a, c| a.wrapping_add(c.join().unwrap()));
        let n = u128::from(n);
        assert_eq!(sum, (n * n.saturating_sub(1) / 2) as u64);
    })
}

gort::benchmarks!(
    bench_sched_pipeline_chain,
    bench_sched_fan_in,
    bench_sched_worker_pool,
    bench_sched_spawn_tree,
    bench_sched_spawn_join,
    bench_sched_ping_pong_cross_p,
    bench_sched_many_to_many,
);
