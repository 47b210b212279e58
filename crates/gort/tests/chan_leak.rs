//! The goroutine leak detector (`rt/sched/leak.rs`, `chan/handles.rs`): goroutines parked on
//! channels whose other side has no handle left are reported (the `goroutineleak` profile,
//! `debug::num_leaked_goroutines`, schedtrace's ` leaked=N`, `(leaked)` in dumps, the
//! deadlock report's hint), and goroutines that can still wake are not.

use std::time::{Duration, Instant};

use gort::chan::{bounded, unbounded};

fn rt(n: usize) -> gort::Runtime {
    gort::Builder::new().gomaxprocs(n).build().unwrap()
}

/// Polls `num_leaked_goroutines` until it reads `want` (goroutines park asynchronously).
fn wait_for_leaks(want: usize) -> usize {
    let t = Instant::now();
    loop {
        let n = gort::debug::num_leaked_goroutines();
        if n == want || t.elapsed() > Duration::from_secs(10) {
            return n;
        }
        gort::time::sleep(Duration::from_millis(2));
    }
}

fn text_of(name: &str, debug: u32) -> String {
    let mut v = Vec::new();
    gort::prof::lookup(name)
        .unwrap()
        .write_to(&mut v, debug)
        .unwrap();
    String::from_utf8(v).unwrap()
}

#[test]
fn a_thousand_goroutines_on_abandoned_channels_are_found() {
    rt(2).block_on(|| {
        // 400 receivers whose senders are dropped, 400 senders whose receivers are dropped,
        // 200 selects over two abandoned channels.
        let mut keep = Vec::new();
        for i in 0..400 {
            let (tx, rx) = bounded::<u32>(i % 3);
            gort::go(move || {
                let _ = rx.recv();
            });
            keep.push(tx);
        }
        for i in 0..400 {
            let (tx, rx) = bounded::<u32>(i % 2);
            gort::go(move || {
                for k in 0.. {
                    if tx.send(k).is_err() {
                        break;
                    }
                }
            });
            drop(rx);
        }
        let mut keep_sel = Vec::new();
        for _ in 0..200 {
            let (tx1, rx1) = bounded::<u32>(0);
            let (tx2, rx2) = unbounded::<String>();
            gort::go(move || {
                gort::select! {
                    recv(rx1) -> _ => {},
                    recv(rx2) -> _ => {},
                }
            });
            keep_sel.push((tx1, tx2));
        }
        // While their Senders live, none of the receivers or selects is leaked; the 400
        // senders (receivers dropped at once) are.
        assert_eq!(wait_for_leaks(400), 400, "{}", text_of("goroutineleak", 1));
        drop(keep);
        drop(keep_sel);
        assert_eq!(wait_for_leaks(1000), 1000);

        // The profile: debug=1 text in Go's layout, grouped by park site.
        let text = text_of("goroutineleak", 1);
        assert!(
            text.starts_with("goroutineleak profile: total 1000\n"),
            "{text}"
        );
        assert!(text.contains("gort.park(chan receive)"), "{text}");
        assert!(text.contains("gort.park(chan send)"), "{text}");
        assert!(text.contains("gort.park(select)"), "{text}");
        assert!(text.contains("chan_leak.rs"), "{text}");
        // ...and the protobuf's sample type is Go's.
        let p = gort::prof::lookup("goroutineleak").unwrap().build();
        assert_eq!(p.total("goroutineleak"), 1000);
        // debug=2: the full dump, leaked goroutines marked as Go 1.26 marks them.
        let dump = text_of("goroutineleak", 2);
        assert_eq!(dump.matches("[chan receive (leaked)]").count(), 400);
        assert_eq!(dump.matches("[chan send (leaked)]").count(), 400);
        assert_eq!(dump.matches("[select (leaked)]").count(), 200);
        // schedtrace's line ends with the count.
        let line = gort::debug::sched_summary(false);
        assert!(line.trim_end().ends_with("] leaked=1000"), "{line}");
    });
}

#[test]
fn goroutines_that_can_still_wake_are_not_reported() {
    rt(2).block_on(|| {
        // A receive whose Sender lives; a send whose Receiver lives; a select with one live
        // arm among dead ones; a timed receive (its timer holds a Sender); a receive on a
        // channel held by a clone only.
        let (tx_live, rx_live) = bounded::<u32>(0);
        let a = gort::go(move || rx_live.recv().ok());
        let (tx_recv, rx_recv) = bounded::<u32>(0);
        let b = gort::go(move || tx_recv.send(7).is_ok());
        let (dead_tx, dead_rx) = bounded::<u32>(0);
        let (sel_tx, sel_rx) = bounded::<u32>(0);
        drop(dead_tx);
        let c = gort::go(move || {
            gort::select! {
                recv(dead_rx) -> _ => 0,
                recv(sel_rx) -> v => v.unwrap(),
            }
        });
        let (_tout_tx, tout_rx) = bounded::<u32>(0);
        let d = gort::go(move || tout_rx.recv_timeout(Duration::from_secs(30)).is_err());
        let (tx_orig, rx_clone) = bounded::<u32>(1);
        let tx_clone = tx_orig.clone();
        drop(tx_orig);
        let e = gort::go(move || rx_clone.recv().ok());
        gort::time::sleep(Duration::from_millis(30));
        assert_eq!(
            gort::debug::num_leaked_goroutines(),
            0,
            "{}",
            gort::debug::goroutine_dump()
        );
        assert!(text_of("goroutineleak", 1).starts_with("goroutineleak profile: total 0\n"));
        assert!(!gort::debug::sched_summary(false).contains("leaked"));
        tx_live.send(1).unwrap();
        assert_eq!(rx_recv.recv(), Ok(7));
        sel_tx.send(3).unwrap();
        tx_clone.send(4).unwrap();
        assert_eq!(a.join().unwrap(), Some(1));
        assert!(b.join().unwrap());
        assert_eq!(c.join().unwrap(), 3);
        assert_eq!(e.join().unwrap(), Some(4));
        drop(d); // its 30 s timer stays armed: not a leak either
        assert_eq!(gort::debug::num_leaked_goroutines(), 0);
    });
}

#[test]
fn a_wake_up_granted_before_the_last_sender_went_is_not_a_leak() {
    // A sender hands its value to a parked receiver and drops the last Sender before the
    // receiver runs again: the receiver's probe sees no Sender but a claimed wait. Hammered
    // from another P against a detector polling in a loop.
    rt(2).block_on(|| {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s2 = stop.clone();
        let detector = gort::go(move || {
            let mut false_alarms = 0;
            while !s2.load(std::sync::atomic::Ordering::Relaxed) {
                false_alarms += gort::debug::num_leaked_goroutines();
                gort::yield_now();
            }
            false_alarms
        });
        for _ in 0..2000 {
            let (tx, rx) = bounded::<u32>(0);
            let r = gort::go(move || rx.recv().ok());
            gort::yield_now();
            tx.send(1).unwrap();
            drop(tx);
            assert_eq!(r.join().unwrap(), Some(1));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(detector.join().unwrap(), 0);
    });
}

#[test]
fn the_deadlock_report_names_leaks_and_says_how_to_close() {
    let err = rt(1)
        .try_block_on(|| {
            let (tx, rx) = bounded::<u32>(0);
            let (_keep, rx2) = bounded::<u32>(0);
            gort::go(move || {
                let _ = rx2.recv(); // not leaked: `_keep` could still send
            });
            drop(tx);
            let _ = rx.recv(); // leaked, and so is every goroutine: a deadlock
        })
        .unwrap_err();
    let report = err.to_string();
    assert!(
        report.contains("all goroutines are asleep - deadlock!"),
        "{report}"
    );
    assert_eq!(
        report.matches("[chan receive (leaked)]").count(),
        1,
        "{report}"
    );
    assert_eq!(report.matches("[chan receive]").count(), 1, "{report}");
    assert!(
        report.contains("1 of these goroutines is marked (leaked)")
            && report.contains("Dropping every Sender does not close a channel; call close()."),
        "{report}"
    );
}
