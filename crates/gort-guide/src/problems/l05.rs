//! Lesson 5, goroutines and the scheduler: `docs/guide/05-scheduler.md`.

use crate::measure::speedup;
use crate::{Outcome, Problem, Which};
use std::hint::black_box;
use std::sync::OnceLock;
use std::time::Duration;

#[path = "../../../../docs/guide/problems/05-scheduler/worker-pool/solution.rs"]
mod pool_solution;
#[path = "../../../../docs/guide/problems/05-scheduler/worker-pool/start.rs"]
mod pool_start;

#[path = "../../../../docs/guide/problems/05-scheduler/shard-counter/solution.rs"]
mod shard_solution;
#[path = "../../../../docs/guide/problems/05-scheduler/shard-counter/start.rs"]
mod shard_start;

#[path = "../../../../docs/guide/problems/05-scheduler/batch-channel/solution.rs"]
mod batch_solution;
#[path = "../../../../docs/guide/problems/05-scheduler/batch-channel/start.rs"]
mod batch_start;

pub static PROBLEMS: &[&Problem] = &[&WORKER_POOL, &SHARD_COUNTER, &BATCH_CHANNEL];

/// The runtime these checks run on: two Ps, whatever the machine or GOMAXPROCS says.
fn rt2() -> &'static gort::Runtime {
    static RT: OnceLock<gort::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        gort::Builder::new()
            .gomaxprocs(2)
            .build()
            .expect("a 2-P runtime")
    })
}

/// Checks `f(arg) == want`, then measures its speed-up over `baseline` on the 2-P runtime.
fn check_speedup(
    f: fn(u64) -> u64,
    baseline: fn(u64) -> u64,
    arg: u64,
    want: u64,
    target: f64,
) -> Outcome {
    let rt = rt2();
    let got = rt.block_on(move || f(arg));
    if got != want {
        return Outcome::new(false, format!("wrong result: {got}, want {want}"));
    }
    let s = rt.block_on(move || {
        speedup(
            3,
            Duration::from_millis(25),
            || {
                black_box(baseline(black_box(arg)));
            },
            || {
                black_box(f(black_box(arg)));
            },
        )
    });
    Outcome::new(
        s >= target,
        format!("{s:.1}x faster than the start (target: at least {target}x)"),
    )
}

fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The unedited start's `checksum`: the baseline.
fn checksum_baseline(n: u64) -> u64 {
    let handles: Vec<_> = (0..n).map(|i| gort::go(move || mix(i))).collect();
    handles
        .into_iter()
        .fold(0u64, |acc, h| acc.wrapping_add(h.join().unwrap()))
}

const ITEMS: u64 = 2000;

static WORKER_POOL: Problem = Problem {
    id: "05-scheduler/worker-pool",
    title: "A goroutine per tiny task: one per P, over chunks",
    target: "same checksum of 2000 items, at least 4x faster than the start (GOMAXPROCS=2)",
    hint: "Profile (playbook step 2): the CPU profile is the scheduler (spawn, switch, join), \
           not mix; GODEBUG=schedtrace shows thousands of goroutines for microseconds of \
           work; give each goroutine a chunk (a worker per P)",
    check: |w| {
        let f = match w {
            Which::Start => pool_start::checksum,
            Which::Solution => pool_solution::checksum,
        };
        let want = (0..ITEMS).fold(0u64, |a, i| a.wrapping_add(mix(i)));
        check_speedup(f, checksum_baseline, ITEMS, want, 4.0)
    },
    run: |w, time| {
        let f = match w {
            Which::Start => pool_start::checksum,
            Which::Solution => pool_solution::checksum,
        };
        crate::repeat_for(time, || {
            black_box(f(black_box(ITEMS)));
        })
    },
};

const WORKERS: u64 = 8;
const EVENTS: u64 = 4000;

/// The unedited start's `count_events` (workers and events packed into one argument).
fn count_baseline(events: u64) -> u64 {
    use std::sync::Arc;
    let total = Arc::new(gort::sync::Mutex::new(0u64));
    let handles: Vec<_> = (0..WORKERS)
        .map(|w| {
            let total = total.clone();
            gort::GoBuilder::new()
                .placement(gort::Placement::Spread)
                .go(move || {
                    let mut e = 0;
                    while e < events {
                        if (w + e) % 2 == 0 {
                            *total.lock() += 1;
                        }
                        e += 1;
                    }
                })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let n = *total.lock();
    n
}

static SHARD_COUNTER: Problem = Problem {
    id: "05-scheduler/shard-counter",
    title: "One shared counter: a shard per goroutine",
    target: "same count (8 goroutines x 4000 events), at least 3x faster than the start",
    hint: "Profile (playbook step 2): the CPU profile is Mutex::lock/unlock and the mutex \
           profile (GORT_MUTEXPROFILE) names the counter; count locally in each goroutine \
           and sum at the end",
    check: |w| {
        let f: fn(u64) -> u64 = match w {
            Which::Start => |e| shard_start::count_events(WORKERS, e),
            Which::Solution => |e| shard_solution::count_events(WORKERS, e),
        };
        check_speedup(f, count_baseline, EVENTS, WORKERS * EVENTS / 2, 3.0)
    },
    run: |w, time| {
        let f: fn(u64) -> u64 = match w {
            Which::Start => |e| shard_start::count_events(WORKERS, e),
            Which::Solution => |e| shard_solution::count_events(WORKERS, e),
        };
        crate::repeat_for(time, || {
            black_box(f(black_box(EVENTS)));
        })
    },
};

/// The unedited start's `pipeline`: the baseline.
fn pipeline_baseline(n: u64) -> u64 {
    let (tx, rx) = gort::chan::bounded::<u64>(0);
    let consumer = gort::go(move || {
        let mut sum = 0u64;
        while let Ok(v) = rx.recv() {
            sum = sum.wrapping_add(v);
        }
        sum
    });
    gort::go(move || {
        for i in 0..n {
            tx.send(i).unwrap();
        }
        tx.close().unwrap();
    });
    consumer.join().unwrap()
}

const SENT: u64 = 20_000;

static BATCH_CHANNEL: Problem = Problem {
    id: "05-scheduler/batch-channel",
    title: "An unbuffered send per item: batches",
    target: "same sum of 20000 items, at least 4x faster than the start (GOMAXPROCS=2)",
    hint: "Classify (playbook step 3): gort trace shows the producer and the consumer \
           alternating, a park and a wake-up per item (the block profile names send and \
           recv); send Vec batches of a few hundred items over a small buffered channel",
    check: |w| {
        let f = match w {
            Which::Start => batch_start::pipeline,
            Which::Solution => batch_solution::pipeline,
        };
        check_speedup(f, pipeline_baseline, SENT, SENT * (SENT - 1) / 2, 4.0)
    },
    run: |w, time| {
        let f = match w {
            Which::Start => batch_start::pipeline,
            Which::Solution => batch_solution::pipeline,
        };
        crate::repeat_for(time, || {
            black_box(f(black_box(SENT)));
        })
    },
};
