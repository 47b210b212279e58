//! Cleanups (`gort::gc::add_cleanup`, Go 1.24's `runtime.AddCleanup`): a cleanup runs once,
//! after a collection found its object unreachable, never while the object is reachable, not
//! at all once stopped (its argument dropped), and does not keep its object alive: the object
//! is freed (and its weak handles cleared) while its cleanup is still pending.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::gc::{self, add_cleanup, Gc, GcCell, Trace};

mod gc_common;
use gc_common::serial;

#[derive(Trace)]
struct Node {
    id: u64,
    next: GcCell<Option<Gc<Node>>>,
}

fn node(id: u64) -> Gc<Node> {
    Gc::new(Node {
        id,
        next: GcCell::new(None),
    })
}

/// Polls `cond` for up to 5 s; panics with `what` if it never holds.
fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "timed out after 5 s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

/// A cleanup that adds `n` to `c`.
fn add(c: &Arc<AtomicUsize>, n: usize) -> impl FnOnce(()) + Send + 'static {
    let c = c.clone();
    move |()| {
        c.fetch_add(n, SeqCst);
    }
}

#[test]
fn cleanup_runs_after_the_object_dies_with_its_arg() {
    let _s = serial();
    let (tx, rx) = mpsc::channel();
    let g = node(42);
    let id = g.id;
    add_cleanup(&g, (id, tx), |(id, tx)| tx.send(id).unwrap());
    drop(g);
    gc::gc();
    let got = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the cleanup did not run within 5 s of the collection");
    assert_eq!(got, 42);
}

#[test]
fn cleanup_does_not_run_while_the_object_is_reachable() {
    let _s = serial();
    let ran = counter();
    let held = node(1);
    // Reachable from a root directly, and through a heap edge of another rooted object.
    let inner = node(2);
    add_cleanup(&held, (), add(&ran, 1));
    add_cleanup(&inner, (), add(&ran, 10));
    *held.next.borrow_mut() = Some(inner);
    for _ in 0..5 {
        gc::gc();
        let _garbage: Vec<_> = (0..100).map(node).collect();
    }
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        ran.load(SeqCst),
        0,
        "a cleanup ran while its object was reachable"
    );
    assert_eq!(held.next.borrow().as_ref().unwrap().id, 2);
    // Unlink the inner node: only its cleanup may run.
    *held.next.borrow_mut() = None;
    gc::gc();
    wait_for("the inner node's cleanup", || ran.load(SeqCst) == 10);
    drop(held);
    gc::gc();
    wait_for("the outer node's cleanup", || ran.load(SeqCst) == 11);
}

#[test]
fn stop_cancels_and_drops_the_arg() {
    let _s = serial();
    struct Arg(Arc<AtomicUsize>);
    impl Drop for Arg {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    let ran = counter();
    let dropped = counter();
    let g = node(3);
    let r = ran.clone();
    let c = add_cleanup(&g, Arg(dropped.clone()), move |_arg| {
        r.fetch_add(1, SeqCst);
    });
    let kept = add_cleanup(&g, (), add(&ran, 100));
    assert_eq!(dropped.load(SeqCst), 0);
    c.stop();
    // `stop` drops the argument at once, on this thread.
    assert_eq!(
        dropped.load(SeqCst),
        1,
        "stop did not drop the cleanup's argument"
    );
    c.stop(); // a second stop does nothing
    c.clone().stop();
    drop(g);
    gc::gc();
    wait_for("the cleanup that was not stopped", || {
        ran.load(SeqCst) >= 100
    });
    std::thread::sleep(Duration::from_millis(50));
    gc::gc();
    assert_eq!(ran.load(SeqCst), 100, "the stopped cleanup ran");
    assert_eq!(dropped.load(SeqCst), 1);
    kept.stop(); // after it ran: no effect
    assert_eq!(ran.load(SeqCst), 100);
}

#[test]
fn every_cleanup_of_one_object_runs() {
    let _s = serial();
    let ran = counter();
    let g = node(4);
    for i in 0..8 {
        add_cleanup(&g, (), add(&ran, 1 << i));
    }
    drop(g);
    gc::gc();
    wait_for("all 8 cleanups of one object", || ran.load(SeqCst) == 0xff);
}

#[test]
fn many_objects_each_cleaned_up_exactly_once() {
    let _s = serial();
    const N: usize = 10_000;
    let runs: Arc<Vec<AtomicUsize>> = Arc::new((0..N).map(|_| AtomicUsize::new(0)).collect());
    let total = counter();
    let mut objs: Vec<Gc<Node>> = Vec::with_capacity(N);
    for i in 0..N {
        let g = node(i as u64);
        // Half of them linked into a chain (reachable only through heap edges), half held.
        if i % 2 == 1 {
            *g.next.borrow_mut() = objs.pop();
        }
        let (runs, total) = (runs.clone(), total.clone());
        add_cleanup(&g, i, move |i| {
            runs[i].fetch_add(1, SeqCst);
            total.fetch_add(1, SeqCst);
        });
        objs.push(g);
    }
    for _ in 0..3 {
        gc::gc();
    }
    std::thread::sleep(Duration::from_millis(50)); // time for wrongly queued cleanups to run
    assert_eq!(total.load(SeqCst), 0, "cleanups ran for reachable objects");
    drop(objs);
    gc::gc();
    wait_for("10,000 cleanups", || total.load(SeqCst) == N);
    // The freed slots are reused by new objects; none of them inherits an old cleanup.
    let fresh: Vec<_> = (0..N as u64).map(node).collect();
    gc::gc();
    drop(fresh);
    gc::gc();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(total.load(SeqCst), N);
    for (i, r) in runs.iter().enumerate() {
        assert_eq!(
            r.load(SeqCst),
            1,
            "object {i}'s cleanup ran {} times",
            r.load(SeqCst)
        );
    }
}

#[test]
fn pending_cleanup_does_not_keep_the_object() {
    let _s = serial();
    // Block the cleanup thread with a first cleanup, so the second stays pending.
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let blocker = node(5);
    add_cleanup(&blocker, (), move |()| {
        started_tx.send(()).unwrap();
        let _ = release_rx.recv_timeout(Duration::from_secs(10));
    });
    drop(blocker);
    gc::gc();
    started_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the blocking cleanup did not start within 5 s");

    #[derive(Trace)]
    struct Big {
        data: [u64; 8 * 1024], // 64 KiB: a large object (over 32 KiB) of its own
    }
    let ran = counter();
    let big = Gc::new(Big {
        data: [7; 8 * 1024],
    });
    let weak = Gc::downgrade(&big);
    add_cleanup(&big, (), add(&ran, 1));
    gc::gc();
    let with = gc::heap_live();
    let frees = gort::read_mem_stats().frees;
    assert_eq!(big.data[100], 7);
    drop(big);
    gc::gc();
    let without = gc::heap_live();
    assert!(
        weak.upgrade().is_none(),
        "the object's weak handle was not cleared"
    );
    assert!(
        with.saturating_sub(without) >= 64 * 1024,
        "the object was not freed while its cleanup was pending: heap {with} -> {without}"
    );
    assert!(gort::read_mem_stats().frees > frees);
    assert_eq!(
        ran.load(SeqCst),
        0,
        "the cleanup ran before the blocker finished"
    );
    release_tx.send(()).unwrap();
    wait_for("the pending cleanup", || ran.load(SeqCst) == 1);
}

#[test]
fn weak_is_cleared_before_the_cleanup_runs() {
    let _s = serial();
    let g = node(6);
    let w = Gc::downgrade(&g);
    let (tx, rx) = mpsc::channel();
    add_cleanup(&g, w, move |w| tx.send(w.upgrade().is_none()).unwrap());
    drop(g);
    gc::gc();
    let cleared = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the cleanup did not run within 5 s");
    assert!(cleared, "a cleanup saw its object through a weak handle");
}

#[test]
fn a_cleanup_may_use_the_heap_and_add_cleanups() {
    let _s = serial();
    let ran = counter();
    let g = node(7);
    let r = ran.clone();
    add_cleanup(&g, (), move |()| {
        // Allocate, collect, and attach a cleanup to a new object from the cleanup thread.
        let n = node(8);
        let r2 = r.clone();
        add_cleanup(&n, (), move |()| {
            r2.fetch_add(10, SeqCst);
        });
        assert_eq!(n.id, 8);
        drop(n);
        gc::gc();
        r.fetch_add(1, SeqCst);
    });
    drop(g);
    gc::gc();
    wait_for("the cleanup and the one it added", || {
        ran.load(SeqCst) == 11
    });
}

#[test]
#[should_panic(expected = "arg is the object itself")]
fn arg_that_is_the_object_panics() {
    let g = node(9);
    add_cleanup(&g, g.clone(), drop);
}
