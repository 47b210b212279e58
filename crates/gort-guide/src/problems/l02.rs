//! Lesson 2, runtime architecture: `docs/guide/02-architecture.md`.

use crate::measure::speedup;
use crate::{Outcome, Problem, Which};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

#[path = "../../../../docs/guide/problems/02-architecture/blocking-call/solution.rs"]
mod blocking_solution;
#[path = "../../../../docs/guide/problems/02-architecture/blocking-call/start.rs"]
mod blocking_start;

#[path = "../../../../docs/guide/problems/02-architecture/cpu-yield/solution.rs"]
mod yield_solution;
#[path = "../../../../docs/guide/problems/02-architecture/cpu-yield/start.rs"]
mod yield_start;

pub static PROBLEMS: &[&Problem] = &[&BLOCKING_CALL, &CPU_YIELD];

/// The runtime these checks run on: one P, so that whatever blocks or hogs it shows.
fn rt1() -> &'static gort::Runtime {
    static RT: OnceLock<gort::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        // Stall reports off: the unedited cpu-yield start is a stall by design, and the
        // check's verdict says so (`gort-guide bench cpu-yield` shows the report).
        gort::Builder::new()
            .gomaxprocs(1)
            .godebug("stalltrace=0,stalldump=0")
            .expect("valid GODEBUG")
            .build()
            .expect("a 1-P runtime")
    })
}

/// The unedited start's `serve`: the baseline.
fn serve_baseline(n: usize) -> u64 {
    let handles: Vec<_> = (0..n)
        .map(|_| {
            gort::go(|| blocking_start::slow_library_call() + blocking_start::slow_library_call())
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).sum()
}

const REQUESTS: usize = 12;

static BLOCKING_CALL: Problem = Problem {
    id: "02-architecture/blocking-call",
    title: "A blocking call freezes its P: gort::blocking",
    target: "serve(12) returns 24, at least 3x faster than the start (GOMAXPROCS=1)",
    hint: "Classify (playbook step 3): GODEBUG=schedtrace=10 shows the P busy while nothing \
           runs, gort trace shows one goroutine at a time; a call that blocks the thread \
           (a futex, not interposed) holds the P: wrap it in gort::blocking",
    check: |w| {
        let f = match w {
            Which::Start => blocking_start::serve,
            Which::Solution => blocking_solution::serve,
        };
        let rt = rt1();
        let got = rt.block_on(move || f(REQUESTS));
        if got != 2 * REQUESTS as u64 {
            return Outcome::new(
                false,
                format!(
                    "wrong result: serve({REQUESTS}) = {got}, want {}",
                    2 * REQUESTS
                ),
            );
        }
        let s = rt.block_on(move || {
            speedup(
                3,
                Duration::from_millis(30),
                || {
                    black_box(serve_baseline(REQUESTS));
                },
                || {
                    black_box(f(REQUESTS));
                },
            )
        });
        Outcome::new(
            s >= 3.0,
            format!("{s:.1}x faster than the start (target: at least 3x)"),
        )
    },
    run: |w, time| {
        let f = match w {
            Which::Start => blocking_start::serve,
            Which::Solution => blocking_solution::serve,
        };
        crate::repeat_for(time, || {
            black_box(f(REQUESTS));
        })
    },
};

/// The unedited start's `crunch`: the baseline (and the expected result).
fn crunch_baseline(rounds: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for i in 0..rounds {
        h = (h ^ i).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Rounds of the baseline that take about 40 ms here.
fn rounds_for_40ms() -> u64 {
    let probe = 1u64 << 18;
    let t0 = Instant::now();
    black_box(crunch_baseline(black_box(probe)));
    let ns = t0.elapsed().as_nanos().max(1) as f64;
    ((40e6 / ns) * probe as f64) as u64
}

/// Runs `f(rounds)` in a goroutine beside a ticker goroutine (a 1 ms sleep in a loop) on the
/// 1-P runtime; returns the result and the share of its ticks that the ticker made while `f`
/// ran (ticks inside the job times 1 ms over the job's time: 0 when starved, near 1 when it
/// ran on time). A count rather than the longest gap, so that one preemption of the whole
/// process by a loaded machine does not decide the verdict.
fn starved_fraction(f: fn(u64) -> u64, rounds: u64) -> (u64, f64) {
    rt1().block_on(move || {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let ticker = gort::go(move || {
            let mut ticks = vec![Instant::now()];
            while !s.load(Relaxed) {
                gort::time::sleep(Duration::from_millis(1));
                ticks.push(Instant::now());
            }
            ticks
        });
        gort::time::sleep(Duration::from_millis(3));
        let t0 = Instant::now();
        let h = gort::go(move || f(rounds)).join().unwrap();
        let t1 = Instant::now();
        gort::time::sleep(Duration::from_millis(3));
        stop.store(true, Relaxed);
        let ticks = ticker.join().unwrap();
        let inside = ticks.iter().filter(|&&t| t > t0 && t < t1).count();
        (h, inside as f64 * 1e-3 / (t1 - t0).as_secs_f64().max(1e-9))
    })
}

static CPU_YIELD: Problem = Problem {
    id: "02-architecture/cpu-yield",
    title: "A CPU-bound goroutine starves its P's others: yield",
    target: "same result; the 1 ms ticker on the same P makes at least 10% of its ticks meanwhile",
    hint: "Classify (playbook step 3): the goroutine never calls into the runtime, so gort \
           cannot preempt it and a started goroutine never moves (GODEBUG=schedtrace=10: \
           one P running, runqueue growing; gort trace: the ticker's gaps); split the loop \
           into chunks with gort::yield_now() between them",
    check: |w| {
        let f = match w {
            Which::Start => yield_start::crunch,
            Which::Solution => yield_solution::crunch,
        };
        let rounds = rounds_for_40ms();
        let want = crunch_baseline(rounds);
        let mut fractions = Vec::new();
        for _ in 0..3 {
            let (h, frac) = starved_fraction(f, rounds);
            if h != want {
                return Outcome::new(false, "wrong result: crunch must compute the same hash");
            }
            fractions.push(frac);
        }
        fractions.sort_by(f64::total_cmp);
        let frac = fractions[1];
        Outcome::new(
            frac >= 0.1,
            format!(
                "the ticker made {:.0}% of its ticks while the job ran (target: at least 10%)",
                frac * 100.0
            ),
        )
    },
    run: |w, time| {
        let f = match w {
            Which::Start => yield_start::crunch,
            Which::Solution => yield_solution::crunch,
        };
        // The check's scenario on the tools' runtime: a ticker homed on this goroutine's P
        // (it can never move to the idle one), the job run back to back beside it.
        let rounds = rounds_for_40ms();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let ticker = gort::GoBuilder::new()
            .placement(gort::Placement::Here)
            .go(move || {
                while !s.load(Relaxed) {
                    gort::time::sleep(Duration::from_millis(1));
                }
            });
        crate::repeat_for(time, || {
            black_box(f(black_box(rounds)));
        });
        stop.store(true, Relaxed);
        ticker.join().unwrap();
    },
};
