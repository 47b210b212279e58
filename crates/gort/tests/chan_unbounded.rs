//! `gort::chan::unbounded`: crossbeam-channel's `tests/list.rs` (its unbounded flavour), ported
//! in spirit to goroutines and gort's semantics (close instead of disconnect-on-drop, Go's
//! `select!`), plus what is gort's own: sends never park, `select!` send arms are always
//! ready, and the deadlock detector still sees a receiver that nobody will send to.
//! `GORT_STRESS=1` scales the concurrent tests up.

mod chan_common;
use chan_common::NoLeaks;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use gort::chan::{
    unbounded, Receiver, RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError,
    TrySendError,
};

fn rt(n: usize) -> gort::Runtime {
    gort::Builder::new().gomaxprocs(n).build().unwrap()
}

fn scale(n: usize) -> usize {
    if std::env::var("GORT_STRESS").is_ok_and(|v| v == "1") {
        n * 20
    } else {
        n
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn smoke_capacity_len() {
    let (s, r) = unbounded();
    s.try_send(7).unwrap();
    assert_eq!(r.try_recv(), Ok(7));
    s.send(8).unwrap();
    assert_eq!(r.recv(), Ok(8));
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(s.capacity(), usize::MAX);
    assert_eq!(r.capacity(), usize::MAX);
    assert_eq!(format!("{s:?}"), "Sender { cap: unbounded, .. }");
    assert!(s.is_empty() && r.is_empty());
    for i in 0..50 {
        s.send(i).unwrap();
        assert_eq!((s.len(), r.len()), (i + 1, i + 1));
    }
    for i in 0..50 {
        r.recv().unwrap();
        assert_eq!(r.len(), 49 - i);
    }
    assert!(s.same_channel(&s.clone()));
}

#[test]
fn sends_never_wait() {
    // No receiver is running: a bounded channel would deadlock here.
    let rt = rt(2);
    rt.block_on_no_leaks(|| {
        let (s, r) = unbounded();
        for i in 0..scale(100_000) as i32 {
            s.send(i).unwrap();
        }
        assert_eq!(s.try_send(-1), Ok(()));
        assert_eq!(s.send_timeout(-2, Duration::ZERO), Ok(()));
        assert_eq!(s.send_timeout(-3, ms(1)), Ok(()));
        assert_eq!(r.len(), scale(100_000) + 3);
        assert!((0..scale(100_000) as i32).all(|i| r.recv() == Ok(i)));
        assert_eq!(r.try_iter().collect::<Vec<_>>(), [-1, -2, -3]);
    });
}

#[test]
fn recv_parks_until_a_send() {
    let rt = rt(2);
    rt.block_on_no_leaks(|| {
        let (s, r) = unbounded();
        let h = gort::go(move || {
            assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
            assert_eq!(r.recv_timeout(ms(10)), Err(RecvTimeoutError::Timeout));
            assert_eq!(r.recv(), Ok(7));
            assert_eq!(r.recv_timeout(ms(5000)), Ok(8));
            assert_eq!(r.recv(), Ok(9));
            assert_eq!(r.recv(), Err(RecvError)); // closed and drained
            assert_eq!(r.recv_timeout(ms(10)), Err(RecvTimeoutError::Closed));
        });
        gort::time::sleep(ms(30));
        s.send(7).unwrap();
        gort::time::sleep(ms(10));
        s.send(8).unwrap();
        s.send(9).unwrap();
        s.close().unwrap();
        h.join().unwrap();
        // A non-empty channel yields a value even with a zero timeout.
        let (s, r) = unbounded();
        s.send(5).unwrap();
        assert_eq!(r.recv_timeout(Duration::ZERO), Ok(5));
        assert_eq!(
            r.recv_timeout(Duration::ZERO),
            Err(RecvTimeoutError::Timeout)
        );
    });
}

#[test]
fn close_semantics() {
    let (s, r) = unbounded();
    s.send(1).unwrap();
    s.send(2).unwrap();
    s.close().unwrap();
    assert!(s.close().is_err());
    assert_eq!(s.send(3), Err(SendError(3)));
    assert_eq!(s.try_send(4), Err(TrySendError::Closed(4)));
    assert_eq!(s.send_timeout(5, ms(1)), Err(SendTimeoutError::Closed(5)));
    // Receivers drain what was sent before the close.
    assert_eq!(r.recv(), Ok(1));
    assert_eq!(r.iter().collect::<Vec<_>>(), [2]);
    assert_eq!(r.try_recv(), Err(TryRecvError::Closed));
    // close wakes a parked receiver.
    let rt = rt(2);
    rt.block_on_no_leaks(|| {
        let (s, r) = unbounded::<()>();
        let h = gort::go(move || r.recv());
        gort::time::sleep(ms(10));
        s.close().unwrap();
        assert_eq!(h.join().unwrap(), Err(RecvError));
    });
}

#[test]
fn spsc_and_mpmc() {
    let rt = rt(4);
    rt.block_on_no_leaks(|| {
        let count = scale(100_000);
        let (s, r) = unbounded();
        let h = gort::go(move || {
            for i in 0..count {
                assert_eq!(r.recv(), Ok(i));
            }
            assert_eq!(r.recv(), Err(RecvError));
        });
        for i in 0..count {
            s.send(i).unwrap();
        }
        s.close().unwrap();
        h.join().unwrap();

        const G: usize = 4;
        let count = scale(25_000);
        let (s, r) = unbounded::<usize>();
        let seen: Arc<Vec<AtomicUsize>> =
            Arc::new((0..count).map(|_| AtomicUsize::new(0)).collect());
        let receivers: Vec<_> = (0..G)
            .map(|_| {
                let (r, seen) = (r.clone(), seen.clone());
                gort::go(move || {
                    for v in r.iter() {
                        seen[v].fetch_add(1, SeqCst);
                    }
                })
            })
            .collect();
        let senders: Vec<_> = (0..G)
            .map(|_| {
                let s = s.clone();
                gort::go(move || {
                    for i in 0..count {
                        s.send(i).unwrap();
                    }
                })
            })
            .collect();
        for h in senders {
            h.join().unwrap();
        }
        s.close().unwrap();
        for h in receivers {
            h.join().unwrap();
        }
        assert!(seen.iter().all(|c| c.load(SeqCst) == G));
    });
}

#[test]
fn stress_oneshot_and_timeouts() {
    let rt = rt(2);
    rt.block_on_no_leaks(|| {
        for _ in 0..scale(1000) {
            let (s, r) = unbounded();
            let h = gort::go(move || r.recv().unwrap());
            gort::go(move || s.send(1).unwrap());
            assert_eq!(h.join().unwrap(), 1);
        }
        // Sender and receiver both pause; receives poll with short timeouts, in order.
        let (s, r) = unbounded();
        let count = 40;
        let h = gort::go(move || {
            for i in 0..count {
                if i % 2 == 0 {
                    gort::time::sleep(ms(2));
                }
                s.send(i).unwrap();
            }
        });
        for i in 0..count {
            if i % 2 == 0 {
                gort::time::sleep(ms(2));
            }
            loop {
                if let Ok(x) = r.recv_timeout(ms(1)) {
                    assert_eq!(x, i);
                    break;
                }
            }
        }
        h.join().unwrap();
    });
}

#[test]
fn buffered_values_are_dropped_once() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    struct Counted;
    impl Drop for Counted {
        fn drop(&mut self) {
            DROPS.fetch_add(1, SeqCst);
        }
    }
    let rt = rt(2);
    rt.block_on_no_leaks(|| {
        for run in 0..20usize {
            let steps = run * 397 % 5000;
            let additional = run * 31 % 500;
            DROPS.store(0, SeqCst);
            let (s, r) = unbounded::<Counted>();
            let r2 = r.clone();
            let h = gort::go(move || {
                for _ in 0..steps {
                    r2.recv().unwrap();
                }
            });
            for _ in 0..steps {
                s.send(Counted).unwrap();
            }
            h.join().unwrap();
            for _ in 0..additional {
                s.try_send(Counted).unwrap();
            }
            assert_eq!(DROPS.load(SeqCst), steps);
            drop((s, r));
            assert_eq!(DROPS.load(SeqCst), steps + additional);
        }
    });
}

#[test]
fn linearizable() {
    // Each goroutine's send is visible to its own try_recv right after.
    let rt = rt(4);
    rt.block_on_no_leaks(|| {
        let (s, r) = unbounded();
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let (s, r) = (s.clone(), r.clone());
                gort::go(move || {
                    for _ in 0..scale(10_000) {
                        s.send(0).unwrap();
                        r.try_recv().unwrap();
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
}

#[test]
fn select_fairness_and_duplicates() {
    let count = 10_000;
    let (s1, r1) = unbounded::<()>();
    let (s2, r2) = unbounded::<()>();
    for _ in 0..count {
        s1.send(()).unwrap();
        s2.send(()).unwrap();
    }
    let mut hits = [0usize; 2];
    for _ in 0..count {
        gort::select! {
            recv(r1) -> _ => hits[0] += 1,
            recv(r2) -> _ => hits[1] += 1,
        }
    }
    assert!(
        hits.iter().all(|&x| x >= count / hits.len() / 2),
        "{hits:?}"
    );

    let (s, r) = unbounded();
    for _ in 0..count {
        s.send(()).unwrap();
    }
    let mut hits = [0usize; 5];
    for _ in 0..count {
        gort::select! {
            recv(r) -> _ => hits[0] += 1,
            recv(r) -> _ => hits[1] += 1,
            recv(r) -> _ => hits[2] += 1,
            recv(r) -> _ => hits[3] += 1,
            recv(r) -> _ => hits[4] += 1,
        }
    }
    assert!(
        hits.iter().all(|&x| x >= count / hits.len() / 2),
        "{hits:?}"
    );
}

#[test]
fn select_send_arms_are_always_ready() {
    // crossbeam's recv_in_send: the send value is evaluated first.
    let (s, r) = unbounded();
    s.send(()).unwrap();
    gort::select! {
        send(s, assert_eq!(r.recv(), Ok(()))) -> res => res.unwrap(),
    }
    // Against a bounded channel with no receiver, the unbounded send arm always wins.
    let (bs, _br) = gort::chan::bounded::<u32>(0);
    for i in 0..100 {
        let got = gort::select! {
            send(bs, i) -> _ => "bounded",
            send(s, ()) -> res => { res.unwrap(); "unbounded" },
        };
        assert_eq!(got, "unbounded");
    }
    assert_eq!(r.len(), 101); // and the one sent by the first select
                              // With default: never taken while a send arm exists.
    let taken = gort::select! {
        send(s, ()) -> _ => false,
        default => true,
    };
    assert!(!taken);
    // On a closed unbounded channel the send arm is ready with the value back.
    let (s, _r) = unbounded::<u32>();
    s.close().unwrap();
    let back = gort::select! {
        send(s, 7) -> res => res.unwrap_err().0,
    };
    assert_eq!(back, 7);
}

#[test]
fn channel_through_channel() {
    type T = Box<dyn std::any::Any + Send>;
    let rt = rt(2);
    rt.block_on_no_leaks(|| {
        let count = 1000;
        let (s, r) = unbounded::<T>();
        let h = gort::go(move || {
            let mut s = s;
            for _ in 0..count {
                let (new_s, new_r) = unbounded::<T>();
                s.send(Box::new(Some(new_r))).unwrap();
                s = new_s;
            }
        });
        let mut r = r;
        for _ in 0..count {
            r = r
                .recv()
                .unwrap()
                .downcast_mut::<Option<Receiver<T>>>()
                .unwrap()
                .take()
                .unwrap();
        }
        h.join().unwrap();
    });
}

#[test]
fn big_values() {
    // crossbeam's stack_overflow: 32 KiB values go through the buffer, not goroutine stacks.
    struct Big([u8; 32 * 1024]);
    let (s, r) = unbounded();
    for i in 0..64u8 {
        s.send(Box::new(Big([i; 32 * 1024]))).unwrap();
    }
    for i in 0..64u8 {
        assert_eq!(r.recv().unwrap().0[100], i);
    }
}

#[test]
fn receiver_nobody_sends_to_is_a_deadlock() {
    // Dropping every Sender does not close a channel (Go's rule): the detector reports it.
    let rt = rt(2);
    let err = rt
        .try_block_on(|| {
            let (_s, r) = unbounded::<u32>();
            let _ = r.recv();
        })
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("all goroutines are asleep - deadlock!"),
        "{err}"
    );
}
