//! A collection that runs on a goroutine must not park it while it holds the collector's lock:
//! another goroutine of the same M that then needs a collection blocks the M on that lock, and
//! the parked holder, which only that M may resume, never does. Regression: the fractional
//! worker's throttle slept with `std::thread::sleep`, which the runtime interposes in a
//! goroutine (a park), so `gort::gc()` on one goroutine and allocations with
//! `gctorture` on another, at GOMAXPROCS=1, hung (`GODEBUG=gctorture=50` runs of
//! `tests/gc_atomic.rs` did, about one in ten).

use gort::gc::{Gc, Trace};
use std::time::{Duration, Instant};

#[derive(Trace)]
struct Node {
    next: Option<Gc<Node>>,
    v: u64,
}

#[test]
fn collections_on_two_goroutines_of_one_m_do_not_deadlock() {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = gort::Builder::new().gomaxprocs(1).build().unwrap();
        rt.block_on(|| {
            // A live list big enough that a mark takes long enough to be throttled.
            let mut head: Option<Gc<Node>> = None;
            for v in 0..200_000 {
                head = Some(Gc::new(Node {
                    next: head.take(),
                    v,
                }));
            }
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let s = stop.clone();
            let allocator = gort::go(move || {
                gort::gc::set_torture(50);
                let mut n = 0u64;
                while !s.load(std::sync::atomic::Ordering::Relaxed) {
                    let g = Gc::new(Node { next: None, v: n });
                    n += g.v & 1;
                    gort::yield_now();
                }
                gort::gc::set_torture(0);
                n
            });
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(3) {
                gort::gc();
                gort::yield_now();
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            allocator.join().unwrap();
            let mut len = 0;
            let mut cur = head.as_ref();
            while let Some(n) = cur {
                len += 1;
                cur = n.next.as_ref();
            }
            assert_eq!(len, 200_000);
        });
        done_tx.send(()).unwrap();
    });
    done_rx
        .recv_timeout(Duration::from_secs(120))
        .expect("collections on two goroutines of one M deadlocked");
}
