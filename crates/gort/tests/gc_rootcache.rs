//! Deferred root counts (`gc/rootcache.rs`) across threads: a handle cloned on one thread and
//! dropped on another leaves a +1 in the first thread's table and a -1 in the second's, and
//! only the collector's flush at a pause makes `rc` exact. If a flush were missed, or a table
//! change lost, a held object would be freed (and, under `GODEBUG=gctorture`, overwritten with
//! 0xdb), or a dropped one kept forever. Threads and goroutines here pass clones around
//! through channels while another thread collects in a loop; every object's payload is checked
//! on every use, and at the end every object must have been dropped. CI also runs it under
//! `GODEBUG=gccheckmark=1,gctorture=50`, where skipping the first pause's flush aborts at once
//! (checked by hand: a fresh object held only through a cached +1 is found unmarked).

mod gc_common;

use gc_common::{payload, Rng};
use gort::gc::{Gc, Trace};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;

static DROPS: AtomicU64 = AtomicU64::new(0);

struct Counted;
impl Drop for Counted {
    fn drop(&mut self) {
        DROPS.fetch_add(1, SeqCst);
    }
}

#[derive(Trace)]
struct Obj {
    id: u64,
    data: [u64; 6],
    sum: u64,
    #[gc(skip)]
    _c: Counted,
}

fn obj(id: u64) -> Gc<Obj> {
    let (data, sum) = payload::<6>(id);
    Gc::new(Obj {
        id,
        data,
        sum,
        _c: Counted,
    })
}

/// A panic payload's message (a goroutine's join returns the runtime's deadlock report so).
fn message(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(not a string)".into())
}

fn check(o: &Obj) {
    let (data, sum) = payload::<6>(o.id);
    assert!(
        o.data == data && o.sum == sum,
        "object {} corrupted (freed while held?)",
        o.id
    );
}

#[test]
fn clones_dropped_on_other_threads_keep_objects_alive_and_then_free_them() {
    const OBJECTS: u64 = 2_000;
    const SENDERS: usize = 3;
    const ROUNDS: usize = 20_000;
    const FRESH: u64 = 1 << 40;
    let _s = gc_common::serial();
    let before = DROPS.load(SeqCst);
    let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    // A collector in a loop: every pause flushes every thread's table.
    let collector = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(SeqCst) {
                gort::gc();
                n += 1;
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            n
        })
    };
    {
        let all: Arc<Vec<Gc<Obj>>> = Arc::new((0..OBJECTS).map(obj).collect());
        let (tx, rx) = gort::chan::bounded::<Vec<Gc<Obj>>>(16);
        // Senders: plain threads and goroutines clone random objects (their +1s stay in their
        // own tables) and send the clones on.
        let mut senders = Vec::new();
        for k in 0..SENDERS {
            let (all, tx) = (all.clone(), tx.clone());
            let body = move || {
                let mut rng = Rng(0x9e37_79b9 + k as u64);
                for r in 0..ROUNDS / 8 {
                    let mut batch: Vec<Gc<Obj>> =
                        (0..7).map(|_| all[rng.below(all.len())].clone()).collect();
                    // And a fresh object whose only handle travels: its +1 waits in this
                    // thread's table, its -1 will come from the receiver's.
                    batch.push(obj(FRESH + (k * ROUNDS + r) as u64));
                    tx.send(batch).unwrap();
                }
            };
            if k % 2 == 0 {
                senders.push(std::thread::spawn(body));
            } else {
                let h = rt.go(body);
                senders.push(std::thread::spawn(move || {
                    if let Err(e) = h.join() {
                        panic!("sender goroutine failed: {}", message(&*e));
                    }
                }));
            }
        }
        // The receiver, a goroutine: holds a window of received clones, checks them, and drops
        // the oldest (its -1s go to its table, not the senders').
        let receiver = rt.go(move || {
            let mut held: std::collections::VecDeque<Vec<Gc<Obj>>> = Default::default();
            let mut got = 0usize;
            for batch in &rx {
                for o in &batch {
                    check(o);
                }
                got += batch.len();
                held.push_back(batch);
                if held.len() > 256 {
                    for o in held.pop_front().unwrap() {
                        check(&o);
                    }
                }
            }
            for b in &held {
                for o in b {
                    check(o);
                }
            }
            got
        });
        for s in senders {
            if let Err(e) = s.join() {
                panic!("a sender failed: {}", message(&*e));
            }
        }
        tx.close().unwrap(); // Go's close: ends the receiver's loop
        let got = match receiver.join() {
            Ok(n) => n,
            Err(e) => panic!("the receiver failed: {}", message(&*e)),
        };
        assert_eq!(got, SENDERS * (ROUNDS / 8) * 8);
        for o in all.iter() {
            check(o);
        }
    }
    stop.store(true, SeqCst);
    let cycles = collector.join().unwrap();
    assert!(cycles > 0);
    // Every handle is gone: the tables' last deltas reach `rc` at the next pause, and the
    // cycle after that frees every object (a lost -1 would keep one alive forever).
    for _ in 0..4 {
        gort::gc();
    }
    assert_eq!(
        DROPS.load(SeqCst) - before,
        OBJECTS + (SENDERS * (ROUNDS / 8)) as u64,
        "objects left alive after every handle was dropped"
    );
}
