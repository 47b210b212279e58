//! A tour of gort: goroutines, the scheduler and its diagnostics at work.
//!
//! Run with `cargo run --release --example tour`. Try `GOMAXPROCS=1`, or
//! `GODEBUG=schedtrace=100` to watch the scheduler from sysmon while it runs.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

// Count every allocation on every thread, so MemStats (and the benchmark harness's allocs/op)
// see them all.
#[global_allocator]
static ALLOC: gort::alloc::CountingAlloc = gort::alloc::CountingAlloc::system();

fn section(title: &str) {
    println!("\n== {title}");
}

#[gort::main]
fn main() {
    section("1. goroutines: go + join, results and panics");
    let t0 = Instant::now();
    let n = 200_000u64;
    let handles: Vec<_> = (0..n).map(|i| gort::go(move || i % 7)).collect();
    let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let el = t0.elapsed();
    println!(
        "spawned and joined {n} goroutines in {:.1} ms ({:.0} ns each), sum = {sum}",
        el.as_secs_f64() * 1e3,
        el.as_nanos() as f64 / n as f64
    );
    let r = gort::go(|| -> u32 { panic!("a goroutine panicked") }).join();
    println!(
        "a panicking goroutine's panic reaches join(): is_err = {}",
        r.is_err()
    );

    section("2. the scheduler: GOMAXPROCS Ps, work stealing, parallelism");
    println!(
        "gomaxprocs = {}, main goroutine id = {}",
        gort::gomaxprocs(),
        gort::goid()
    );
    let running = Arc::new(AtomicUsize::new(0));
    let spinners: Vec<_> = (0..gort::gomaxprocs())
        .map(|_| {
            let r = running.clone();
            gort::go(move || {
                r.fetch_add(1, SeqCst);
                let t = Instant::now();
                while r.load(SeqCst) < gort::gomaxprocs() && t.elapsed() < Duration::from_secs(10) {
                    std::hint::spin_loop();
                }
                let overlapped = r.load(SeqCst) >= gort::gomaxprocs();
                let name = std::thread::current().name().unwrap_or("?").to_string();
                (name, overlapped)
            })
        })
        .collect();
    let ran: Vec<(String, bool)> = spinners.into_iter().map(|h| h.join().unwrap()).collect();
    let threads: Vec<&str> = ran.iter().map(|(name, _)| name.as_str()).collect();
    let mut distinct = threads.clone();
    distinct.sort_unstable();
    distinct.dedup();
    // The tour checks its own claim: every spinner saw all of them running at once (each
    // waits, without calling into the runtime, until all have started), on distinct threads.
    if !ran.iter().all(|(_, overlapped)| *overlapped) || distinct.len() != threads.len() {
        eprintln!("tour: CPU-bound goroutines did not run at once: threads {threads:?}");
        std::process::exit(1);
    }
    println!(
        "{} CPU-bound goroutine{} ran at once on threads {}",
        threads.len(),
        if threads.len() == 1 { "" } else { "s" },
        threads.join(", ")
    );

    section("3. yield_now (Gosched) keeps a busy goroutine from starving others");
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let yielder = gort::go(move || {
        let mut n = 0u64;
        while !s.load(SeqCst) {
            gort::yield_now();
            n += 1;
        }
        n
    });
    let others: Vec<_> = (0..4).map(|i| gort::go(move || i * 10)).collect();
    let got: Vec<_> = others.into_iter().map(|h| h.join().unwrap()).collect();
    stop.store(true, SeqCst);
    println!(
        "others finished ({got:?}) while a goroutine yielded {} times",
        yielder.join().unwrap()
    );

    section("4. blocking work runs on the blocking pool; the P keeps scheduling");
    let t0 = Instant::now();
    let slow = gort::go(|| {
        gort::blocking(|| {
            std::thread::sleep(Duration::from_millis(50));
            "slept 50 ms on a pool thread"
        })
    });
    let quick: u64 = (0..1000u64)
        .map(|i| gort::go(move || i))
        .map(|h| h.join().unwrap())
        .sum();
    println!(
        "1000 goroutines finished (sum {quick}) after {:.1} ms; the blocking call: {:?}",
        t0.elapsed().as_secs_f64() * 1e3,
        slow.join().unwrap()
    );

    section("5. park/unpark and a goroutine dump (Go's format; SIGQUIT prints it too)");
    let slot: Arc<std::sync::Mutex<Option<gort::Unparker>>> = Arc::default();
    let ready = Arc::new(AtomicBool::new(false));
    let (s2, r2) = (slot.clone(), ready.clone());
    let parked = gort::go(move || {
        *s2.lock().unwrap() = Some(gort::Unparker::current());
        while !r2.load(SeqCst) {
            gort::park(gort::WaitReason::User);
        }
        "woken by its Unparker"
    });
    let unparker = loop {
        if let Some(u) = slot.lock().unwrap().take() {
            break u;
        }
        gort::yield_now();
    };
    gort::yield_now();
    let dump = gort::debug::goroutine_dump();
    if let Some(block) = dump
        .split("\n\n")
        .find(|b| b.starts_with(&format!("goroutine {} ", unparker.goid())))
    {
        println!("{block}");
    }
    ready.store(true, SeqCst);
    unparker.unpark();
    println!("{}", parked.join().unwrap());

    section("6. GODEBUG=schedtrace / scheddetail lines");
    print!("{}", gort::debug::sched_summary(false));
    let detail = gort::debug::sched_summary(true);
    for line in detail.lines().take(1 + gort::gomaxprocs()) {
        println!("{line}");
    }

    section("7. deadlock detection (on a second runtime)");
    // block_on blocks its thread, so from a goroutine it goes through the blocking pool.
    let result = gort::blocking(|| {
        let rt = gort::Builder::new().gomaxprocs(1).build().unwrap();
        rt.try_block_on(|| {
            let h = gort::go(|| gort::block_forever());
            h.join().unwrap();
        })
    });
    match result {
        Err(e) => println!("{}", e.to_string().lines().next().unwrap()),
        Ok(()) => println!("no deadlock?"),
    }

    section("8. stacks");
    let st = gort::debug::stack_stats();
    println!(
        "{} goroutine stacks mapped ({} KiB reserved, committed lazily); {} mmap calls so far; \
         vm.max_map_count = {:?} ({} mappings per stack)",
        st.stacks_mapped,
        st.bytes_reserved / 1024,
        st.maps_total,
        gort::max_map_count(),
        gort::mappings_per_stack()
    );

    section("9. timers: 10,000 goroutines sleeping at once park, they do not hold threads");
    let t0 = Instant::now();
    let sleepers: Vec<_> = (0..10_000)
        .map(|_| gort::go(|| gort::time::sleep(Duration::from_millis(50))))
        .collect();
    for h in sleepers {
        h.join().unwrap();
    }
    println!(
        "10,000 x sleep(50 ms) took {:.0} ms of wall time on {} threads",
        t0.elapsed().as_secs_f64() * 1e3,
        gort::gomaxprocs()
    );
    let timer = gort::time::Timer::new(Duration::from_secs(3600));
    println!("Timer::stop() on an armed timer: {}", timer.stop());

    section("10. the network poller: blocking-style TCP, one goroutine per connection");
    let listener = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = gort::go(move || {
        for _ in 0..8 {
            let (mut conn, _) = listener.accept().unwrap();
            gort::go(move || {
                let mut buf = [0u8; 64];
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 || conn.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    let t0 = Instant::now();
    let clients: Vec<_> = (0..8)
        .map(|_| {
            gort::go(move || {
                let mut c = gort::net::TcpStream::connect(addr).unwrap();
                let mut buf = [0u8; 64];
                for _ in 0..1000 {
                    c.write_all(&[7u8; 64]).unwrap();
                    c.read_exact(&mut buf).unwrap();
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    server.join().unwrap();
    println!(
        "8 connections x 1000 echoed 64-byte messages in {:.1} ms ({:.1} us per message)",
        t0.elapsed().as_secs_f64() * 1e3,
        t0.elapsed().as_secs_f64() * 1e6 / 8000.0
    );

    section("11. channels and select: the concurrent prime sieve");
    let (tx, mut rx) = gort::chan::bounded::<u64>(0);
    gort::go(move || {
        for i in 2.. {
            if tx.send(i).is_err() {
                break;
            }
        }
    });
    let mut primes = Vec::new();
    for _ in 0..15 {
        let p = rx.recv().unwrap();
        primes.push(p);
        let (tx2, rx2) = gort::chan::bounded::<u64>(0);
        let input = rx;
        // Each filter goroutine drops the multiples of its prime.
        gort::go(move || {
            for v in &input {
                if v % p != 0 && tx2.send(v).is_err() {
                    break;
                }
            }
        });
        rx = rx2;
    }
    println!("first 15 primes through a chain of 15 filter goroutines: {primes:?}");
    let (a_tx, a_rx) = gort::chan::bounded::<&str>(1);
    let (_b_tx, b_rx) = gort::chan::bounded::<&str>(1);
    a_tx.send("from a").unwrap();
    gort::select! {
        recv(a_rx) -> v => println!("select picked the ready arm: {:?}", v),
        recv(b_rx) -> v => println!("unexpected: {:?}", v),
    }

    section("12. MemStats (Go's runtime.ReadMemStats, from the counting allocator)");
    let m = gort::alloc::read_mem_stats();
    println!(
        "Mallocs={} Frees={} HeapAlloc={} KiB TotalAlloc={} KiB StackInuse={} KiB RSS={} KiB",
        m.mallocs,
        m.frees,
        m.heap_alloc / 1024,
        m.total_alloc / 1024,
        m.stack_inuse / 1024,
        m.sys / 1024
    );

    println!("\ntour done: {} goroutines left", gort::num_goroutine());
    println!(
        "next: the guide, docs/guide/README.md: the Go runtime's performance lesson by lesson, \
         with problem sets that check themselves (cargo run -p gort-guide -- list)"
    );
}
