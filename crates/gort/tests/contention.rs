//! Many-to-many under a competing CPU load (issue 20 item 5, issue 15 item 4): 8 producers and
//! 8 consumers on a channel of capacity 1, GOMAXPROCS=2, while busy loops at normal priority
//! (one more than the CPUs) compete for the machine. It used to collapse about 100x now and
//! then (from ~125k to ~1,500 items per 2 s, with schedtrace showing `idleprocs=2` and the
//! schedule tick rising) and stay collapsed until the load went away. This is a liveness
//! bound, not a speed test: 200,000 items take well under a second when nothing collapses,
//! also under this load; the bound is 60 s.

mod chan_common;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Busy-loop processes, killed (by PID) when dropped.
struct Load(Vec<Child>);

impl Load {
    fn start(n: usize) -> Load {
        Load(
            (0..n)
                .map(|_| {
                    Command::new("sh")
                        .args(["-c", "while :; do :; done"])
                        .spawn()
                        .expect("start a busy loop")
                })
                .collect(),
        )
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn many_to_many_capacity_1_under_cpu_load_does_not_collapse() {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let _load = Load::start(cpus + 1);
    let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
    const N: u64 = 200_000;
    const SIDES: u64 = 8;
    for round in 0..3 {
        let t0 = Instant::now();
        let sum = rt.block_on(|| chan_common::many_to_many(SIDES, 1, N));
        assert_eq!(sum, N * (N - 1) / 2);
        let took = t0.elapsed();
        eprintln!("round {round}: {N} items in {took:?}");
        assert!(
            took < Duration::from_secs(60),
            "round {round}: {N} items took {took:?} under load: a collapse"
        );
    }
}
