//! Model checking of the scheduler's lock-free protocols with shuttle (`--cfg gort_model`).
//!
//! The run-queue ring (`runq.rs`) and the goroutine state machine (`gstate.rs`) run on the
//! shim's atomics (`crate::rt::loom`), which are shuttle's in this build, and are driven by
//! threads under shuttle's randomized (PCT) scheduler: every interleaving shuttle explores
//! must keep the invariants (no goroutine lost or duplicated; a wake-up is never lost and a
//! goroutine is enqueued at most once).

use shuttle::thread;
use std::sync::Arc;

use super::g::tests_support::dummy_g;
use super::gstate;
use super::gstate::{NOTIFIED, PARKED, RUNNABLE, RUNNING};
use super::runq::RunQueue;
use crate::rt::loom::AtomicU32;
use std::sync::atomic::Ordering::SeqCst;

const ITERATIONS: usize = 2_000;

/// The owner pushes and pops while a thief steals: every goroutine comes out exactly once.
#[test]
fn ring_owner_and_thief_lose_nothing() {
    shuttle::check_pct(
        || {
            let q = Arc::new(RunQueue::new());
            let q2 = q.clone();
            let thief = thread::spawn(move || {
                let mine = RunQueue::new();
                let mut got = Vec::new();
                for _ in 0..2 {
                    if let Some(g) = q2.steal_into(&mine) {
                        got.push(g.id());
                        while let Some(g) = mine.pop() {
                            got.push(g.id());
                        }
                    }
                }
                got
            });
            let mut got = Vec::new();
            for i in 0..4 {
                if let Err(spill) = q.push(dummy_g(i)) {
                    got.extend(spill.iter().map(|g| g.id()));
                }
            }
            if let Some(g) = q.pop() {
                got.push(g.id());
            }
            got.extend(thief.join().unwrap());
            while let Some(g) = q.pop() {
                got.push(g.id());
            }
            got.sort_unstable();
            assert_eq!(got, vec![0, 1, 2, 3]);
        },
        ITERATIONS,
        3,
    );
}

/// Two thieves race for the same ring.
#[test]
fn ring_two_thieves_lose_nothing() {
    shuttle::check_pct(
        || {
            let q = Arc::new(RunQueue::new());
            for i in 0..3 {
                q.push(dummy_g(i)).ok().unwrap();
            }
            let thieves: Vec<_> = (0..2)
                .map(|_| {
                    let q = q.clone();
                    thread::spawn(move || {
                        let mine = RunQueue::new();
                        let mut got = Vec::new();
                        if let Some(g) = q.steal_into(&mine) {
                            got.push(g.id());
                            while let Some(g) = mine.pop() {
                                got.push(g.id());
                            }
                        }
                        got
                    })
                })
                .collect();
            let mut got: Vec<u64> = thieves
                .into_iter()
                .flat_map(|t| t.join().unwrap())
                .collect();
            while let Some(g) = q.pop() {
                got.push(g.id());
            }
            got.sort_unstable();
            assert_eq!(got, vec![0, 1, 2]);
        },
        ITERATIONS,
        3,
    );
}

/// A goroutine parks (fast-path permit check, switch, commit) while another thread unparks it
/// once. Exactly one of: the park returns through the permit, the commit fails (the unpark
/// raced with the switch), or the waker enqueues the parked goroutine. Never a lost wake-up,
/// never two enqueues.
#[test]
fn park_and_unpark_never_lose_a_wakeup() {
    shuttle::check_pct(
        || {
            let state = Arc::new(AtomicU32::new(RUNNABLE));
            gstate::start_running(&state);
            let s2 = state.clone();
            let waker = thread::spawn(move || gstate::notify(&s2));
            // The goroutine side of park().
            let outcome = if gstate::take_permit(&state) {
                "permit"
            } else if gstate::commit_park(&state) {
                "parked"
            } else {
                "raced"
            };
            let enqueued = waker.join().unwrap();
            match outcome {
                "parked" => {
                    // It parked: the waker must have enqueued it, and it is RUNNABLE now.
                    assert!(enqueued);
                    assert_eq!(state.load(SeqCst), RUNNABLE);
                }
                _ => {
                    // It never parked: nobody enqueued it and no permit is left over.
                    assert!(!enqueued);
                    assert_eq!(state.load(SeqCst), RUNNING);
                }
            }
        },
        ITERATIONS,
        3,
    );
}

/// Two wakers race: the parked goroutine is enqueued exactly once and the second wake-up
/// becomes a permit (or is absorbed by it).
#[test]
fn two_unparks_enqueue_once() {
    shuttle::check_pct(
        || {
            let state = Arc::new(AtomicU32::new(PARKED));
            let wakers: Vec<_> = (0..2)
                .map(|_| {
                    let s = state.clone();
                    thread::spawn(move || gstate::notify(&s))
                })
                .collect();
            let enqueues = wakers
                .into_iter()
                .map(|w| w.join().unwrap())
                .filter(|&e| e)
                .count();
            assert_eq!(enqueues, 1);
            let s = state.load(SeqCst);
            assert!(s == RUNNABLE || s == RUNNABLE | NOTIFIED, "{s}");
        },
        ITERATIONS,
        3,
    );
}
