//! When stacks cannot be mapped because the process reached `vm.max_map_count`, `try_go`
//! fails with an error that names the limit and the sysctl that raises it, and it fails at
//! the spawn: a goroutine `try_go` accepted always gets its stack (no join failing later with
//! "could not start"). The refusals are cheap (no `/proc/self/maps` read per refusal).
//!
//! This needs the default-sized limit: it parks goroutines until the limit is reached, which
//! at 65530 takes about 30,000 goroutines. `.ci/run` runs it before raising the limit; with a
//! raised limit it skips (holding 130,000+ goroutines just to hit it is not worth the time).

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The tests here each need the whole limit: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Refusals timed after the first one.
const MORE_REFUSALS: u32 = 200;

/// System CPU time of the calling thread.
fn thread_sys_time() -> Duration {
    // SAFETY: getrusage writes a rusage we own; RUSAGE_THREAD is valid on Linux.
    let ru = unsafe {
        let mut ru = std::mem::zeroed::<libc::rusage>();
        assert_eq!(libc::getrusage(libc::RUSAGE_THREAD, &mut ru), 0);
        ru
    };
    Duration::from_secs(ru.ru_stime.tv_sec as u64)
        + Duration::from_micros(ru.ru_stime.tv_usec as u64)
}

#[test]
fn spawning_past_max_map_count_fails_at_try_go_and_names_the_sysctl() {
    let max = gort::max_map_count().unwrap_or(usize::MAX);
    if max > 70_000 {
        eprintln!("SKIP: vm.max_map_count is {max}; this test needs the default (65530)");
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let rt = gort::Builder::new()
        .gomaxprocs(2)
        .stack_size(64 * 1024)
        .build()
        .unwrap();
    let (msg, accepted, start_failures, refused, sys) = rt.block_on(|| {
        // Spawn more parked goroutines than the limit allows, without yielding: many are
        // still queued, without a stack, when the limit is reached.
        let release = Arc::new(AtomicBool::new(false));
        let unparkers = Arc::new(Mutex::new(Vec::new()));
        let mut handles = Vec::new();
        let mut spawn_err = None;
        let spawn = |handles: &mut Vec<_>| {
            let (r, u) = (release.clone(), unparkers.clone());
            gort::try_go(move || {
                u.lock().unwrap().push(gort::Unparker::current());
                while !r.load(SeqCst) {
                    gort::park(gort::WaitReason::User);
                }
            })
            .map(|h| handles.push(h))
        };
        let t0 = std::time::Instant::now();
        for _ in 0..40_000 {
            if let Err(e) = spawn(&mut handles) {
                spawn_err = Some(e.to_string());
                break;
            }
        }
        // Further spawns are refused too (nothing has exited; a few may fit as goroutines
        // start on stacks their P mapped in a batch), cheaply.
        let t_spawned = std::time::Instant::now();
        let sys0 = thread_sys_time();
        let mut refused = 0;
        for _ in 0..MORE_REFUSALS {
            if spawn(&mut handles).is_err() {
                refused += 1;
            }
        }
        let sys = thread_sys_time() - sys0;
        let t_refused = std::time::Instant::now();
        // Let every accepted goroutine start (or fail to), then release them all. (Sleep, not
        // yield: a yielding main goroutine can keep its P from the queued ones for seconds.)
        while unparkers.lock().unwrap().len() < handles.iter().filter(|h| !h.is_finished()).count()
        {
            gort::time::sleep(Duration::from_millis(1));
        }
        let t_started = std::time::Instant::now();
        release.store(true, SeqCst);
        for u in unparkers.lock().unwrap().drain(..) {
            u.unpark();
        }
        let accepted = handles.len();
        let mut start_failures = Vec::new();
        for h in handles {
            if let Err(p) = h.join() {
                start_failures.push(
                    p.downcast_ref::<String>()
                        .cloned()
                        .unwrap_or_else(|| "a panic".into()),
                );
            }
        }
        eprintln!(
            "spawns {:?}, refusals {:?}, starts {:?}, joins {:?}",
            t_spawned - t0,
            t_refused - t_spawned,
            t_started - t_refused,
            t_started.elapsed()
        );
        let msg = spawn_err.expect("40,000 live goroutines fit under the default limit?");
        (msg, accepted, start_failures, refused, sys)
    });
    eprintln!(
        "{accepted} goroutines accepted; then {refused}/{MORE_REFUSALS} spawns refused in {sys:?} \
         of system CPU; {} failed to start",
        start_failures.len()
    );
    assert!(msg.contains("vm.max_map_count"), "{msg}");
    assert!(msg.contains("sysctl -w vm.max_map_count="), "{msg}");
    assert!(
        start_failures.is_empty(),
        "{} goroutines that try_go accepted could not start, e.g. {:?}",
        start_failures.len(),
        start_failures.first()
    );
    assert!(refused > MORE_REFUSALS / 2, "{refused}");
    let per = sys / refused;
    assert!(
        per < Duration::from_millis(1),
        "a refused spawn cost {per:?} of system CPU on average (reading /proc/self/maps?)"
    );
}

/// Spawning many short goroutines faster than they run (one P, so none runs until the spawner
/// yields) must not be refused: the goroutines queued without a stack hold reservations, so
/// `try_go` yields to let them run and finish, and retries, rather than failing at ~30,000.
#[test]
fn a_storm_of_short_goroutines_is_slowed_not_refused() {
    let max = gort::max_map_count().unwrap_or(usize::MAX);
    if max > 70_000 {
        eprintln!("SKIP: vm.max_map_count is {max}; this test needs the default (65530)");
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let rt = gort::Builder::new().gomaxprocs(1).build().unwrap();
    let sum = rt.block_on(|| {
        let mut hs = Vec::new();
        for i in 0..100_000u64 {
            match gort::try_go(move || i * 2) {
                Ok(h) => hs.push(h),
                Err(e) => panic!("spawn {i} refused: {e}"),
            }
        }
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(sum, 100_000 * 99_999);
}
