//! The SIGPROF handler under fire: a 1 kHz CPU profile (10x the default rate) while
//! goroutines allocate (the signal lands inside malloc), contend on mutexes, ping-pong on
//! channels and call the blocking pool (threads come and go), with profiles started and
//! stopped repeatedly. A handler that allocated or locked would deadlock here; one that read
//! outside the stack would crash.
//!
//! One `#[test]`: the profiler is process-wide.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::alloc::{set_mem_profile_rate, CountingAlloc, DEFAULT_MEM_PROFILE_RATE};

#[global_allocator]
static A: CountingAlloc = CountingAlloc::system();

#[inline(never)]
fn churn(m: &gort::sync::Mutex<Vec<Box<[u8]>>>, i: usize) {
    let b: Box<[u8]> = vec![i as u8; 64 + i % 4096].into_boxed_slice();
    let mut g = m.lock();
    g.push(b);
    if g.len() > 64 {
        g.clear();
    }
}

#[test]
fn profiling_survives_signals_everywhere() {
    set_mem_profile_rate(1024); // allocation sampling too: the signal may land in the sampler
    let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
    gort::prof::set_block_profile_rate(1);
    gort::prof::set_mutex_profile_fraction(1);
    let deadline = Instant::now() + Duration::from_millis(1500);
    let mut rounds = 0;
    let mut samples = 0;
    while Instant::now() < deadline {
        rounds += 1;
        gort::prof::start_cpu_profile_with_rate(std::io::sink(), 1000).unwrap();
        rt.block_on(|| {
            let m = Arc::new(gort::sync::Mutex::new(Vec::new()));
            let (tx, rx) = gort::chan::bounded::<usize>(0);
            let pong = gort::go(move || rx.iter().map(black_box).sum::<usize>());
            let hs: Vec<_> = (0..4)
                .map(|k| {
                    let m = m.clone();
                    gort::go(move || {
                        for i in 0..3_000 {
                            churn(&m, i + k);
                        }
                    })
                })
                .collect();
            for i in 0..2_000 {
                tx.send(i).unwrap();
            }
            tx.close().unwrap();
            gort::blocking(|| black_box(format!("{:?}", vec![1u64; 1000]).len()));
            for h in hs {
                h.join().unwrap();
            }
            black_box(pong.join().unwrap());
        });
        let p = gort::prof::stop_cpu_profile().unwrap().unwrap();
        samples += p.total("samples");
    }
    gort::prof::set_block_profile_rate(0);
    gort::prof::set_mutex_profile_fraction(0);
    set_mem_profile_rate(DEFAULT_MEM_PROFILE_RATE);
    println!("stress: {rounds} profiles, {samples} samples at 1 kHz");
    assert!(
        rounds >= 2 && samples > 0,
        "{rounds} rounds, {samples} samples"
    );
}
