//! Quick side-by-side numbers for spawn+join, yield and park/unpark ping-pong (the Go
//! equivalents are in bench/go). `cargo run --release --example quickbench`.
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Instant;

#[gort::main]
fn main() {
    for _ in 0..3 {
        let n = 1_000_000;
        let t = Instant::now();
        let left = Arc::new(AtomicUsize::new(n));
        let main = gort::Unparker::current();
        for _ in 0..n {
            let (l, m) = (left.clone(), main.clone());
            // Detached goroutines, like Go's go + WaitGroup.Done.
            drop(gort::go(move || {
                if l.fetch_sub(1, SeqCst) == 1 {
                    m.unpark();
                }
            }));
        }
        while left.load(SeqCst) != 0 {
            gort::park(gort::WaitReason::SemAcquire);
        }
        println!(
            "gort spawn+done: {:.0} ns/op",
            t.elapsed().as_nanos() as f64 / n as f64
        );
    }
    let n = 2_000_000;
    let t = Instant::now();
    let hs: Vec<_> = (0..2)
        .map(|_| {
            gort::go(move || {
                for _ in 0..n / 2 {
                    gort::yield_now();
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    println!(
        "gort yield: {:.0} ns/op",
        t.elapsed().as_nanos() as f64 / n as f64
    );
}
