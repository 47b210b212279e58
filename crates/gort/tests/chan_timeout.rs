//! Timeouts on channel operations and timer arms in `select!` (Go's `select` with
//! `time.After`, `t.C` of a Timer or Ticker).

mod chan_common;
use chan_common::NoLeaks;

use std::time::{Duration, Instant};

use gort::chan::{bounded, RecvTimeoutError, SendTimeoutError};
use gort::time::{after, Ticker, Timer};

const MS: Duration = Duration::from_millis(1);

fn rt() -> gort::Runtime {
    gort::Builder::new().gomaxprocs(2).build().unwrap()
}

#[test]
fn select_with_a_timer_arm_times_out_or_takes_the_value() {
    rt().block_on_no_leaks(|| {
        let (tx, rx) = bounded::<u32>(0);
        let start = Instant::now();
        let got = gort::select! {
            recv(rx) -> v => Some(v.unwrap()),
            recv(after(20 * MS)) -> t => { assert!(t.is_ok()); None }
        };
        assert_eq!(got, None);
        assert!(start.elapsed() >= 20 * MS);

        let h = gort::go(move || {
            gort::time::sleep(5 * MS);
            tx.send(7).unwrap();
        });
        let got = gort::select! {
            recv(rx) -> v => Some(v.unwrap()),
            recv(after(Duration::from_secs(10))) -> _ => None,
        };
        assert_eq!(got, Some(7));
        h.join().unwrap();
    });
}

#[test]
fn recv_timeout_value_timeout_and_closed() {
    rt().block_on_no_leaks(|| {
        let (tx, rx) = bounded::<u32>(1);
        assert_eq!(rx.recv_timeout(10 * MS), Err(RecvTimeoutError::Timeout));
        assert_eq!(
            rx.recv_timeout(Duration::ZERO),
            Err(RecvTimeoutError::Timeout)
        );
        tx.send(1).unwrap();
        assert_eq!(rx.recv_timeout(Duration::ZERO), Ok(1));
        let tx2 = tx.clone();
        let h = gort::go(move || {
            gort::time::sleep(5 * MS);
            tx2.send(2).unwrap();
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(2));
        h.join().unwrap();
        let h = gort::go(move || {
            gort::time::sleep(5 * MS);
            tx.close().unwrap();
        });
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(10)),
            Err(RecvTimeoutError::Closed)
        );
        h.join().unwrap();
    });
}

#[test]
fn send_timeout_returns_the_value_on_timeout() {
    rt().block_on_no_leaks(|| {
        let (tx, rx) = bounded::<String>(0);
        match tx.send_timeout("a".to_string(), 10 * MS) {
            Err(SendTimeoutError::Timeout(v)) => assert_eq!(v, "a"),
            other => panic!("{other:?}"),
        }
        let h = gort::go(move || {
            gort::time::sleep(5 * MS);
            rx.recv().unwrap()
        });
        tx.send_timeout("b".to_string(), Duration::from_secs(10))
            .unwrap();
        assert_eq!(h.join().unwrap(), "b");
        let (tx, _rx) = bounded::<u8>(0);
        tx.close().unwrap();
        match tx.send_timeout(9, Duration::from_secs(10)) {
            Err(SendTimeoutError::Closed(v)) => assert_eq!(v, 9),
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn ticker_and_timer_channels_in_select_and_go_1_23_stop_semantics() {
    rt().block_on_no_leaks(|| {
        let tk = Ticker::new(2 * MS);
        let mut ticks = 0;
        let deadline = after(50 * MS);
        loop {
            gort::select! {
                recv(tk) -> _ => ticks += 1,
                recv(deadline) -> _ => break,
            }
        }
        assert!(ticks >= 3, "{ticks} ticks in 50 ms of a 2 ms ticker");

        // A value that fired but was not received is discarded by stop and by reset.
        let t = Timer::new(MS);
        gort::time::sleep(10 * MS);
        assert!(!t.stop(), "already fired");
        assert!(t.c().try_recv().is_err(), "stop drained the fired value");
        t.reset(MS);
        gort::time::sleep(10 * MS);
        t.reset(Duration::from_secs(3600));
        assert!(t.c().try_recv().is_err(), "reset drained the fired value");
        assert!(t.stop());
    });
}

#[test]
fn recv_timeout_from_a_plain_thread() {
    let (tx, rx) = bounded::<u32>(0);
    assert_eq!(rx.recv_timeout(5 * MS), Err(RecvTimeoutError::Timeout));
    let t = std::thread::spawn(move || {
        std::thread::sleep(5 * MS);
        tx.send(3).unwrap();
    });
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(3));
    t.join().unwrap();
}
