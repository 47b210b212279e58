//! Scheduler behaviour: spawn/join, panics, fairness, parallelism, blocking, deadlock.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Tests that measure where goroutines run (placement, overlap of CPU-bound goroutines) hold
/// this while they run, so that the other CPU-bound tests of this file do not take the CPUs
/// they observe (the outcome is then about gort's scheduler, not the OS's).
fn cpu_exclusive() -> std::sync::MutexGuard<'static, ()> {
    static CPU: std::sync::Mutex<()> = std::sync::Mutex::new(());
    CPU.lock().unwrap_or_else(|e| e.into_inner())
}

fn rt(n: usize) -> gort::Runtime {
    gort::Builder::new().gomaxprocs(n).build().unwrap()
}

#[test]
fn spawn_join_100k_with_results() {
    let rt = rt(2);
    let sum = rt.block_on(|| {
        let hs: Vec<_> = (0..100_000u64).map(|i| gort::go(move || i * 2)).collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(sum, 2 * (100_000 * 99_999 / 2));
}

#[test]
fn join_from_plain_thread() {
    let rt = rt(2);
    let h = rt.go(|| "hello".to_string());
    assert_eq!(h.join().unwrap(), "hello");
}

#[test]
fn panic_reaches_join_and_runtime_keeps_running() {
    let rt = rt(2);
    rt.block_on(|| {
        let h = gort::go(|| -> u32 { panic!("boom {}", 7) });
        let err = h.join().unwrap_err();
        let msg = err
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()));
        assert_eq!(msg.as_deref(), Some("boom 7"));
        assert_eq!(gort::go(|| 5).join().unwrap(), 5);
    });
}

#[test]
#[should_panic(expected = "main panicked")]
fn panic_in_block_on_is_resumed() {
    rt(1).block_on(|| panic!("main panicked"));
}

#[test]
fn goid_and_num_goroutine() {
    let rt = rt(2);
    rt.block_on(|| {
        let me = gort::goid();
        assert!(me > 0);
        let child = gort::go(gort::goid).join().unwrap();
        assert_ne!(child, me);
        assert!(gort::num_goroutine() >= 1);
        assert_eq!(gort::gomaxprocs(), 2);
    });
    assert_eq!(gort::goid(), 0);
}

#[test]
fn yield_loop_does_not_starve_others_on_its_p() {
    let _cpu = cpu_exclusive();
    // One P: a goroutine that loops on yield_now must let the others run.
    let rt = rt(1);
    rt.block_on(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let spinner = gort::go(move || {
            let mut n = 0u64;
            while !s.load(SeqCst) {
                gort::yield_now();
                n += 1;
            }
            n
        });
        let done = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..10)
            .map(|_| {
                let d = done.clone();
                gort::go(move || {
                    for _ in 0..100 {
                        gort::yield_now();
                    }
                    d.fetch_add(1, SeqCst);
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(done.load(SeqCst), 10);
        stop.store(true, SeqCst);
        assert!(spinner.join().unwrap() > 0);
    });
}

#[test]
fn two_cpu_bound_goroutines_run_on_two_threads_at_once() {
    let _cpu = cpu_exclusive();
    let rt = rt(2);
    rt.block_on(|| {
        // Each goroutine records its thread and waits (spinning, never yielding) until it has
        // seen the other one running at the same time: overlap, checked without timing.
        let running = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let r = running.clone();
                gort::go(move || {
                    r.fetch_add(1, SeqCst);
                    let t0 = Instant::now();
                    while r.load(SeqCst) < 2 {
                        assert!(t0.elapsed() < Duration::from_secs(30), "no overlap");
                        std::hint::spin_loop();
                    }
                    std::thread::current().id()
                })
            })
            .collect();
        let ids: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        assert_ne!(ids[0], ids[1]);
    });
}

/// Spinners that wait (without any runtime call) until all of them run at once; returns the
/// threads they ran on, or None if they never overlapped within `limit`.
fn overlapping_spinners(n: usize, between: impl Fn(), limit: Duration) -> Option<Vec<String>> {
    let running = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..n)
        .map(|_| {
            let r = running.clone();
            let h = gort::go(move || {
                r.fetch_add(1, SeqCst);
                let t0 = Instant::now();
                while r.load(SeqCst) < n {
                    if t0.elapsed() > limit {
                        return None;
                    }
                    std::hint::spin_loop();
                }
                Some(std::thread::current().name().unwrap_or("?").to_string())
            });
            between();
            h
        })
        .collect();
    hs.into_iter().map(|h| h.join().unwrap()).collect()
}

/// Regression (issue 15, the tour's case): a goroutine spawned into runnext by a spawner that
/// is then preempted (at the spawn's preemption point, after sysmon flagged its time slice)
/// must not start on that P while another P is free: started goroutines cannot move, so the
/// spawner would wait behind it, for the whole CPU-bound run. The unstarted goroutine is the
/// one that can go elsewhere, so it is left for the other P. (A voluntary `yield_now` keeps
/// Go's order, the new goroutine first, on this P: a spawner that yields until its partner
/// starts keeps the pair together, see DESIGN.md "Placement".)
#[test]
fn no_runnable_goroutine_waits_beside_an_idle_p() {
    let _cpu = cpu_exclusive();
    // Preempted by sysmon: spin past a time slice without calling into the runtime, so the
    // next spawn's preemption point yields.
    let rt2 = rt(2);
    for round in 0..3 {
        let threads = rt2.block_on(|| {
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_millis(40) {
                std::hint::spin_loop();
            }
            overlapping_spinners(2, || {}, Duration::from_secs(5))
        });
        let threads = threads.unwrap_or_else(|| panic!("round {round}: spinners never overlapped"));
        assert_ne!(threads[0], threads[1], "round {round}: {threads:?}");
    }
    // Preempted at every runtime call (spawn included): GODEBUG=schedstress=1.
    let stressed = gort::Builder::new()
        .gomaxprocs(2)
        .godebug("schedstress=1")
        .unwrap()
        .build()
        .unwrap();
    for round in 0..5 {
        let threads = stressed.block_on(|| overlapping_spinners(2, || {}, Duration::from_secs(5)));
        let threads = threads.unwrap_or_else(|| panic!("stress round {round}: never overlapped"));
        assert_ne!(threads[0], threads[1], "stress round {round}: {threads:?}");
    }
}

/// Goroutines cannot move once started, so first-run placement is load balancing for their
/// whole life. An accept loop (spawn a handler, it runs at once from runnext and parks
/// waiting for input, spawn the next) used to pin every handler on the spawner's P; handlers
/// spawned by a goroutine that accepts connections are spread (`Placement::Auto`), as are
/// goroutines spawned with `Placement::Spread` from anywhere.
#[test]
fn long_lived_goroutines_spawned_one_by_one_spread_over_ps() {
    let _cpu = cpu_exclusive();
    let rt = rt(2);
    // An accept loop over real sockets, default placement.
    let counts = rt.block_on(|| {
        const N: usize = 40;
        let ln = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = ln.local_addr().unwrap();
        let clients = std::thread::spawn(move || {
            (0..N)
                .map(|_| std::net::TcpStream::connect(addr).unwrap())
                .collect::<Vec<_>>()
        });
        let (started_tx, started_rx) = gort::chan::bounded::<std::thread::ThreadId>(N);
        let mut hs = Vec::new();
        for _ in 0..N {
            let (mut conn, _) = ln.accept().unwrap();
            let tx = started_tx.clone();
            hs.push(gort::go(move || {
                use std::io::Read;
                tx.send(std::thread::current().id()).unwrap();
                let mut b = [0u8; 1];
                let _ = conn.read(&mut b); // returns when the client closes
            }));
        }
        let mut per_thread = std::collections::HashMap::<_, usize>::new();
        for _ in 0..N {
            *per_thread.entry(started_rx.recv().unwrap()).or_default() += 1;
        }
        drop(clients.join().unwrap());
        for h in hs {
            h.join().unwrap();
        }
        per_thread
    });
    assert_spread(&counts, 5);
    // Placement::Spread, from a goroutine that waits on a channel.
    let counts = rt.block_on(|| {
        const N: usize = 40;
        let (started_tx, started_rx) = gort::chan::bounded::<std::thread::ThreadId>(0);
        let (release_tx, release_rx) = gort::chan::bounded::<()>(0);
        let mut hs = Vec::new();
        let mut per_thread = std::collections::HashMap::<_, usize>::new();
        for _ in 0..N {
            let (tx, rx) = (started_tx.clone(), release_rx.clone());
            hs.push(
                gort::GoBuilder::new()
                    .placement(gort::Placement::Spread)
                    .go(move || {
                        tx.send(std::thread::current().id()).unwrap();
                        let _ = rx.recv(); // Err once release_tx is closed
                    }),
            );
            *per_thread.entry(started_rx.recv().unwrap()).or_default() += 1;
        }
        release_tx.close().unwrap();
        for h in hs {
            h.join().unwrap();
        }
        per_thread
    });
    assert_spread(&counts, 5);
}

fn assert_spread(counts: &std::collections::HashMap<std::thread::ThreadId, usize>, min: usize) {
    let mut v: Vec<usize> = counts.values().copied().collect();
    v.sort_unstable();
    assert_eq!(
        v.len(),
        2,
        "all {} goroutines ran on one P: {counts:?}",
        v.iter().sum::<usize>()
    );
    assert!(
        v[0] >= min,
        "spread {v:?} over the two Ps, expected at least {min} on each"
    );
}

/// `Placement::Here`: a pipeline's stages start on the spawner's P and stay there, even with
/// the other P idle and the stages spawned in a burst (which would otherwise fill the ring
/// that idle Ps steal from).
#[test]
fn placement_here_keeps_a_pipeline_on_the_spawners_p() {
    let _cpu = cpu_exclusive();
    let rt = rt(2);
    let (threads, sum) =
        rt.block_on(|| {
            let me = std::thread::current().id();
            let (first_tx, mut rx) = gort::chan::bounded::<u64>(0);
            let mut stages = Vec::new();
            for _ in 0..200 {
                let (tx, next_rx) = gort::chan::bounded::<u64>(0);
                let input = std::mem::replace(&mut rx, next_rx);
                stages.push(gort::GoBuilder::new().placement(gort::Placement::Here).go(
                    move || {
                        for v in &input {
                            tx.send(v + 1).unwrap();
                        }
                        tx.close().unwrap();
                        std::thread::current().id()
                    },
                ));
            }
            let feeder = gort::go(move || {
                for i in 0..100 {
                    first_tx.send(i).unwrap();
                }
                first_tx.close().unwrap();
            });
            let sum: u64 = (0..100).map(|_| rx.recv().unwrap()).sum();
            feeder.join().unwrap();
            let threads: std::collections::HashSet<_> =
                stages.into_iter().map(|h| h.join().unwrap()).collect();
            assert!(threads.contains(&me), "stages left the spawner's thread");
            (threads, sum)
        });
    assert_eq!(sum, (0..100).map(|i| i + 200).sum::<u64>());
    assert_eq!(threads.len(), 1, "stages ran on {} threads", threads.len());
}

/// The hand-over above must not strand a goroutine behind a CPU hog: one handed to a P whose
/// goroutine never calls into the runtime is moved on by sysmon (or stolen from the ring),
/// so every new goroutine still runs while the hog spins on the other P.
#[test]
fn goroutines_handed_to_a_hogged_p_still_run() {
    let _cpu = cpu_exclusive();
    let rt = rt(2);
    rt.block_on(|| {
        let hogging = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (h2, s2) = (hogging.clone(), stop.clone());
        let hog = gort::go(move || {
            h2.store(true, SeqCst);
            let t0 = Instant::now();
            // No runtime call in this loop: only the other P can run anything.
            while !s2.load(SeqCst) {
                if t0.elapsed() > Duration::from_secs(20) {
                    return false;
                }
                std::hint::spin_loop();
            }
            true
        });
        // Spin (not park) until another P took the hog, so this goroutine keeps its P.
        while !hogging.load(SeqCst) {
            std::hint::spin_loop();
        }
        let (started_tx, started_rx) = gort::chan::bounded::<()>(0);
        let (release_tx, release_rx) = gort::chan::bounded::<()>(0);
        let mut hs = Vec::new();
        for _ in 0..30 {
            let (tx, rx) = (started_tx.clone(), release_rx.clone());
            hs.push(
                gort::GoBuilder::new()
                    .placement(gort::Placement::Spread)
                    .go(move || {
                        tx.send(()).unwrap();
                        let _ = rx.recv();
                    }),
            );
            started_rx.recv().unwrap();
        }
        stop.store(true, SeqCst);
        assert!(
            hog.join().unwrap(),
            "a new goroutine waited for the hog to finish"
        );
        release_tx.close().unwrap();
        for h in hs {
            h.join().unwrap();
        }
    });
}

#[test]
fn blocking_does_not_stall_its_p() {
    // One P. A blocking call waits (blocking its OS thread) for a flag that only another
    // goroutine of the same P sets: that works only if the P keeps running goroutines.
    let rt = rt(1);
    rt.block_on(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        let h = gort::go(move || {
            gort::blocking(move || {
                let t0 = Instant::now();
                while !f.load(SeqCst) {
                    if t0.elapsed() > Duration::from_secs(30) {
                        return false;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                true
            })
        });
        gort::yield_now();
        let other = gort::go(move || flag.store(true, SeqCst));
        other.join().unwrap();
        assert!(h.join().unwrap(), "the blocking call stalled its P");
    });
}

#[test]
fn blocking_panic_resumes_in_caller() {
    let rt = rt(1);
    rt.block_on(|| {
        let h = gort::go(|| gort::blocking(|| -> u8 { panic!("in pool") }));
        assert!(h.join().is_err());
    });
}

#[test]
fn deadlock_is_reported_with_goroutines() {
    let rt = rt(2);
    let err = rt
        .try_block_on(|| {
            let a = gort::go(|| {
                gort::block_forever();
            });
            a.join().unwrap();
        })
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("fatal error: all goroutines are asleep - deadlock!"),
        "{msg}"
    );
    assert!(msg.contains("[join]"), "{msg}");
    assert!(msg.contains("goroutine 2 [select (no cases)]"), "{msg}");
    assert!(msg.contains("tests/sched.rs"), "{msg}");
}

/// Sends `WARM_UP` ones, each when the goroutine says it is about to receive, 10 ms later (it is
/// parked by then, so the send is a wake-up from outside the runtime; a send that finds it not
/// yet parked is not, which is why there are several). Meanwhile a goroutine keeps a P busy,
/// so the runtime is never quiet before an outside wake-up was seen (a quiet spell before the
/// first one is still a deadlock, as documented), then stops.
const WARM_UP: usize = 20;
fn warm_up(
    rt: &gort::Runtime,
    ready: &std::sync::mpsc::Receiver<()>,
    tx: &gort::chan::Sender<u32>,
) {
    let warm = std::sync::Arc::new(AtomicBool::new(false));
    let w = warm.clone();
    let busy = rt.go(move || {
        while !w.load(SeqCst) {
            gort::yield_now();
        }
    });
    for _ in 0..WARM_UP {
        ready.recv().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(10));
        tx.send(1).unwrap();
    }
    warm.store(true, SeqCst);
    busy.join().unwrap();
}

/// The goroutine side of `warm_up`: says it is about to receive, then receives, until the
/// channel is closed.
fn receive_all(ready: &std::sync::mpsc::Sender<()>, rx: &gort::chan::Receiver<u32>) -> Vec<u32> {
    let mut got = Vec::new();
    loop {
        let _ = ready.send(()); // the feeder stops listening after its warm-up
        match rx.recv() {
            Ok(v) => got.push(v),
            Err(_) => return got,
        }
    }
}

/// Regression: a goroutine fed by a plain thread that pauses between sends was declared
/// deadlocked after ~7 ms of quiet ("all goroutines are asleep"), killing a working program.
/// Once an outside thread has woken a goroutine the runtime cannot prove a deadlock; a quiet
/// spell shorter than a second passes silently.
#[test]
fn a_goroutine_fed_by_a_pausing_plain_thread_is_not_declared_deadlocked() {
    let rt = rt(2);
    let (tx, rx) = gort::chan::bounded::<u32>(0);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let rt = std::sync::Arc::new(rt);
    let r = rt.clone();
    let feeder = std::thread::spawn(move || {
        warm_up(&r, &ready_rx, &tx);
        std::thread::sleep(std::time::Duration::from_millis(300));
        tx.send(2).unwrap();
        tx.close().unwrap();
    });
    let got = rt
        .try_block_on(move || receive_all(&ready_tx, &rx))
        .unwrap();
    feeder.join().unwrap();
    assert_eq!(got, [vec![1; WARM_UP], vec![2]].concat());
    assert_eq!(rt.num_deadlock_warnings(), 0);
}

/// The other side: goroutines really stuck in a runtime that an outside thread woke before
/// are reported as a warning (the same report, on stderr) after a second of quiet, and the
/// runtime keeps running, so a late wake-up still completes the program.
#[test]
fn a_stuck_runtime_that_outside_threads_fed_is_warned_about_not_killed() {
    let rt = rt(2);
    let (tx, rx) = gort::chan::bounded::<u32>(0);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let rt2 = std::sync::Arc::new(rt);
    let r = rt2.clone();
    let feeder = std::thread::spawn(move || {
        warm_up(&r, &ready_rx, &tx);
        // Now every goroutine waits for a second value; wait for the warning, then send it.
        let t0 = std::time::Instant::now();
        while r.num_deadlock_warnings() == 0 {
            assert!(
                t0.elapsed() < std::time::Duration::from_secs(10),
                "no warning after 10 s of quiet"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let waited = t0.elapsed();
        tx.send(2).unwrap();
        tx.close().unwrap();
        waited
    });
    let got = rt2
        .try_block_on(move || receive_all(&ready_tx, &rx))
        .unwrap();
    let waited = feeder.join().unwrap();
    assert_eq!(got, [vec![1; WARM_UP], vec![2]].concat());
    assert_eq!(rt2.num_deadlock_warnings(), 1);
    assert!(
        waited >= std::time::Duration::from_millis(900),
        "{waited:?}"
    );
}

#[test]
fn lock_os_thread_keeps_others_off_the_thread() {
    let rt = rt(2);
    rt.block_on(|| {
        let h = gort::go(|| {
            gort::lock_os_thread();
            assert!(gort::is_thread_locked());
            let me = std::thread::current().id();
            // Goroutines spawned while locked run elsewhere.
            let others: Vec<_> = (0..20)
                .map(|_| gort::go(|| std::thread::current().id()))
                .collect();
            for _ in 0..10 {
                gort::yield_now();
                assert_eq!(std::thread::current().id(), me);
            }
            let ids: Vec<_> = others.into_iter().map(|h| h.join().unwrap()).collect();
            gort::unlock_os_thread();
            (me, ids)
        });
        let (me, ids) = h.join().unwrap();
        assert!(ids.iter().all(|&t| t != me));
    });
}

#[test]
fn gomaxprocs_env_error_is_clear() {
    let e = gort::env::parse_gomaxprocs("lots").unwrap_err();
    assert!(e.to_string().contains("GOMAXPROCS"));
    let b = gort::Builder::new().gomaxprocs(0).build().unwrap_err();
    assert!(b.to_string().contains("invalid GOMAXPROCS"), "{b}");
}

/// Torture mode: GODEBUG schedstress=1 makes every runtime call yield. The same workloads
/// must give the same results.
#[test]
fn stress_mode_yields_at_every_runtime_call() {
    let rt = gort::Builder::new()
        .gomaxprocs(2)
        .godebug("schedstress=1")
        .unwrap()
        .build()
        .unwrap();
    rt.block_on(|| {
        // Spawn/join fan-out with nested spawns.
        let hs: Vec<_> = (0..2_000u64)
            .map(|i| gort::go(move || gort::go(move || i + 1).join().unwrap()))
            .collect();
        let sum: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(sum, 2_000 * 2_001 / 2);
        // Park/unpark hand-offs between two goroutines, counted exactly.
        let turn = Arc::new(AtomicUsize::new(0));
        let slots: Arc<std::sync::Mutex<[Option<gort::Unparker>; 2]>> = Arc::default();
        let players: Vec<_> = (0..2usize)
            .map(|me| {
                let (turn, slots) = (turn.clone(), slots.clone());
                gort::go(move || {
                    slots.lock().unwrap()[me] = Some(gort::Unparker::current());
                    for _ in 0..500 {
                        while turn.load(SeqCst) % 2 != me {
                            gort::park(gort::WaitReason::User);
                        }
                        turn.fetch_add(1, SeqCst);
                        let other = slots.lock().unwrap()[1 - me].clone();
                        if let Some(o) = other {
                            o.unpark();
                        }
                    }
                })
            })
            .collect();
        // The first player may park before the second registered: keep nudging both.
        while !players.iter().all(|h| h.is_finished()) {
            for u in slots.lock().unwrap().iter().flatten() {
                u.unpark();
            }
            gort::yield_now();
        }
        for p in players {
            p.join().unwrap();
        }
        assert_eq!(turn.load(SeqCst), 1000);
    });
}

/// Regression: spawning from a plain thread and joining there used to hang now and then (a
/// spinning-M count leaked when an idle P that wakep had just picked re-checked and found work
/// by itself; every later wakep then thought a spinner existed).
#[test]
fn external_spawn_bursts_never_lose_a_wakeup() {
    let rt = rt(2);
    for round in 0..3000 {
        let hs: Vec<_> = (0..128u64).map(|i| rt.go(move || i)).collect();
        let sum: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(sum, 127 * 128 / 2, "round {round}");
    }
}
