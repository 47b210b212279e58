//! Goroutine-local storage (issue 16 item 3): values private per goroutine across parks, made
//! on first access, dropped when the goroutine ends; per thread outside goroutines.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

gort::goroutine_local!(static ID: Cell<u64> = Cell::new(0));
gort::goroutine_local!(static LOG: RefCell<Vec<u64>> = RefCell::new(Vec::new()));

static DROPS: AtomicUsize = AtomicUsize::new(0);
struct Counted(#[allow(dead_code)] u64);
impl Drop for Counted {
    fn drop(&mut self) {
        DROPS.fetch_add(1, SeqCst);
    }
}
gort::goroutine_local!(static COUNTED: RefCell<Option<Counted>> = RefCell::new(None));

/// 100 goroutines on one P (so every park hands the thread to another of them) each keep
/// their own value, and a `RefCell` held across a park is not seen borrowed by the others:
/// what `thread_local!` gets wrong here.
#[test]
fn values_are_private_per_goroutine_across_parks() {
    let rt = gort::Builder::new().gomaxprocs(1).build().unwrap();
    rt.block_on(|| {
        let (tx, rx) = gort::chan::bounded::<()>(0);
        let hs: Vec<_> = (1..=100u64)
            .map(|id| {
                let rx = rx.clone();
                gort::go(move || {
                    ID.with(|v| v.set(id));
                    LOG.with(|l| {
                        let mut l = l.borrow_mut(); // held across the park below
                        l.push(id);
                        let _ = rx.recv(); // parks until main sends
                        l.push(id * 1000);
                    });
                    (ID.with(|v| v.get()), LOG.with(|l| l.borrow().clone()))
                })
            })
            .collect();
        for _ in 0..100 {
            tx.send(()).unwrap();
        }
        for (h, id) in hs.into_iter().zip(1..=100u64) {
            let (seen, log) = h.join().unwrap();
            assert_eq!(seen, id, "goroutine {id} saw another goroutine's value");
            assert_eq!(log, vec![id, id * 1000]);
        }
        // main's own value is untouched by the others.
        assert_eq!(ID.with(|v| v.get()), 0);
    });
}

#[test]
fn values_are_dropped_when_their_goroutine_ends() {
    let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
    let before = DROPS.load(SeqCst);
    rt.block_on(|| {
        let hs: Vec<_> = (0..50u64)
            .map(|i| gort::go(move || COUNTED.with(|c| *c.borrow_mut() = Some(Counted(i)))))
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        // A goroutine that never touches the key makes no value.
        gort::go(|| ()).join().unwrap();
    });
    // Dropped after the result was delivered: wait a little for the last ones.
    let t0 = std::time::Instant::now();
    while DROPS.load(SeqCst) - before < 50 && t0.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::yield_now();
    }
    assert_eq!(DROPS.load(SeqCst) - before, 50);
}

gort::goroutine_local!(static BASE: u64 = 40);
gort::goroutine_local!(static DERIVED: u64 = BASE.with(|b| *b) + 2);

/// An initialiser may use other keys; plain threads get one value per thread.
#[test]
fn nested_initialisers_and_plain_threads() {
    let rt = gort::Builder::new().gomaxprocs(1).build().unwrap();
    assert_eq!(rt.block_on(|| DERIVED.with(|d| *d)), 42);
    let seen = Arc::new(AtomicUsize::new(0));
    let ts: Vec<_> = (1..=4u64)
        .map(|i| {
            let seen = seen.clone();
            std::thread::spawn(move || {
                ID.with(|v| v.set(i));
                std::thread::yield_now();
                if ID.with(|v| v.get()) == i {
                    seen.fetch_add(1, SeqCst);
                }
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    assert_eq!(seen.load(SeqCst), 4);
}
