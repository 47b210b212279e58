//! What CPU profiling costs: the same fixed CPU-bound work on two goroutines with profiling
//! off, at Go's 100 Hz, and at 1 kHz, measured in thread CPU time (less sensitive to other
//! load on the machine than wall time). Runs interleaved, prints medians.
//!
//! ```sh
//! cargo run --release --example prof_overhead
//! ```

use std::hint::black_box;
use std::time::Duration;

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[inline(never)]
fn work(n: u64) -> u64 {
    let mut x = 1u64;
    for i in 0..n {
        x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
    }
    x
}

/// CPU time of `work(n)` on two goroutines, summed.
fn run(rt: &gort::Runtime, n: u64) -> Duration {
    rt.block_on(move || {
        let hs: Vec<_> = (0..2)
            .map(|_| {
                gort::go(move || {
                    let t = thread_cpu();
                    black_box(work(n));
                    thread_cpu() - t
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    })
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
    let n = 400_000_000;
    run(&rt, n / 10); // warm up
    let (mut off, mut hz100, mut hz1000) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        off.push(run(&rt, n));
        gort::prof::start_cpu_profile(std::io::sink()).unwrap();
        hz100.push(run(&rt, n));
        gort::prof::stop_cpu_profile().unwrap();
        gort::prof::start_cpu_profile_with_rate(std::io::sink(), 1000).unwrap();
        hz1000.push(run(&rt, n));
        gort::prof::stop_cpu_profile().unwrap();
    }
    let (off, hz100, hz1000) = (median(off), median(hz100), median(hz1000));
    let pct = |d: Duration| (d.as_secs_f64() / off.as_secs_f64() - 1.0) * 100.0;
    println!("CPU time of the same work (median of 5):");
    println!("  profiling off  {off:?}");
    println!("  100 Hz         {hz100:?} ({:+.2}%)", pct(hz100));
    println!("  1 kHz          {hz1000:?} ({:+.2}%)", pct(hz1000));
}
