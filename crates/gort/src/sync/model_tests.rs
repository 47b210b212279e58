//! Model checks of the parking state machines with shuttle: built with `--cfg gort_model`,
//! the shim (`crate::rt::loom`) swaps in shuttle's atomics, park and unpark, so these explore
//! thread interleavings
//! of the channel wait queues, the select claim, the mutex handoff and the WaitGroup core.
//! `GORT_SHUTTLE_ITERS` overrides the number of random schedules per test.

use std::sync::Arc;

use shuttle::thread;

use crate::chan::bounded;
use crate::sync::{Cond, Mutex, RwLock, Semaphore, WaitGroup};

fn iters() -> usize {
    std::env::var("GORT_SHUTTLE_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

fn check(f: impl Fn() + Send + Sync + 'static) {
    let f = Arc::new(f);
    let g = f.clone();
    shuttle::check_random(move || f(), iters());
    shuttle::check_pct(move || g(), iters(), 3);
}

#[test]
fn unbuffered_handoff_in_order() {
    check(|| {
        let (tx, rx) = bounded::<u32>(0);
        let h = thread::spawn(move || {
            for i in 0..3 {
                tx.send(i).unwrap();
            }
        });
        for i in 0..3 {
            assert_eq!(rx.recv(), Ok(i));
        }
        h.join().unwrap();
    });
}

#[test]
fn buffered_two_producers_totals() {
    check(|| {
        let (tx, rx) = bounded::<u32>(1);
        let hs: Vec<_> = (0..2)
            .map(|p| {
                let tx = tx.clone();
                thread::spawn(move || {
                    tx.send(10 * p + 1).unwrap();
                    tx.send(10 * p + 2).unwrap();
                })
            })
            .collect();
        let s: u32 = (0..4).map(|_| rx.recv().unwrap()).sum();
        assert_eq!(s, 1 + 2 + 11 + 12);
        for h in hs {
            h.join().unwrap();
        }
    });
}

#[test]
fn close_wakes_every_waiter() {
    check(|| {
        let (tx, rx) = bounded::<u32>(0);
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let rx = rx.clone();
                thread::spawn(move || rx.recv())
            })
            .collect();
        let tx2 = tx.clone();
        let s = thread::spawn(move || tx2.send(5));
        tx.close().unwrap();
        let got: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        let sent = s.join().unwrap();
        // The sender either met a receiver before the close, or got its value back.
        let received = got.iter().filter(|r| r.is_ok()).count();
        assert_eq!(received, usize::from(sent.is_ok()));
    });
}

#[test]
fn select_wakes_exactly_one() {
    check(|| {
        let (t1, r1) = bounded::<u32>(0);
        let (t2, r2) = bounded::<u32>(0);
        let a = thread::spawn(move || {
            crate::select! {
                recv(r1) -> v => v.unwrap(),
                recv(r2) -> v => v.unwrap(),
            }
        });
        let (c1, c2) = (t1.clone(), t2.clone());
        let b = thread::spawn(move || c1.send(1).is_ok());
        let c = thread::spawn(move || c2.send(2).is_ok());
        let got = a.join().unwrap();
        t1.close().unwrap();
        t2.close().unwrap();
        let (ob, oc) = (b.join().unwrap(), c.join().unwrap());
        assert_eq!(
            usize::from(ob) + usize::from(oc),
            1,
            "exactly one sender matched"
        );
        assert_eq!(got, if ob { 1 } else { 2 });
    });
}

#[test]
fn select_send_and_recv_same_channel() {
    check(|| {
        let (tx, rx) = bounded::<u32>(0);
        let (tx2, rx2) = (tx.clone(), rx.clone());
        let a = thread::spawn(move || {
            crate::select! {
                send(tx2, 1) -> r => { r.unwrap(); 0 }
                recv(rx2) -> v => v.unwrap(),
            }
        });
        let b = crate::select! {
            send(tx, 2) -> r => { r.unwrap(); 0 }
            recv(rx) -> v => v.unwrap(),
        };
        let a = a.join().unwrap();
        // One side sent, the other received what it sent.
        assert!((a, b) == (2, 0) || (a, b) == (0, 1), "{a} {b}");
    });
}

#[test]
fn mutex_counter_and_handoff() {
    check(|| {
        let m = Arc::new(Mutex::new(0));
        let hs: Vec<_> = (0..3)
            .map(|_| {
                let m = m.clone();
                thread::spawn(move || {
                    for _ in 0..2 {
                        *m.lock() += 1;
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(*m.lock(), 6);
        assert!(m.try_lock().is_some(), "unlocked, no waiters left");
    });
}

#[test]
fn rwlock_consistency() {
    check(|| {
        let l = Arc::new(RwLock::new((0, 0)));
        let l2 = l.clone();
        let w = thread::spawn(move || {
            for _ in 0..2 {
                let mut g = l2.write();
                g.0 += 1;
                g.1 += 1;
            }
        });
        let rs: Vec<_> = (0..2)
            .map(|_| {
                let l = l.clone();
                thread::spawn(move || {
                    let g = l.read();
                    assert_eq!(g.0, g.1);
                })
            })
            .collect();
        w.join().unwrap();
        for r in rs {
            r.join().unwrap();
        }
        assert_eq!(*l.read(), (2, 2));
    });
}

#[test]
fn waitgroup_wait_sees_all_done() {
    check(|| {
        let wg = Arc::new(WaitGroup::new());
        let n = Arc::new(Mutex::new(0));
        wg.add(2);
        for _ in 0..2 {
            let (wg, n) = (wg.clone(), n.clone());
            thread::spawn(move || {
                *n.lock() += 1;
                wg.done();
            });
        }
        let (wg2, n2) = (wg.clone(), n.clone());
        let other = thread::spawn(move || {
            wg2.wait();
            assert_eq!(*n2.lock(), 2);
        });
        wg.wait();
        assert_eq!(*n.lock(), 2);
        other.join().unwrap();
    });
}

#[test]
fn cond_no_lost_wakeup() {
    check(|| {
        let st = Arc::new((Mutex::new(false), Cond::new()));
        let s2 = st.clone();
        let h = thread::spawn(move || {
            let g = s2.0.lock();
            let g = s2.1.wait_while(g, |ready| !*ready);
            assert!(*g);
        });
        *st.0.lock() = true;
        st.1.signal();
        h.join().unwrap();
    });
}

#[test]
fn semaphore_fifo_units() {
    check(|| {
        let s = Arc::new(Semaphore::new(1));
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let s = s.clone();
                thread::spawn(move || {
                    s.acquire(1);
                    s.release(1);
                })
            })
            .collect();
        s.acquire(1);
        s.release(1);
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(s.available(), 1);
    });
}
