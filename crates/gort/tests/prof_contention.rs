//! The mutex and block profiles: contention is charged to the unlocker (mutex), blocking to
//! the blocked call site (block), with Go's sampling and scaling.
//!
//! One `#[test]`: the rates and event tables are process-wide.

use std::hint::black_box;
use std::time::Duration;

use gort::sync::{Mutex, WaitGroup};

#[inline(never)]
fn mutex_holder(m: &Mutex<u64>) {
    let mut g = m.lock();
    *g += 1;
    gort::time::sleep(Duration::from_millis(2)); // hold it while others queue
    drop(black_box(g)); // the unlock, charged with the waiters' delay
}

#[inline(never)]
fn blocked_on_chan(rx: &gort::chan::Receiver<u32>) -> u32 {
    rx.recv().unwrap()
}

#[inline(never)]
fn blocked_on_waitgroup(wg: &WaitGroup) {
    wg.wait();
}

#[test]
fn mutex_and_block_profiles_attribute_waits() {
    let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
    assert_eq!(gort::prof::set_mutex_profile_fraction(1), 0);
    assert_eq!(gort::prof::set_mutex_profile_fraction(-1), 1);
    gort::prof::set_block_profile_rate(1);
    rt.block_on(|| {
        let m = std::sync::Arc::new(Mutex::new(0u64));
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                gort::go(move || {
                    for _ in 0..10 {
                        mutex_holder(&m);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let (tx, rx) = gort::chan::bounded::<u32>(0);
        gort::go(move || {
            gort::time::sleep(Duration::from_millis(30));
            tx.send(7).unwrap();
        });
        assert_eq!(blocked_on_chan(&rx), 7);
        let wg = std::sync::Arc::new(WaitGroup::new());
        wg.add(1);
        let wg2 = wg.clone();
        gort::go(move || {
            gort::time::sleep(Duration::from_millis(20));
            wg2.done();
        });
        blocked_on_waitgroup(&wg);
    });
    gort::prof::set_mutex_profile_fraction(0);
    gort::prof::set_block_profile_rate(0);

    let mp = gort::prof::lookup("mutex").unwrap().build();
    assert_eq!(
        mp.sample_types,
        [
            ("contentions".to_string(), "count".to_string()),
            ("delay".to_string(), "nanoseconds".to_string())
        ]
    );
    let n = mp.total_with("contentions", "mutex_holder");
    let d = mp.total_with("delay", "mutex_holder");
    println!(
        "mutex: {n} contentions, {:.1} ms delay charged to mutex_holder",
        d as f64 / 1e6
    );
    assert!(n >= 5, "contentions charged to the unlocker: {n}");
    assert!(
        d >= n * 1_000_000,
        "each waited about a hold time or more: {d} ns for {n}"
    );

    let bp = gort::prof::lookup("block").unwrap().build();
    let chan = bp.total_with("delay", "blocked_on_chan");
    let wg = bp.total_with("delay", "blocked_on_waitgroup");
    println!(
        "block: chan recv {:.1} ms, WaitGroup.wait {:.1} ms, total {:.1} ms",
        chan as f64 / 1e6,
        wg as f64 / 1e6,
        bp.total("delay") as f64 / 1e6
    );
    assert!(
        chan >= 20_000_000,
        "chan recv blocked ~30 ms, profile says {chan} ns"
    );
    assert!(
        wg >= 10_000_000,
        "WaitGroup.wait blocked ~20 ms, profile says {wg} ns"
    );
    assert!(
        bp.total_with("contentions", "mutex_holder") > 0,
        "mutex waits block too"
    );

    // Off: nothing more is recorded.
    let before = bp.total("contentions");
    rt.block_on(|| {
        let (tx, rx) = gort::chan::bounded::<u32>(0);
        gort::go(move || {
            gort::time::sleep(Duration::from_millis(5));
            tx.send(1).unwrap();
        });
        blocked_on_chan(&rx);
    });
    assert_eq!(
        gort::prof::lookup("block")
            .unwrap()
            .build()
            .total("contentions"),
        before
    );

    // Text form (debug=1) names the functions.
    let mut text = Vec::new();
    gort::prof::lookup("block")
        .unwrap()
        .write_to(&mut text, 1)
        .unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.starts_with("block profile: "), "{text}");
    assert!(text.contains("blocked_on_chan"), "{text}");
}
