//! Runtime calls are preemption points: a goroutine that loops on any runtime entry point
//! (and on nothing else) yields its P once sysmon flags its time slice as used up, so other
//! goroutines on that P still run. gort's preemption is cooperative: sysmon sets a flag and
//! the goroutine yields at its next runtime operation (`rt::sched::park::preempt_point`; pure
//! queries such as `is_finished` or a channel's `len` are not preemption points, so that a
//! `std::sync::Mutex` may be held across them).
//!
//! Each test runs one looping goroutine per P (GOMAXPROCS=2) and a main goroutine that sleeps
//! 100 ms (Go: it wakes after about 110 ms). A liveness test, not a timing one: the sleep must
//! return within 5 s. On a failure a watchdog stops the loops so that the test reports it
//! instead of hanging.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use gort::gc::{AtomicGc, Gc, GcCell, Trace, Weak};

/// How long the main goroutine may take to come back from its 100 ms sleep.
const DEADLINE: Duration = Duration::from_secs(5);

#[derive(Trace)]
struct Node {
    #[gc(skip)]
    _v: u64,
}

/// Runs `body` in a loop, one goroutine per P, until the main goroutine's 100 ms sleep
/// returns; fails if it does not within [`DEADLINE`]. `setup` makes each loop's own state.
fn main_sleep_returns<S, F>(kind: &str, setup: fn() -> S, body: F)
where
    S: Send + 'static,
    F: Fn(&S) + Send + Sync + Copy + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = mpsc::channel();
    let s2 = stop.clone();
    let runner = std::thread::spawn(move || {
        let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
        let slept = rt.block_on(move || {
            let loops: Vec<_> = (0..2)
                .map(|_| {
                    let stop = s2.clone();
                    gort::go(move || {
                        let state = setup();
                        while !stop.load(Relaxed) {
                            body(&state);
                        }
                    })
                })
                .collect();
            // Let both loops start (each on its own P) before sleeping.
            gort::time::sleep(Duration::from_millis(20));
            let t = Instant::now();
            gort::time::sleep(Duration::from_millis(100));
            let slept = t.elapsed();
            s2.store(true, Relaxed);
            for h in loops {
                h.join().unwrap();
            }
            slept
        });
        let _ = done_tx.send(slept);
    });
    match done_rx.recv_timeout(DEADLINE) {
        Ok(slept) => {
            runner.join().unwrap();
            assert!(
                slept >= Duration::from_millis(100),
                "{kind}: slept {slept:?}"
            );
        }
        Err(_) => {
            // Release the loops so the runtime can finish, then report.
            stop.store(true, Relaxed);
            let _ = done_rx.recv_timeout(Duration::from_secs(10));
            panic!(
                "{kind}: a goroutine looping on it never yielded: main's 100 ms sleep had not \
                 returned after {DEADLINE:?}"
            );
        }
    }
}

#[test]
fn gc_new_and_weak_upgrade() {
    main_sleep_returns(
        "Gc::new + Weak::upgrade",
        || (),
        |_| {
            let g = Gc::new(Node { _v: 1 });
            let w = Gc::downgrade(&g);
            assert!(w.upgrade().is_some());
        },
    );
}

#[test]
fn weak_upgrade_of_a_dead_object() {
    main_sleep_returns("Weak::upgrade (dead)", Weak::<Node>::new, |w| {
        assert!(w.upgrade().is_none());
    });
}

#[test]
fn gc_clone_and_cells() {
    main_sleep_returns(
        "Gc::clone, GcCell, AtomicGc",
        || {
            let g = Gc::new(Node { _v: 2 });
            (g.clone(), GcCell::new(3u64), AtomicGc::new(Some(g)))
        },
        |(g, c, a)| {
            drop(g.clone());
            *c.borrow_mut() += 1;
            assert!(*c.borrow() > 0);
            assert!(a.load().is_some());
        },
    );
}

#[test]
fn try_send_on_a_full_channel() {
    main_sleep_returns(
        "Sender::try_send",
        || {
            let (tx, rx) = gort::chan::bounded::<u8>(1);
            tx.send(0).unwrap();
            (tx, rx)
        },
        |(tx, _)| {
            assert!(tx.try_send(1).is_err());
        },
    );
}

#[test]
fn try_recv_on_an_empty_channel() {
    main_sleep_returns(
        "Receiver::try_recv",
        || gort::chan::bounded::<u8>(1),
        |(_, rx)| {
            assert!(rx.try_recv().is_err());
        },
    );
}

#[test]
fn send_and_recv_that_never_block() {
    main_sleep_returns(
        "Sender::send + Receiver::recv (buffered)",
        || gort::chan::bounded::<u8>(1),
        |(tx, rx)| {
            tx.send(1).unwrap();
            assert_eq!(rx.recv(), Ok(1));
        },
    );
}

#[test]
fn select_with_default() {
    main_sleep_returns(
        "select! with default",
        || gort::chan::bounded::<u8>(1),
        |(_, rx)| {
            gort::select! {
                recv(rx) -> _v => unreachable!(),
                default => {},
            }
        },
    );
}

#[test]
fn mutex_try_lock_and_lock() {
    main_sleep_returns(
        "Mutex::try_lock + Mutex::lock",
        || gort::sync::Mutex::new(0u64),
        |m| {
            *m.try_lock().unwrap() += 1;
            *m.lock() += 1;
        },
    );
}

#[test]
fn rwlock_semaphore_waitgroup_once_cond_pool() {
    main_sleep_returns(
        "RwLock, Semaphore, WaitGroup, Once, Cond, Pool",
        || {
            let once = gort::sync::Once::new();
            once.call_once(|| {});
            (
                gort::sync::RwLock::new(0u64),
                gort::sync::Semaphore::new(1),
                gort::sync::WaitGroup::new(),
                once,
                gort::sync::Cond::new(),
                gort::sync::Pool::new(|| 0u64),
            )
        },
        |(rw, sem, wg, once, cond, pool)| {
            *rw.write() += 1;
            assert!(*rw.read() > 0);
            assert!(rw.try_read().is_some());
            assert!(sem.try_acquire(1));
            sem.release(1);
            wg.add(1);
            wg.done();
            wg.wait();
            once.call_once(|| unreachable!());
            cond.signal();
            cond.broadcast();
            let v = pool.get();
            pool.put(v);
        },
    );
}

#[test]
fn zero_sleep_and_timer_calls() {
    main_sleep_returns(
        "time::sleep(0), Timer::reset/stop",
        || gort::time::Timer::new(Duration::from_secs(3600)),
        |t| {
            gort::time::sleep(Duration::ZERO);
            t.reset(Duration::from_secs(3600));
            assert!(t.try_recv().is_none());
        },
    );
}

/// The harness itself: a loop that yields explicitly lets main run (on the old code too).
#[test]
fn control_explicit_yield() {
    main_sleep_returns("yield_now", || (), |_| gort::yield_now());
}
