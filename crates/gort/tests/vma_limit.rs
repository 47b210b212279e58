//! When stacks cannot be mapped because the process reached `vm.max_map_count`, `try_go`
//! fails with an error that names the limit and the sysctl that raises it.
//!
//! This needs the default-sized limit: it parks goroutines until the limit is reached, which
//! at 65530 takes about 32,000 goroutines. `.ci/run` runs it before raising the limit; with a
//! raised limit it skips (holding 130,000+ goroutines just to hit it is not worth the time).

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

#[test]
fn spawning_past_max_map_count_names_the_sysctl() {
    let max = gort::max_map_count().unwrap_or(usize::MAX);
    if max > 70_000 {
        eprintln!("SKIP: vm.max_map_count is {max}; this test needs the default (65530)");
        return;
    }
    let rt = gort::Builder::new()
        .gomaxprocs(2)
        .stack_size(64 * 1024)
        .build()
        .unwrap();
    let msg = rt.block_on(|| {
        // Spawn more parked goroutines than the limit allows. The failure shows either at
        // try_go (the headroom check) or, for goroutines already queued, when they start:
        // their join then returns the error as the panic payload.
        let release = Arc::new(AtomicBool::new(false));
        let unparkers = Arc::new(Mutex::new(Vec::new()));
        let mut handles = Vec::new();
        let mut spawn_err = None;
        for i in 0..40_000 {
            let (r, u) = (release.clone(), unparkers.clone());
            match gort::try_go(move || {
                u.lock().unwrap().push(gort::Unparker::current());
                while !r.load(SeqCst) {
                    gort::park(gort::WaitReason::User);
                }
            }) {
                Ok(h) => handles.push(h),
                Err(e) => {
                    spawn_err = Some(e.to_string());
                    break;
                }
            }
            if i % 256 == 0 {
                gort::yield_now();
            }
        }
        // Let every queued goroutine start (or fail to), then release them all.
        while handles.iter().any(|h| !h.is_finished())
            && unparkers.lock().unwrap().len() < handles.iter().filter(|h| !h.is_finished()).count()
        {
            gort::yield_now();
        }
        release.store(true, SeqCst);
        for u in unparkers.lock().unwrap().drain(..) {
            u.unpark();
        }
        let mut start_err = None;
        for h in handles {
            if let Err(p) = h.join() {
                start_err = p.downcast_ref::<String>().cloned();
            }
        }
        spawn_err
            .or(start_err)
            .expect("40,000 live goroutines fit under the default limit?")
    });
    assert!(msg.contains("vm.max_map_count"), "{msg}");
    assert!(msg.contains("sysctl -w vm.max_map_count="), "{msg}");
}
