//! `run_parallel`: Go's `B.RunParallel` and `PB`, and the GOMAXPROCS the harness reports.
//!
//! Go runs the body on `parallelism * GOMAXPROCS` goroutines that take iterations from one
//! shared counter in grains of about 100 us of work (at most 10,000 iterations), so that
//! workers stay balanced while touching the shared counter rarely.
//!
//! Workers are goroutines ([`crate::go`]) on the current runtime (the process-wide one when the
//! benchmark runs outside a goroutine), as Go's are.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use super::b::B;

/// The iterator handed to each `run_parallel` worker (Go's `testing.PB`).
pub struct PB {
    global_n: Arc<AtomicU64>,
    grain: u64,
    cache: u64,
    bn: u64,
}

impl PB {
    /// Whether there are more iterations to run on this worker.
    #[inline]
    #[allow(clippy::should_implement_trait)] // Go's name; `PB` is not an `Iterator`
    pub fn next(&mut self) -> bool {
        if self.cache == 0 {
            let n = self.global_n.fetch_add(self.grain, Ordering::Relaxed) + self.grain;
            if n <= self.bn {
                self.cache = self.grain;
            } else if n < self.bn + self.grain {
                self.cache = self.bn + self.grain - n;
            } else {
                return false;
            }
        }
        self.cache -= 1;
        true
    }
}

/// Go's grain: iterations that take about 100 us according to the previous round, in
/// `[1, 10_000]`.
pub(crate) fn grain(previous_n: u64, previous_ns: u128) -> u64 {
    let g = if previous_n > 0 && previous_ns > 0 {
        (100_000u128 * previous_n as u128 / previous_ns) as u64
    } else {
        0
    };
    g.clamp(1, 10_000)
}

/// Starts one `run_parallel` worker goroutine.
fn spawn_worker(f: impl FnOnce() + Send + 'static) -> crate::JoinHandle<()> {
    crate::go(f)
}

static PROCS: AtomicUsize = AtomicUsize::new(0);

/// GOMAXPROCS as the harness sees it: the last `-cpu` value set, else what the process-wide
/// runtime uses (`$GOMAXPROCS`, else the CPUs available), read without starting it: a runtime
/// started only for this would add its threads' allocations to every measurement.
///
/// The runtime has no GOMAXPROCS setter yet, so `-cpu N` sets the `-N` suffix and the number
/// of `run_parallel` workers, not the runtime's number of Ps.
pub(crate) fn gomaxprocs() -> usize {
    match PROCS.load(Ordering::Relaxed) {
        0 => crate::env::gomaxprocs_from_env()
            .ok()
            .flatten()
            .unwrap_or_else(crate::env::ncpu),
        n => n,
    }
}

pub(crate) fn set_gomaxprocs(n: usize) {
    PROCS.store(n, Ordering::Relaxed);
}

impl B {
    /// Runs `body` on `parallelism * GOMAXPROCS` workers until `b.n()` iterations have been
    /// handed out in total: `b.run_parallel(|pb| while pb.next() { ... })`.
    ///
    /// Panics (failing the benchmark) if a worker returns while iterations remain.
    pub fn run_parallel<F>(&mut self, body: F)
    where
        F: Fn(&mut PB) + Send + Sync + 'static,
    {
        if self.n() == 0 {
            return;
        }
        let grain = grain(self.previous_n, self.previous_duration.as_nanos());
        let counter = Arc::new(AtomicU64::new(0));
        let body = Arc::new(body);
        let workers = self.parallelism * gomaxprocs();
        let bn = self.n();
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let body = body.clone();
                let global_n = counter.clone();
                spawn_worker(move || {
                    let mut pb = PB {
                        global_n,
                        grain,
                        cache: 0,
                        bn,
                    };
                    body(&mut pb);
                })
            })
            .collect();
        let mut panic = None;
        for h in handles {
            if let Err(p) = h.join() {
                panic = Some(p);
            }
        }
        if let Some(p) = panic {
            std::panic::resume_unwind(p);
        }
        assert!(
            counter.load(Ordering::Relaxed) > bn,
            "RunParallel: body exited without pb.Next() == false"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pb_hands_out_exactly_n() {
        let global_n = Arc::new(AtomicU64::new(0));
        let mk = || PB {
            global_n: global_n.clone(),
            grain: 7,
            cache: 0,
            bn: 100,
        };
        let (mut a, mut b) = (mk(), mk());
        let mut total = 0;
        loop {
            let (x, y) = (a.next(), b.next());
            total += x as u32 + y as u32;
            if !x && !y {
                break;
            }
        }
        assert_eq!(total, 100);
        assert_eq!(grain(0, 0), 1);
        assert_eq!(grain(1_000_000, 10_000_000), 10_000);
        assert_eq!(grain(1_000, 10_000_000), 10);
    }
}
