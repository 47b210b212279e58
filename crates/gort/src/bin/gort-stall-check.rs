//! Test helper for `tests/stall.rs`: programs whose goroutine blocks its P's thread (one P).
//! * `gort-stall-check mutex`: a std mutex held by a goroutine parked on a gort timer, locked
//!   by another goroutine of the same P: the second blocks the thread the first needs, for
//!   ever.
//! * `gort-stall-check hog`: a CPU loop with no runtime call for 1.5 s.
//! * `gort-stall-check error`: `mutex` with `Builder::stall_is_error(true)`: prints what
//!   `try_block_on` returned and when, drops the runtime, runs another one, exits 0.
//! * `gort-stall-check profile FILE`: a 400 ms futex stall (a std mutex held by a plain
//!   thread) and a 300 ms CPU stall, then prints the stall count, the schedtrace line before
//!   and after, and the `stall` profile's text, and writes its protobuf to FILE.

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

#[inline(never)]
fn lock_held_elsewhere(m: Arc<Mutex<u64>>) -> u64 {
    let g = m.lock().unwrap(); // FUTEX-LINE: waits for a plain thread's guard
    *g
}

fn hog(ms: u64) -> u64 {
    let t0 = Instant::now();
    let mut x = 0u64;
    while t0.elapsed() < Duration::from_millis(ms) {
        // HOG-LOOP: the report names a line of this loop
        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7)); // HOG-LINE
    }
    x
}

/// The goroutine that waits for a timer on the P beside a stall (so somebody waits for it).
fn beside() -> gort::JoinHandle<()> {
    let h = gort::go(|| gort::time::sleep(Duration::from_millis(5)));
    gort::yield_now(); // it starts, and parks on the P's timer heap
    h
}

/// The `mutex` program: never returns.
fn mutex_deadlock() -> u64 {
    let m = Arc::new(Mutex::new(0));
    let a = {
        let m = m.clone();
        gort::go(move || hold_and_park(m))
    };
    gort::yield_now(); // let the holder take the lock and park
    let b = gort::go(move || lock_std_mutex(m)); // GO-STALL
    a.join().unwrap();
    b.join().unwrap()
}

fn profile(file: &str) {
    let rt = gort::Builder::new().gomaxprocs(1).build().unwrap();
    let holder = rt.block_on(|| {
        print!("BEFORE: {}", gort::debug::sched_summary(false));
        println!("NUM-BEFORE: {}", gort::debug::num_stalls());
        // A futex stall: a plain thread holds the std mutex for 400 ms.
        let m = Arc::new(Mutex::new(0));
        let locked = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let holder = {
            let (m, locked) = (m.clone(), locked.clone());
            std::thread::spawn(move || {
                let g = m.lock().unwrap();
                locked.store(true, std::sync::atomic::Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(400));
                drop(g);
            })
        };
        // Wait on a timer, not on a channel the plain thread would send on: a goroutine parked
        // on a channel that only a plain thread feeds looks deadlocked to the runtime if that
        // thread has not run for two sysmon checks (a loaded CI machine did exactly that).
        while !locked.load(std::sync::atomic::Ordering::SeqCst) {
            gort::time::sleep(Duration::from_millis(1));
        }
        let b = beside();
        let f = gort::go(move || lock_held_elsewhere(m)); // GO-FUTEX
        f.join().unwrap();
        b.join().unwrap();
        // A CPU stall: 300 ms without a runtime call.
        let b = beside();
        let h = gort::go(|| hog(300)); // GO-HOG
        h.join().unwrap();
        b.join().unwrap();
        println!("NUM: {}", gort::debug::num_stalls());
        print!("AFTER: {}", gort::debug::sched_summary(false));
        holder
    });
    holder.join().unwrap();
    println!("RUNTIME-NUM: {}", rt.num_stalls());
    let stall = gort::prof::lookup("stall").unwrap();
    stall.write_to(std::io::stdout(), 1).unwrap();
    stall
        .write_to(std::fs::File::create(file).unwrap(), 0)
        .unwrap();
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    match mode.as_str() {
        "error" => {
            let rt = gort::Builder::new()
                .gomaxprocs(1)
                .stall_is_error(true)
                .build()
                .unwrap();
            let t0 = Instant::now();
            let r = rt.try_block_on(mutex_deadlock);
            let took = t0.elapsed();
            match r {
                Err(gort::Error::Stall(report)) => {
                    println!("STALL-ERROR after {} ms", took.as_millis());
                    println!("{report}");
                }
                other => println!("UNEXPECTED: {other:?}"),
            }
            // Poisoned: the same error at once.
            let again = rt.try_block_on(|| 1);
            println!("AGAIN: {}", matches!(again, Err(gort::Error::Stall(_))));
            let t0 = Instant::now();
            drop(rt);
            println!("DROPPED in {} ms", t0.elapsed().as_millis());
            // The process goes on.
            let rt = gort::Builder::new().gomaxprocs(1).build().unwrap();
            println!("AFTER: {}", rt.block_on(|| 6 * 7));
        }
        "profile" => profile(&std::env::args().nth(2).expect("profile FILE")),
        "mutex" | "hog" => {
            let rt = gort::Builder::new().gomaxprocs(1).build().unwrap();
            let mutex = mode == "mutex";
            rt.block_on(move || {
                if mutex {
                    println!("{}", mutex_deadlock());
                } else {
                    let h = gort::go(|| hog(1500));
                    let beat = gort::go(|| gort::time::sleep(Duration::from_millis(5)));
                    println!("{}", h.join().unwrap());
                    beat.join().unwrap();
                }
            });
        }
        _ => eprintln!("usage: gort-stall-check mutex|hog|error|profile FILE"),
    }
}
