//! `gort::synctest`: bubbles of goroutines on a fake clock (issue 21 item 1).
//!
//! Each test runs its bubble inside a fresh runtime at GOMAXPROCS=2, so members land on both
//! Ps. Wall-clock bounds here are "it did not really wait" bounds (an hour of fake time in
//! seconds at most), never speed claims.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gort::chan;
use gort::synctest;
use gort::time::{now, sleep};

fn rt() -> gort::Runtime {
    gort::Builder::new().gomaxprocs(2).build().unwrap()
}

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn a_one_hour_timeout_completes_at_once() {
    let wall = rt().block_on(|| {
        let real = Instant::now();
        synctest::run(|| {
            let t0 = now();
            let (_tx, rx) = chan::bounded::<u32>(0);
            let got = gort::select! {
                recv(rx) -> v => v.ok(),
                recv(gort::time::after(HOUR)) -> _ => None,
            };
            assert_eq!(got, None, "the timeout arm fired");
            assert_eq!(now() - t0, HOUR, "exactly one fake hour passed");
        });
        real.elapsed()
    });
    eprintln!("1-hour timeout in a bubble: {wall:?} wall");
    assert!(wall < Duration::from_secs(10), "really waited: {wall:?}");
}

#[test]
fn the_fake_wall_clock_starts_in_2000() {
    rt().block_on(|| {
        synctest::run(|| {
            let t = gort::time::system_now().duration_since(UNIX_EPOCH).unwrap();
            assert_eq!(t.as_secs(), 946_684_800, "midnight UTC 2000-01-01");
            sleep(Duration::from_secs(90));
            let t2 = gort::time::system_now().duration_since(UNIX_EPOCH).unwrap();
            assert_eq!(t2 - t, Duration::from_secs(90));
        });
        // Outside the bubble: the real clock.
        let real = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let ours = gort::time::system_now().duration_since(UNIX_EPOCH).unwrap();
        assert!(ours.abs_diff(real) < Duration::from_secs(5));
    });
}

#[test]
fn sleepers_wake_in_order_at_exact_fake_times() {
    rt().block_on(|| {
        synctest::run(|| {
            let t0 = now();
            let log = Arc::new(Mutex::new(Vec::new()));
            let wg = Arc::new(gort::sync::WaitGroup::new());
            for secs in [30u64, 10, 20, 50, 40] {
                let log = log.clone();
                wg.go(move || {
                    sleep(Duration::from_secs(secs));
                    log.lock().unwrap().push((secs, (now() - t0).as_secs()));
                });
            }
            wg.wait();
            let got = log.lock().unwrap().clone();
            assert_eq!(got, [(10, 10), (20, 20), (30, 30), (40, 40), (50, 50)]);
        });
    });
}

#[test]
fn a_ticker_ticks_3600_times_in_an_hour() {
    rt().block_on(|| {
        synctest::run(|| {
            let t0 = now();
            let t = gort::time::Ticker::new(Duration::from_secs(1));
            for i in 1..=3600u64 {
                let at = t.recv();
                assert_eq!(at - t0, Duration::from_secs(i), "tick {i}");
            }
            t.stop();
            assert_eq!(now() - t0, HOUR);
        });
    });
}

#[test]
fn wait_returns_when_the_others_are_durably_blocked() {
    rt().block_on(|| {
        synctest::run(|| {
            let (tx, rx) = chan::bounded(1);
            let (done_tx, done_rx) = chan::bounded::<()>(0);
            gort::go(move || {
                tx.send(1).unwrap();
                // Durably blocked on a channel of the bubble until main lets it go.
                let _ = done_rx.recv();
            });
            let t0 = now();
            synctest::wait();
            assert_eq!(rx.try_recv().ok(), Some(1), "the member ran to its block");
            assert_eq!(now(), t0, "wait does not move the clock");
            done_tx.close().unwrap();
        });
    });
}

#[test]
fn a_blocking_call_is_not_durable_so_time_stands_still() {
    rt().block_on(|| {
        synctest::run(|| {
            let t0 = now();
            let (tx, rx) = chan::bounded(1);
            gort::go(move || {
                // Real work outside the runtime's view: the clock must not jump past the
                // other member's 1-hour sleep meanwhile.
                gort::blocking(|| std::thread::sleep(Duration::from_millis(100)));
                tx.send(now() - t0).unwrap();
            });
            let sleeper = gort::go(|| sleep(HOUR));
            let seen = rx.recv().unwrap();
            assert_eq!(
                seen,
                Duration::ZERO,
                "the clock advanced during a blocking call"
            );
            // Time stops when main returns (Go), so main outlives the sleeper.
            sleeper.join().unwrap();
            assert_eq!(now() - t0, HOUR);
        });
    });
}

#[test]
fn goroutines_outside_the_bubble_keep_real_time() {
    rt().block_on(|| {
        let (tx, rx) = chan::bounded(1);
        gort::go(move || {
            let t = Instant::now();
            let f = now();
            sleep(Duration::from_millis(50));
            tx.send((t.elapsed(), now() - f)).unwrap();
        });
        synctest::run(|| sleep(HOUR));
        let (real, ours) = rx.recv().unwrap();
        assert!(real >= Duration::from_millis(50), "{real:?}");
        assert!(
            ours < Duration::from_secs(60),
            "outside goroutine saw fake time: {ours:?}"
        );
    });
}

#[test]
fn a_deadlocked_bubble_panics_with_a_report_instead_of_hanging() {
    let msg = rt().block_on(|| {
        let r = catch_unwind(AssertUnwindSafe(|| {
            synctest::run(|| {
                let (tx, rx) = chan::bounded::<u32>(0);
                gort::go(move || {
                    let _ = rx.recv();
                });
                // Main blocks too, holding the only sender: nothing can ever wake either.
                let (_keep, never) = chan::bounded::<u32>(0);
                let _ = never.recv();
                drop(tx);
            })
        }));
        let e = r.expect_err("a deadlocked bubble must panic");
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    });
    assert!(msg.contains("deadlock"), "panic message: {msg}");
}

#[test]
fn bubbles_do_not_nest() {
    rt().block_on(|| {
        synctest::run(|| {
            let r = catch_unwind(|| synctest::run(|| {}));
            assert!(r.is_err(), "a nested bubble must be rejected");
        });
    });
}
