//! Timers: sleep accuracy, Timer/Ticker/after/after_func semantics, stop/reset races, the
//! deadlock detector's view of timers, and 100k sleepers.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gort::time::{after, after_func, sleep, Ticker, Timer};

fn rt(n: usize) -> gort::Runtime {
    gort::Builder::new().gomaxprocs(n).build().unwrap()
}

const MS: Duration = Duration::from_millis(1);

#[test]
fn sleep_accuracy_bounds() {
    let rt = rt(2);
    rt.block_on(|| {
        for _ in 0..3 {
            let t = Instant::now();
            sleep(50 * MS);
            let e = t.elapsed();
            assert!(e >= 50 * MS && e < Duration::from_secs(2), "{e:?}");
        }
        sleep(Duration::ZERO);
    });
}

#[test]
fn sleep_does_not_block_the_p() {
    // One P: a sleeping goroutine must let another run.
    let rt = rt(1);
    rt.block_on(|| {
        let n = Arc::new(AtomicUsize::new(0));
        let n2 = n.clone();
        let h = gort::go(move || {
            sleep(100 * MS);
            n2.load(SeqCst)
        });
        for _ in 0..1000 {
            n.fetch_add(1, SeqCst);
            gort::yield_now();
        }
        assert_eq!(h.join().unwrap(), 1000);
    });
}

#[test]
fn timers_fire_in_deadline_order() {
    // One P, so the order observed is the heap's (across Ps it also depends on two threads
    // getting CPU time, which a loaded 2-core machine does not promise within milliseconds).
    let rt = rt(1);
    rt.block_on(|| {
        let order = Arc::new(Mutex::new(Vec::new()));
        let hs: Vec<_> = [50u32, 10, 40, 20, 30]
            .into_iter()
            .map(|ms| {
                let o = order.clone();
                gort::go(move || {
                    sleep(ms * 4 * MS);
                    o.lock().unwrap().push(ms);
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(*order.lock().unwrap(), vec![10, 20, 30, 40, 50]);
    });
}

#[test]
fn timer_stop_and_reset() {
    let rt = rt(2);
    rt.block_on(|| {
        let t = Timer::new(20 * MS);
        assert!(t.stop(), "armed timer stops");
        assert!(!t.stop(), "second stop reports inactive");
        sleep(40 * MS);
        assert!(t.try_recv().is_none(), "stopped timer never fires");
        assert!(!t.reset(10 * MS), "reset of a stopped timer: was inactive");
        let start = Instant::now();
        t.recv();
        assert!(start.elapsed() >= 10 * MS);
        assert!(!t.stop(), "fired timer: stop returns false");
        // Reset of an armed timer postpones it.
        let t = Timer::new(10 * MS);
        assert!(t.reset(60 * MS));
        let start = Instant::now();
        t.recv();
        assert!(start.elapsed() >= 60 * MS);
        // Go 1.23: reset discards an unreceived value.
        let t = after(MS);
        sleep(20 * MS);
        t.reset(Duration::from_secs(3600));
        assert!(t.try_recv().is_none());
    });
}

#[test]
fn ticker_ticks_and_stops() {
    let rt = rt(2);
    rt.block_on(|| {
        let tk = Ticker::new(10 * MS);
        let start = Instant::now();
        for _ in 0..5 {
            tk.recv();
        }
        let e = start.elapsed();
        assert!(e >= 50 * MS && e < Duration::from_secs(2), "{e:?}");
        tk.reset(5 * MS);
        tk.recv();
        tk.stop();
        sleep(30 * MS);
        assert!(tk.try_recv().is_none());
    });
}

#[test]
fn after_func_runs_in_a_goroutine_and_stop_prevents_it() {
    let rt = rt(2);
    rt.block_on(|| {
        let n = Arc::new(AtomicUsize::new(0));
        let n1 = n.clone();
        let _f = after_func(10 * MS, move || {
            assert!(gort::goid() != 0);
            n1.fetch_add(1, SeqCst);
        });
        let n2 = n.clone();
        let g = after_func(10 * MS, move || {
            n2.fetch_add(100, SeqCst);
        });
        assert!(g.stop());
        sleep(60 * MS);
        assert_eq!(n.load(SeqCst), 1);
    });
}

#[test]
fn stop_reset_race_across_goroutines() {
    // Many goroutines stop/reset timers owned by others while they fire: every timer ends
    // either fired exactly once per arming or stopped, and nothing panics or hangs.
    let rt = rt(2);
    rt.block_on(|| {
        let fired = Arc::new(AtomicUsize::new(0));
        let timers: Vec<_> = (0..200)
            .map(|_| {
                let f = fired.clone();
                Arc::new(after_func(MS, move || {
                    f.fetch_add(1, SeqCst);
                }))
            })
            .collect();
        let hs: Vec<_> = (0..4)
            .map(|k| {
                let ts = timers.clone();
                gort::go(move || {
                    let mut stopped = 0;
                    for (i, t) in ts.iter().enumerate() {
                        if i % 4 == k {
                            if t.stop() {
                                stopped += 1;
                            }
                        } else if i % 7 == k {
                            t.reset(2 * MS);
                        }
                        if i % 16 == 0 {
                            gort::yield_now();
                        }
                    }
                    stopped
                })
            })
            .collect();
        let _stopped: usize = hs.into_iter().map(|h| h.join().unwrap()).sum();
        sleep(100 * MS);
        let f = fired.load(SeqCst);
        assert!(f <= 200 + 200, "{f}");
    });
}

#[test]
fn timer_from_plain_thread() {
    // The clock starts before the timer does, so a delay between the two cannot make the
    // wait look shorter than it was.
    let start = Instant::now();
    let t = Timer::new(20 * MS);
    t.recv();
    assert!(start.elapsed() >= 20 * MS);
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    let _f = after_func(5 * MS, move || {
        n2.fetch_add(1, SeqCst);
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while n.load(SeqCst) == 0 && Instant::now() < deadline {
        std::thread::sleep(MS);
    }
    assert_eq!(n.load(SeqCst), 1);
}

#[test]
fn sleeping_program_is_not_a_deadlock_but_stopped_timer_wait_is() {
    let rt = rt(2);
    rt.block_on(|| sleep(200 * MS));
    let r = rt.try_block_on(|| {
        let t = Timer::new(Duration::from_secs(3600));
        t.stop();
        t.recv();
    });
    assert!(matches!(r, Err(gort::Error::Deadlock(_))), "{r:?}");
}

#[test]
fn locked_goroutine_can_sleep() {
    let rt = rt(2);
    rt.block_on(|| {
        gort::lock_os_thread();
        let t = Instant::now();
        sleep(30 * MS);
        assert!(t.elapsed() >= 30 * MS);
        gort::unlock_os_thread();
    });
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn sleep_100k_goroutines() {
    let rt = gort::Builder::new()
        .gomaxprocs(2)
        .stack_size(16 * 1024)
        .build()
        .unwrap();
    let rss0 = rss_kib();
    let (wall, rss) = rt.block_on(|| {
        let start = Instant::now();
        let hs: Vec<_> = (0..100_000).map(|_| gort::go(|| sleep(100 * MS))).collect();
        let rss = rss_kib();
        hs.into_iter().for_each(|h| h.join().unwrap());
        (start.elapsed(), rss)
    });
    println!(
        "100k goroutines x sleep(100ms): wall {:?}, RSS +{} MiB at peak",
        wall,
        rss.saturating_sub(rss0) / 1024
    );
    assert!(
        wall >= 100 * MS && wall < Duration::from_secs(20),
        "{wall:?}"
    );
}

#[test]
fn stop_racing_fire_is_exact() {
    // For every after_func timer, either stop() returned true and f never ran, or it returned
    // false and f ran exactly once.
    let rt = rt(2);
    rt.block_on(|| {
        let n = 2000;
        let runs: Arc<Vec<AtomicUsize>> = Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect());
        let timers: Vec<_> = (0..n)
            .map(|i| {
                let r = runs.clone();
                Arc::new(after_func(
                    Duration::from_micros((i % 50) as u64 * 20),
                    move || {
                        r[i].fetch_add(1, SeqCst);
                    },
                ))
            })
            .collect();
        let stoppers: Vec<_> = (0..2)
            .map(|k| {
                let ts = timers.clone();
                gort::go(move || {
                    ts.iter()
                        .enumerate()
                        .filter(|(i, _)| i % 2 == k)
                        .map(|(i, t)| (i, t.stop()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let results: Vec<(usize, bool)> = stoppers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        sleep(50 * MS);
        let mut stopped = 0;
        for (i, was_armed) in results {
            let r = runs[i].load(SeqCst);
            if was_armed {
                stopped += 1;
                assert_eq!(r, 0, "timer {i} stopped but ran");
            } else {
                assert_eq!(r, 1, "timer {i} not stopped but ran {r} times");
            }
        }
        println!("stop won {stopped} of {n} races");
    });
}
