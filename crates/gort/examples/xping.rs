//! Cross-P ping-pong: the two goroutines are forced onto different Ps (Ms) first.
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Instant;

#[gort::main]
fn main() {
    let (ping_tx, ping_rx) = gort::chan::bounded::<u64>(0);
    let (pong_tx, pong_rx) = gort::chan::bounded::<u64>(0);
    let main_thread = format!("{:?}", std::thread::current().id());
    let started = Arc::new(AtomicU64::new(0));
    let s2 = started.clone();
    let echo = gort::go(move || {
        s2.store(1, SeqCst);
        let t = format!("{:?}", std::thread::current().id());
        while let Ok(v) = ping_rx.recv() {
            pong_tx.send(v).unwrap();
        }
        t
    });
    // Busy-wait (no yield) so the echo goroutine must be stolen by the other P.
    while started.load(SeqCst) == 0 {
        std::hint::spin_loop();
    }
    let n = 200_000;
    let t = Instant::now();
    for i in 0..n {
        ping_tx.send(i).unwrap();
        pong_rx.recv().unwrap();
    }
    let el = t.elapsed();
    ping_tx.close().unwrap();
    let et = echo.join().unwrap();
    println!(
        "cross-P ping-pong: {:.0} ns/round trip (main on {main_thread}, echo on {et})",
        el.as_nanos() as f64 / n as f64
    );
}
