//! Scale: 100,000 live (parked) goroutines at once, and resident memory per parked goroutine.
//!
//! Each guarded stack is two kernel mappings, so Linux's default `vm.max_map_count` (65530)
//! allows about 32,000 live goroutines. This test raises the limit when it runs as root (CI
//! does) and otherwise skips with a message. `GORT_LONG=1` also runs 1,000,000.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

fn ensure_map_count(n_goroutines: usize) -> bool {
    let need = n_goroutines * gort::mappings_per_stack() + 20_000;
    let have = gort::max_map_count().unwrap_or(0);
    if have >= need {
        return true;
    }
    if std::fs::write("/proc/sys/vm/max_map_count", need.to_string()).is_ok() {
        return true;
    }
    eprintln!(
        "SKIP: {n_goroutines} live goroutines need vm.max_map_count >= {need} (have {have}); \
         run as root or: sudo sysctl -w vm.max_map_count={need}"
    );
    false
}

fn rss_bytes() -> usize {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = s.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn hold_live(n: usize) {
    if !ensure_map_count(n) {
        return;
    }
    let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
    rt.block_on(move || {
        let release = Arc::new(AtomicBool::new(false));
        let parked = Arc::new(AtomicUsize::new(0));
        let unparkers = Arc::new(Mutex::new(Vec::with_capacity(n)));
        let rss0 = rss_bytes();
        let hs: Vec<_> = (0..n)
            .map(|i| {
                let (release, parked, unparkers) =
                    (release.clone(), parked.clone(), unparkers.clone());
                gort::go(move || {
                    unparkers.lock().unwrap().push(gort::Unparker::current());
                    parked.fetch_add(1, SeqCst);
                    while !release.load(SeqCst) {
                        gort::park(gort::WaitReason::User);
                    }
                    i
                })
            })
            .collect();
        while parked.load(SeqCst) < n {
            gort::yield_now();
        }
        assert!(gort::num_goroutine() > n);
        let per_g = (rss_bytes().saturating_sub(rss0)) / n;
        println!("{n} live parked goroutines: {per_g} bytes resident per goroutine");
        release.store(true, SeqCst);
        for u in unparkers.lock().unwrap().drain(..) {
            u.unpark();
        }
        let sum: usize = hs.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(sum, n * (n - 1) / 2);
    });
}

#[test]
fn hold_100k_live_goroutines() {
    hold_live(100_000);
}

#[test]
fn hold_1m_live_goroutines_behind_flag() {
    if std::env::var_os("GORT_LONG").is_none() {
        eprintln!("SKIP: set GORT_LONG=1 to hold 1,000,000 live goroutines");
        return;
    }
    hold_live(1_000_000);
}
