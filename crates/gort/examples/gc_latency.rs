//! GC pause latency with a large live heap: builds `LIVE_MIB` of 64-byte objects in 1024
//! linked chains, then for `SECS` seconds allocates short-lived lists while replacing one
//! chain in every 16 iterations (so the live heap is mutated, not just kept), and prints the
//! stop-the-world pause distribution. The Go twin is `bench/go/cmd/gclatency`.
//!
//! ```sh
//! cargo run --release --example gc_latency -- 256 5     # LIVE_MIB SECS
//! ```
use std::time::{Duration, Instant};

use gort::gc::{Gc, Trace};

#[derive(Trace)]
struct Obj {
    next: Option<Gc<Obj>>,
    #[gc(skip)]
    payload: [u64; 6],
}

fn chain(n: usize, seed: u64) -> Option<Gc<Obj>> {
    let mut head = None;
    for i in 0..n as u64 {
        head = Some(Gc::new(Obj {
            next: head,
            payload: [seed ^ i; 6],
        }));
    }
    head
}

fn main() {
    let mut args = std::env::args().skip(1);
    let live_mib: usize = args.next().map_or(256, |a| a.parse().expect("LIVE_MIB"));
    let secs: u64 = args.next().map_or(5, |a| a.parse().expect("SECS"));
    let per_chain = (live_mib << 20) / 64 / 1024;
    let t = Instant::now();
    let mut chains: Vec<Option<Gc<Obj>>> = (0..1024).map(|i| chain(per_chain, i)).collect();
    let build = t.elapsed();
    let before = gort::read_mem_stats().num_gc;
    let t = Instant::now();
    let mut iters = 0u64;
    while t.elapsed() < Duration::from_secs(secs) {
        let garbage = chain(100, iters);
        std::hint::black_box(&garbage);
        if iters.is_multiple_of(16) {
            let k = (iters / 16) as usize % chains.len();
            chains[k] = chain(per_chain, iters);
        }
        iters += 1;
    }
    let m = gort::read_mem_stats();
    let n = (m.num_gc - before).min(256) as usize;
    let mut pauses: Vec<u64> = (0..n)
        .map(|k| m.pause_ns[(m.num_gc as usize + 255 - k) % 256])
        .collect();
    pauses.sort_unstable();
    let pct = |p: f64| {
        pauses
            .get(((n as f64 * p) as usize).min(n.saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!(
        "gort: live {live_mib} MiB (built in {:.2}s), {iters} iterations in {secs}s, {} cycles; \
         per-cycle STW (both pauses) p50 {:.3} ms p99 {:.3} ms max {:.3} ms; worst single pause {:.3} ms; heap in use {} MiB",
        build.as_secs_f64(),
        m.num_gc - before,
        pct(0.50) as f64 / 1e6,
        pct(0.99) as f64 / 1e6,
        pauses.last().copied().unwrap_or(0) as f64 / 1e6,
        gort::gc::max_pause_ns() as f64 / 1e6,
        m.heap_inuse >> 20,
    );
    std::hint::black_box(&chains);
}
