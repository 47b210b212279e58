//! The Go memory model's synchronisation edges, each checked by passing plain (non-atomic)
//! data written before the edge and read after it. A missing edge is a data race: on x86 it
//! may still pass, so these tests are mainly a specification (run them under a race detector
//! or on a weakly ordered CPU for teeth); the values checked are large enough that a torn or
//! stale read is visible.

use std::cell::UnsafeCell;
use std::sync::Arc;

use gort::chan::bounded;
use gort::sync::{Mutex, Once, WaitGroup};

/// Plain memory shared without synchronisation of its own.
struct Plain(UnsafeCell<[u64; 16]>);

// SAFETY: every test orders its accesses through the gort edge under test; that is the point.
unsafe impl Sync for Plain {}

impl Plain {
    fn new() -> Arc<Plain> {
        Arc::new(Plain(UnsafeCell::new([0; 16])))
    }
    fn write(&self, v: u64) {
        // SAFETY: the test's edge orders this write before the matching read.
        unsafe { (*self.0.get()).iter_mut().for_each(|x| *x = v) }
    }
    fn read(&self) -> u64 {
        // SAFETY: as above.
        let a = unsafe { *self.0.get() };
        assert!(a.iter().all(|&x| x == a[0]), "torn: {a:?}");
        a[0]
    }
}

fn rt() -> gort::Runtime {
    gort::Builder::new().gomaxprocs(4).build().unwrap()
}

const ROUNDS: u64 = 2000;

#[test]
fn send_happens_before_receive_completes() {
    rt().block_on(|| {
        for cap in [0, 1, 8] {
            let d = Plain::new();
            let (tx, rx) = bounded::<u64>(cap);
            let (ack_tx, ack_rx) = bounded::<()>(0);
            let d2 = d.clone();
            let h = gort::go(move || {
                for i in 1..=ROUNDS {
                    let v = rx.recv().unwrap();
                    assert_eq!(v, i);
                    assert_eq!(d2.read(), v, "data written before the send not visible");
                    ack_tx.send(()).unwrap(); // the read happens before the next write
                }
            });
            for i in 1..=ROUNDS {
                d.write(i);
                tx.send(i).unwrap();
                ack_rx.recv().unwrap();
            }
            h.join().unwrap();
        }
    });
}

#[test]
fn kth_receive_happens_before_k_plus_c_th_send_completes() {
    // The receiver writes slot k before its k-th receive; the sender reads slot k only after
    // its (k+C)-th send has completed. Only the capacity edge orders the two.
    rt().block_on(|| {
        for c in [1usize, 3, 8] {
            let n = 500usize;
            let slots: Arc<Vec<_>> = Arc::new((0..n).map(|_| Plain::new()).collect());
            let (tx, rx) = bounded::<()>(c);
            let s2 = slots.clone();
            let h = gort::go(move || {
                for k in 0..n {
                    s2[k].write(k as u64 + 1);
                    rx.recv().unwrap();
                }
            });
            for j in 0..n + c {
                tx.send(()).unwrap();
                // The j-th send (0-based) has completed: receive number j - c happened before.
                if j >= c {
                    let k = j - c;
                    assert_eq!(slots[k].read(), k as u64 + 1);
                }
            }
            h.join().unwrap();
        }
        // The classic use: a capacity-1 channel as a mutex.
        let (tx, rx) = bounded::<()>(1);
        let d = Plain::new();
        let (tx, rx) = (Arc::new(tx), Arc::new(rx));
        let hs: Vec<_> = (0..4u64)
            .map(|_| {
                let (tx, rx, d) = (tx.clone(), rx.clone(), d.clone());
                gort::go(move || {
                    for _ in 0..ROUNDS / 4 {
                        tx.send(()).unwrap(); // lock: the previous receive happened before
                        let v = d.read();
                        d.write(v + 1);
                        rx.recv().unwrap(); // unlock
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(d.read(), ROUNDS);
    });
}

#[test]
fn close_happens_before_receive_that_sees_it() {
    rt().block_on(|| {
        for _ in 0..200 {
            let d = Plain::new();
            let (tx, rx) = bounded::<u8>(0);
            let d2 = d.clone();
            let h = gort::go(move || {
                assert!(rx.recv().is_err());
                d2.read()
            });
            d.write(42);
            tx.close().unwrap();
            assert_eq!(h.join().unwrap(), 42);
        }
    });
}

#[test]
fn unlock_happens_before_next_lock() {
    rt().block_on(|| {
        let m = Arc::new(Mutex::new(()));
        let d = Plain::new();
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let (m, d) = (m.clone(), d.clone());
                gort::go(move || {
                    for _ in 0..ROUNDS / 4 {
                        let _g = m.lock();
                        let v = d.read();
                        d.write(v + 1);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(d.read(), ROUNDS);
    });
}

#[test]
fn once_f_happens_before_any_call_returns() {
    rt().block_on(|| {
        for _ in 0..100 {
            let once = Arc::new(Once::new());
            let d = Plain::new();
            let hs: Vec<_> = (0..4)
                .map(|_| {
                    let (once, d) = (once.clone(), d.clone());
                    gort::go(move || {
                        once.call_once(|| d.write(7));
                        d.read()
                    })
                })
                .collect();
            for h in hs {
                assert_eq!(h.join().unwrap(), 7);
            }
        }
    });
}

#[test]
fn waitgroup_done_happens_before_wait_returns() {
    rt().block_on(|| {
        for _ in 0..100 {
            let wg = Arc::new(WaitGroup::new());
            let ds: Vec<_> = (0..4).map(|_| Plain::new()).collect();
            for (i, d) in ds.iter().enumerate() {
                wg.add(1);
                let (wg, d) = (wg.clone(), d.clone());
                gort::go(move || {
                    d.write(i as u64 + 1);
                    wg.done();
                });
            }
            wg.wait();
            for (i, d) in ds.iter().enumerate() {
                assert_eq!(d.read(), i as u64 + 1);
            }
        }
    });
}
