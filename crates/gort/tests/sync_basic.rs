//! gort::sync: Mutex (incl. starvation handoff), RwLock, WaitGroup, Once, OnceCell, Cond,
//! Pool, Semaphore, with goroutines on several Ps. `GORT_STRESS=1` scales up.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::sync::{Cond, Mutex, Once, OnceCell, Pool, RwLock, Semaphore, WaitGroup};

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

#[test]
fn mutex_counter() {
    let rt = rt(4);
    rt.block_on(|| {
        let m = Arc::new(Mutex::new(0u64));
        let n = scale(2000);
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let m = m.clone();
                gort::go(move || {
                    for i in 0..n {
                        let mut g = m.lock();
                        *g += 1;
                        if i % 97 == 0 {
                            gort::yield_now(); // park-free yield while holding the lock
                        }
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(*m.lock(), 8 * n as u64);
        assert!(m.try_lock().is_some());
    });
}

#[test]
fn mutex_guard_across_channel_park() {
    // A guard held across a channel receive (sound: goroutines never migrate), with another
    // goroutine parked on the mutex meanwhile.
    let rt = rt(2);
    rt.block_on(|| {
        let m = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = gort::chan::bounded::<u32>(0);
        let g = m.lock();
        let m2 = m.clone();
        let h = gort::go(move || {
            tx.send(1).unwrap();
            m2.lock().push(2);
        });
        let v = rx.recv().unwrap();
        let mut g = g;
        g.push(v);
        drop(g);
        h.join().unwrap();
        assert_eq!(*m.lock(), [1, 2]);
    });
}

#[test]
fn mutex_starvation_mode_serves_waiter() {
    // One goroutine relocks in a tight loop; another must still get the lock within a bounded
    // time thanks to starvation-mode handoff (Go's TestMutexFairness).
    let rt = rt(2);
    rt.block_on(|| {
        let m = Arc::new(Mutex::new(()));
        let stop = Arc::new(AtomicBool::new(false));
        let (m1, s1) = (m.clone(), stop.clone());
        let hog = gort::go(move || {
            while !s1.load(SeqCst) {
                let _g = m1.lock();
                std::thread::sleep(Duration::from_micros(100));
            }
        });
        let (m2, s2) = (m.clone(), stop.clone());
        let t0 = Instant::now();
        let other = gort::go(move || {
            for _ in 0..10 {
                std::thread::sleep(Duration::from_micros(100));
                let _g = m2.lock();
            }
            s2.store(true, SeqCst);
        });
        other.join().unwrap();
        hog.join().unwrap();
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "starved: {:?}",
            t0.elapsed()
        );
    });
}

#[test]
fn rwlock_readers_and_writers() {
    let rt = rt(4);
    rt.block_on(|| {
        let l = Arc::new(RwLock::new((0u64, 0u64)));
        let active_readers = Arc::new(AtomicUsize::new(0));
        let max_readers = Arc::new(AtomicUsize::new(0));
        let n = scale(500);
        let mut hs = Vec::new();
        for _ in 0..4 {
            let l = l.clone();
            hs.push(gort::go(move || {
                for _ in 0..n {
                    let mut g = l.write();
                    g.0 += 1;
                    g.1 += 1;
                }
            }));
        }
        for _ in 0..4 {
            let (l, a, m) = (l.clone(), active_readers.clone(), max_readers.clone());
            hs.push(gort::go(move || {
                for i in 0..n {
                    let g = l.read();
                    let k = a.fetch_add(1, SeqCst) + 1;
                    m.fetch_max(k, SeqCst);
                    assert_eq!(g.0, g.1, "torn read");
                    if i % 10 == 0 {
                        gort::yield_now();
                    }
                    a.fetch_sub(1, SeqCst);
                }
            }));
        }
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(l.read().0, 4 * n as u64);
        assert!(l.try_write().is_some());
        let r = l.try_read().unwrap();
        assert!(l.try_write().is_none());
        drop(r);
    });
}

#[test]
fn waitgroup_waits_for_all() {
    let rt = rt(4);
    rt.block_on(|| {
        for _ in 0..scale(50) {
            let wg = Arc::new(WaitGroup::new());
            let n = Arc::new(AtomicUsize::new(0));
            for _ in 0..20 {
                wg.add(1);
                let (wg, n) = (wg.clone(), n.clone());
                gort::go(move || {
                    gort::yield_now();
                    n.fetch_add(1, SeqCst);
                    wg.done();
                });
            }
            // Several waiters at once.
            let ws: Vec<_> = (0..3)
                .map(|_| {
                    let (wg, n) = (wg.clone(), n.clone());
                    gort::go(move || {
                        wg.wait();
                        assert_eq!(n.load(SeqCst), 20);
                    })
                })
                .collect();
            wg.wait();
            assert_eq!(n.load(SeqCst), 20);
            for w in ws {
                w.join().unwrap();
            }
        }
        WaitGroup::new().wait(); // zero: returns at once
    });
}

#[test]
#[should_panic(expected = "negative WaitGroup counter")]
fn waitgroup_negative_panics() {
    WaitGroup::new().done();
}

#[test]
fn once_and_once_cell() {
    let rt = rt(4);
    rt.block_on(|| {
        let once = Arc::new(Once::new());
        let cell = Arc::new(OnceCell::new());
        let calls = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..16)
            .map(|i| {
                let (once, cell, calls) = (once.clone(), cell.clone(), calls.clone());
                gort::go(move || {
                    once.call_once(|| {
                        gort::yield_now();
                        calls.fetch_add(1, SeqCst);
                    });
                    assert!(once.is_completed());
                    *cell.get_or_init(|| {
                        gort::yield_now();
                        i
                    })
                })
            })
            .collect();
        let vals: Vec<usize> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(calls.load(SeqCst), 1);
        assert!(vals.iter().all(|&v| v == vals[0]));
        assert_eq!(cell.set(99), Err(99));
    });
    // A panicking initialiser leaves the cell empty; Once counts as done (Go).
    let c = OnceCell::<u8>::new();
    assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(
        || c.get_or_init(|| panic!("x"))
    ))
    .is_err());
    assert_eq!(c.get(), None);
    assert_eq!(*c.get_or_init(|| 3), 3);
    let o = Once::new();
    assert!(
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| o.call_once(|| panic!("x"))))
            .is_err()
    );
    assert!(o.is_completed());
}

#[test]
fn cond_signal_and_broadcast() {
    let rt = rt(2);
    rt.block_on(|| {
        let st = Arc::new((Mutex::new(0u32), Cond::new()));
        let n = 10;
        let hs: Vec<_> = (0..n)
            .map(|_| {
                let st = st.clone();
                gort::go(move || {
                    let g = st.0.lock();
                    let g = st.1.wait_while(g, |v| *v == 0);
                    *g
                })
            })
            .collect();
        for _ in 0..20 {
            gort::yield_now();
        }
        st.1.signal(); // spurious for them (value still 0): they wait again
        *st.0.lock() = 7;
        st.1.broadcast();
        for h in hs {
            assert_eq!(h.join().unwrap(), 7);
        }
    });
}

#[test]
fn pool_reuses_values() {
    let pool = Pool::new(|| Vec::<u8>::with_capacity(64));
    let mut v = pool.get();
    v.push(1);
    let p = v.as_ptr();
    pool.put(v);
    let v = pool.get();
    assert_eq!(v.as_ptr(), p);
    let empty: Pool<u8> = Pool::empty();
    assert_eq!(empty.try_get(), None);
    let rt = rt(4);
    rt.block_on(|| {
        let pool = Arc::new(Pool::new(|| 0u64));
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let pool = pool.clone();
                gort::go(move || {
                    for _ in 0..1000 {
                        let v = pool.get();
                        pool.put(v + 1);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let mut total = 0;
        while let Some(v) = pool.try_get() {
            total += v;
        }
        assert_eq!(total, 8000);
    });
}

#[test]
fn semaphore_bounds_concurrency() {
    let rt = rt(4);
    rt.block_on(|| {
        let sem = Arc::new(Semaphore::new(3));
        let active = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..20)
            .map(|i| {
                let (sem, active, max) = (sem.clone(), active.clone(), max.clone());
                gort::go(move || {
                    let w = if i % 5 == 0 { 2 } else { 1 };
                    sem.acquire(w);
                    let a = active.fetch_add(w as usize, SeqCst) + w as usize;
                    max.fetch_max(a, SeqCst);
                    gort::yield_now();
                    active.fetch_sub(w as usize, SeqCst);
                    sem.release(w);
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert!(max.load(SeqCst) <= 3);
        assert_eq!(sem.available(), 3);
    });
}

#[test]
fn waitgroup_go_counts_returns_and_panics() {
    // Go 1.25's wg.Go: Add(1), run f in a goroutine, Done when it returns, and here also when
    // it panics (the panic goes to the handle).
    let rt = rt(4);
    rt.block_on(|| {
        let wg = Arc::new(WaitGroup::new());
        let hits = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(Semaphore::new(0));
        let mut panicking = Vec::new();
        for i in 0..scale(200) {
            let (hits, gate) = (hits.clone(), gate.clone());
            let h = wg.go(move || {
                gate.acquire(1); // all 200 are counted before any finishes
                hits.fetch_add(1, SeqCst);
                if i % 10 == 0 {
                    panic!("goroutine {i} panics");
                }
                i
            });
            if i % 10 == 0 {
                panicking.push(h); // the others are detached
            }
        }
        assert!(format!("{wg:?}").contains(&format!("counter: {}", scale(200))));
        gate.release(scale(200) as u64);
        wg.wait();
        assert_eq!(hits.load(SeqCst), scale(200));
        for h in panicking {
            assert!(h.join().is_err());
        }
        // The handle returns the goroutine's value.
        assert_eq!(wg.go(|| 7).join().unwrap(), 7);
        wg.wait();
    });
}

// `const fn` constructors: every gort::sync primitive (but Pool) can be a `static`, as in std.
static COUNTER: Mutex<u64> = Mutex::new(0);
static NAMES: RwLock<Vec<&str>> = RwLock::new(Vec::new());
static WG: WaitGroup = WaitGroup::new();
static INIT: Once = Once::new();
static CONFIG: OnceCell<String> = OnceCell::new();
static READY: Cond = Cond::new();
static READY_FLAG: Mutex<bool> = Mutex::new(false);
static SLOTS: Semaphore = Semaphore::new(2);

#[test]
fn sync_primitives_are_statics() {
    let rt = rt(2);
    rt.block_on(|| {
        for _ in 0..8 {
            WG.add(1);
            gort::go(|| {
                let _p = SLOTS.acquire_permit(1);
                *COUNTER.lock() += 1;
                NAMES.write().push("g");
                INIT.call_once(|| {
                    CONFIG.get_or_init(|| "configured".to_string());
                });
                WG.done();
            });
        }
        WG.wait();
        assert_eq!(*COUNTER.lock(), 8);
        assert_eq!(NAMES.read().len(), 8);
        assert_eq!(CONFIG.get().map(String::as_str), Some("configured"));
        assert_eq!(SLOTS.available(), 2);
        let h = gort::go(|| {
            let mut ready = READY_FLAG.lock();
            while !*ready {
                ready = READY.wait(ready);
            }
        });
        *READY_FLAG.lock() = true;
        READY.broadcast();
        h.join().unwrap();
    });
}

#[test]
fn semaphore_permits_release_on_drop() {
    let rt = rt(4);
    rt.block_on(|| {
        let sem = Arc::new(Semaphore::new(3));
        {
            let p = sem.acquire_permit(2);
            assert_eq!((p.count(), sem.available()), (2, 1));
            assert!(sem.try_acquire_permit(2).is_none());
            let q = sem.try_acquire_permit(1).unwrap();
            assert_eq!(sem.available(), 0);
            drop(q);
            assert_eq!(sem.available(), 1);
        }
        assert_eq!(sem.available(), 3);
        // forget keeps the units taken.
        sem.acquire_permit(1).forget();
        assert_eq!(sem.available(), 2);
        sem.release(1);

        // Owned permits move into goroutines: at most 3 run at once, and a goroutine that
        // panics while holding one releases it too.
        let active = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..scale(30))
            .map(|i| {
                let permit = sem.acquire_owned(1);
                let (active, max) = (active.clone(), max.clone());
                gort::go(move || {
                    let _permit = permit;
                    let a = active.fetch_add(1, SeqCst) + 1;
                    max.fetch_max(a, SeqCst);
                    gort::yield_now();
                    active.fetch_sub(1, SeqCst);
                    assert!(i % 7 != 0, "goroutine {i} panics holding its permit");
                })
            })
            .collect();
        for (i, h) in hs.into_iter().enumerate() {
            assert_eq!(h.join().is_err(), i % 7 == 0);
        }
        assert!(max.load(SeqCst) <= 3);
        assert_eq!(sem.available(), 3);
        let p = sem.try_acquire_owned(3).unwrap();
        assert!(Arc::ptr_eq(p.semaphore(), &sem));
        assert!(sem.try_acquire_owned(1).is_none());
        drop(p);
        assert_eq!(sem.available(), 3);
    });
}

#[test]
fn deadlock_on_mutex_is_reported() {
    let rt = rt(2);
    let err = rt
        .try_block_on(|| {
            let m = Mutex::new(());
            let _a = m.lock();
            let _b = m.lock();
        })
        .unwrap_err();
    assert!(err.to_string().contains("[sync.Mutex.Lock]"), "{err}");
}
