//! `select!`: readiness, default, nil arms, fairness, duplicates, wake-one-of-many.

mod chan_common;
use chan_common::NoLeaks;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use gort::chan::{bounded, Receiver, RecvError, Sender};

fn rt(n: usize) -> gort::Runtime {
    gort::Builder::new().gomaxprocs(n).build().unwrap()
}

fn stress() -> bool {
    std::env::var("GORT_STRESS").is_ok_and(|v| v == "1")
}

fn scale(n: usize) -> usize {
    if stress() {
        n * 20
    } else {
        n
    }
}

#[test]
fn default_when_nothing_ready() {
    let (tx, rx) = bounded::<i32>(0);
    let r = gort::select! {
        recv(rx) -> _v => 1,
        send(tx, 5) -> _r => 2,
        default => 3,
    };
    assert_eq!(r, 3);
    let r = gort::select! { default => { 4 } };
    assert_eq!(r, 4);
}

#[test]
fn ready_recv_and_send_arms() {
    let (tx, rx) = bounded::<i32>(1);
    let r = gort::select! {
        send(tx, 5) -> res => { res.unwrap(); "sent" }
        recv(rx) -> _v => "recv",
    };
    assert_eq!(r, "sent");
    let v = gort::select! {
        send(tx, 6) -> _res => -1,
        recv(rx) -> v => v.unwrap(),
    };
    assert_eq!(v, 5);
}

#[test]
fn closed_channels_fire_with_errors() {
    let (tx, rx) = bounded::<i32>(0);
    tx.close().unwrap();
    let r = gort::select! { recv(rx) -> v => v };
    assert_eq!(r, Err(RecvError));
    let r = gort::select! { send(tx, 9) -> r => r.unwrap_err().into_inner() };
    assert_eq!(r, 9);
}

#[test]
fn nil_arms_are_disabled() {
    let (tx, rx) = bounded::<i32>(1);
    tx.send(1).unwrap();
    let off: Option<&Receiver<i32>> = None;
    let on = Some(&rx);
    let no_tx: Option<Sender<i32>> = None;
    for _ in 0..50 {
        let r = gort::select! {
            recv(off) -> _v => "off",
            send(no_tx, 3) -> _r => "no_tx",
            default => "default",
        };
        assert_eq!(r, "default");
    }
    let v = gort::select! {
        recv(off) -> _v => -1,
        recv(on) -> v => v.unwrap(),
    };
    assert_eq!(v, 1);
}

#[test]
fn blocking_select_is_woken_by_either() {
    let rt = rt(2);
    rt.block_on_no_leaks(|| {
        let (ta, ra) = bounded::<u32>(0);
        let (tb, rb) = bounded::<&'static str>(0);
        let h = gort::go(move || {
            let mut got = Vec::new();
            for _ in 0..200 {
                gort::select! {
                    recv(ra) -> v => got.push(v.unwrap()),
                    recv(rb) -> s => got.push(s.unwrap().len() as u32 + 1000),
                }
            }
            got
        });
        for i in 0..100 {
            ta.send(i).unwrap();
            tb.send("abc").unwrap();
        }
        let got = h.join().unwrap();
        assert_eq!(got.iter().filter(|&&v| v == 1003).count(), 100);
        assert_eq!(got.iter().filter(|&&v| v < 100).sum::<u32>(), 4950);
    });
}

#[test]
fn blocking_send_arm() {
    let rt = rt(2);
    rt.block_on_no_leaks(|| {
        let (tx, rx) = bounded::<u32>(0);
        let (_t2, r2) = bounded::<u32>(0);
        let h = gort::go(move || {
            for i in 0..100 {
                gort::select! {
                    send(tx, i) -> r => r.unwrap(),
                    recv(r2) -> _v => unreachable!(),
                }
            }
        });
        let s: u32 = (0..100).map(|_| rx.recv().unwrap()).sum();
        assert_eq!(s, 4950);
        h.join().unwrap();
    });
}

#[test]
fn fairness_across_ready_arms() {
    // Go's TestSelectFairness in spirit: with all four arms always ready, each is chosen about
    // a quarter of the time (loose chi-square bound).
    let chans: Vec<_> = (0..4).map(|_| bounded::<u8>(1)).collect();
    let n = 40_000;
    let mut counts = [0usize; 4];
    for (t, _) in &chans {
        t.send(0).unwrap();
    }
    for _ in 0..n {
        let k = gort::select! {
            recv(chans[0].1) -> _v => 0,
            recv(chans[1].1) -> _v => 1,
            recv(chans[2].1) -> _v => 2,
            recv(chans[3].1) -> _v => 3,
        };
        counts[k] += 1;
        chans[k].0.send(0).unwrap();
    }
    let e = n as f64 / 4.0;
    let chi2: f64 = counts.iter().map(|&c| (c as f64 - e).powi(2) / e).sum();
    // 3 degrees of freedom: p = 1e-6 at about 30.7.
    assert!(chi2 < 31.0, "unfair: {counts:?} chi2 {chi2}");
}

#[test]
fn duplicate_channels_in_one_select() {
    let rt = rt(2);
    rt.block_on_no_leaks(|| {
        let (tx, rx) = bounded::<u32>(0);
        let tx2 = tx.clone();
        let h = gort::go(move || {
            let mut seen = [0u32; 3];
            for _ in 0..300 {
                let k = gort::select! {
                    recv(rx) -> _v => 0,
                    recv(rx) -> _v => 1,
                    recv(rx) -> _v => 2,
                };
                seen[k] += 1;
            }
            seen
        });
        for i in 0..300 {
            tx2.send(i).unwrap();
        }
        let seen = h.join().unwrap();
        assert_eq!(seen.iter().sum::<u32>(), 300);
        // Send and receive on the same channel in one select, against a partner.
        let (tx, rx) = bounded::<u32>(0);
        let (tx3, rx3) = (tx.clone(), rx.clone());
        let p = gort::go(move || {
            for _ in 0..100 {
                gort::select! {
                    send(tx3, 1) -> r => r.unwrap(),
                    recv(rx3) -> v => assert_eq!(v.unwrap(), 2),
                }
            }
        });
        for _ in 0..100 {
            gort::select! {
                send(tx, 2) -> r => r.unwrap(),
                recv(rx) -> v => assert_eq!(v.unwrap(), 1),
            }
        }
        p.join().unwrap();
    });
}

#[test]
fn wake_one_of_many() {
    // A select parked on several channels consumes exactly one value even when all its
    // channels get a sender at once; the other senders stay parked.
    let rt = rt(4);
    rt.block_on_no_leaks(|| {
        for _ in 0..scale(200) {
            let chans: Vec<_> = (0..3).map(|_| bounded::<u32>(0)).collect();
            let rs: Vec<_> = chans.iter().map(|c| c.1.clone()).collect();
            let got = Arc::new(AtomicUsize::new(0));
            let g2 = got.clone();
            let h = gort::go(move || {
                gort::select! {
                    recv(rs[0]) -> v => v.unwrap(),
                    recv(rs[1]) -> v => v.unwrap(),
                    recv(rs[2]) -> v => v.unwrap(),
                };
                g2.fetch_add(1, SeqCst);
            });
            let senders: Vec<_> = chans
                .iter()
                .map(|(t, _)| {
                    let t = t.clone();
                    gort::go(move || t.send(7).is_ok())
                })
                .collect();
            h.join().unwrap();
            assert_eq!(got.load(SeqCst), 1);
            // Exactly one sender completed; release the others by receiving their values.
            let mut left = 0;
            for (_, r) in &chans {
                while gort::select! { recv(r) -> _v => true, default => false } {
                    left += 1;
                }
            }
            // Some senders may not have parked yet: drain what remains by blocking receives.
            let mut pending = 2 - left;
            for (_, r) in &chans {
                while pending > 0 && r.try_recv().is_ok() {
                    pending -= 1;
                }
            }
            for (t, _) in &chans {
                t.close().unwrap();
            }
            let ok = senders
                .into_iter()
                .map(|s| s.join().unwrap())
                .filter(|&b| b)
                .count();
            // One went to the select, `2 - pending` to us; the rest saw the close.
            assert_eq!(ok, 1 + (2 - pending));
        }
    });
}

#[test]
fn select_from_plain_thread_and_empty_arms_block() {
    let (tx, rx) = bounded::<u8>(0);
    let t = std::thread::spawn(move || gort::select! { recv(rx) -> v => v.unwrap() });
    std::thread::sleep(std::time::Duration::from_millis(10));
    tx.send(3).unwrap();
    assert_eq!(t.join().unwrap(), 3);

    let rt = rt(1);
    let err = rt
        .try_block_on(|| {
            let none: Option<Receiver<u8>> = None;
            gort::select! { recv(none) -> _v => () }
        })
        .unwrap_err();
    assert!(err.to_string().contains("select (no cases)"), "{err}");
}

#[test]
fn many_selects_many_channels_totals() {
    let rt = rt(if stress() { 8 } else { 2 });
    rt.block_on_no_leaks(|| {
        let chans: Vec<_> = (0..4).map(|_| bounded::<u64>(2)).collect();
        let rxs: Vec<_> = chans.iter().map(|c| c.1.clone()).collect();
        let (dt, dr) = bounded::<u64>(0);
        let (qt, qr) = bounded::<()>(0);
        let workers = 6;
        for _ in 0..workers {
            let rxs = rxs.clone();
            let dt = dt.clone();
            let qr = qr.clone();
            gort::go(move || {
                let mut s = 0;
                loop {
                    gort::select! {
                        recv(rxs[0]) -> v => s += v.unwrap(),
                        recv(rxs[1]) -> v => s += v.unwrap(),
                        recv(rxs[2]) -> v => s += v.unwrap(),
                        recv(rxs[3]) -> v => s += v.unwrap(),
                        recv(qr) -> _q => break,
                    }
                }
                dt.send(s).unwrap();
            });
        }
        let n = scale(2000) as u64;
        let ps: Vec<_> = chans
            .iter()
            .map(|(t, _)| {
                let t = t.clone();
                gort::go(move || (1..=n).for_each(|i| t.send(i).unwrap()))
            })
            .collect();
        for p in ps {
            p.join().unwrap();
        }
        // Drain: quit only after the buffers are empty.
        while chans.iter().any(|c| !c.1.is_empty()) {
            gort::yield_now();
        }
        qt.close().unwrap();
        let total: u64 = (0..workers).map(|_| dr.recv().unwrap()).sum();
        assert_eq!(total, 4 * n * (n + 1) / 2);
    });
}
