//! Test helper for `tests/stall.rs`: programs whose goroutine blocks its P's thread.
//! `gort-stall-check mutex`: a std mutex held by a goroutine parked on a gort timer, locked by
//! another goroutine of the same P (one P): the second blocks the thread the first needs, for
//! ever. `gort-stall-check hog`: a CPU loop with no runtime call for 1.5 s.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn hold_and_park(m: Arc<Mutex<u64>>) {
    let mut g = m.lock().unwrap();
    gort::time::sleep(Duration::from_millis(20)); // parks holding the std guard
    *g += 1;
}

fn lock_std_mutex(m: Arc<Mutex<u64>>) -> u64 {
    let g = m.lock().unwrap(); // STALL-LINE: blocks the only P's thread
    *g
}

fn hog() -> u64 {
    let t0 = Instant::now();
    let mut x = 0u64;
    while t0.elapsed() < Duration::from_millis(1500) {
        // HOG-LOOP: the report names a line of this loop
        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7)); // HOG-LINE
    }
    x
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let rt = gort::Builder::new().gomaxprocs(1).build().unwrap();
    rt.block_on(move || match mode.as_str() {
        "mutex" => {
            let m = Arc::new(Mutex::new(0));
            let a = {
                let m = m.clone();
                gort::go(move || hold_and_park(m))
            };
            gort::yield_now(); // let the holder take the lock and park
            let b = gort::go(move || lock_std_mutex(m));
            a.join().unwrap();
            println!("{}", b.join().unwrap());
        }
        "hog" => {
            let h = gort::go(hog);
            let beat = gort::go(|| gort::time::sleep(Duration::from_millis(5)));
            println!("{}", h.join().unwrap());
            beat.join().unwrap();
        }
        _ => eprintln!("usage: gort-stall-check mutex|hog"),
    });
}
