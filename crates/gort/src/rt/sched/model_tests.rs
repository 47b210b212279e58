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

/// The wake-up protocol of `idle.rs`, driven as the Ms drive it (`worker.rs`: look for work,
/// maybe spin, publish idleness, stop spinning, re-check, sleep until taken off the idle
/// list) while a submitter publishes work items one by one and calls `wake_one` after each.
/// A lost wake-up leaves the submitter waiting for its items with every M asleep: shuttle
/// reports that as a deadlock. At the end no spinning token may have leaked: `nmspinning`
/// equals the number of Ms that stopped while spinning, and no P is left on the idle list
/// but those whose M stopped there.
#[test]
fn idle_and_wakep_never_lose_work_nor_a_spinning_token() {
    use super::idle::IdleSet;
    use crate::rt::loom::{AtomicBool, AtomicUsize, Mutex};
    use std::sync::atomic::Ordering::SeqCst;
    const NP: usize = 2;
    const ITEMS: usize = 3;
    struct Model {
        set: IdleSet,
        /// Published, untaken work (a stand-in for the run queues).
        work: AtomicUsize,
        taken: AtomicUsize,
        shutdown: AtomicBool,
        ms: Mutex<Vec<thread::Thread>>,
    }
    impl Model {
        fn take(&self) -> bool {
            let mut w = self.work.load(SeqCst);
            while w > 0 {
                match self.work.compare_exchange(w, w - 1, SeqCst, SeqCst) {
                    Ok(_) => return true,
                    Err(cur) => w = cur,
                }
            }
            false
        }
        /// `Shared::wakep`.
        fn wakep(&self) {
            if let Some(pid) = self.set.wake_one() {
                self.ms.lock().unwrap()[pid].unpark();
            }
        }
    }
    shuttle::check_pct(
        || {
            let m = Arc::new(Model {
                set: IdleSet::new(NP),
                work: AtomicUsize::new(0),
                taken: AtomicUsize::new(0),
                shutdown: AtomicBool::new(false),
                ms: Mutex::new(Vec::new()),
            });
            let submitter = thread::current();
            let ms: Vec<_> = (0..NP)
                .map(|pid| {
                    let m = m.clone();
                    let submitter = submitter.clone();
                    thread::spawn(move || {
                        let mut spinning = false;
                        // `Worker::adopt_spinning_token`.
                        let adopt = |spinning: &mut bool| {
                            if m.set.take_token(pid) {
                                if *spinning {
                                    m.set.stop_spin();
                                } else {
                                    *spinning = true;
                                }
                            }
                        };
                        loop {
                            if m.shutdown.load(SeqCst) {
                                return (spinning, m.set.is_idle(pid));
                            }
                            if m.take() {
                                // `Worker::picked`: the last spinner to find work wakes another.
                                if spinning {
                                    spinning = false;
                                    if m.set.stop_spin() {
                                        m.wakep();
                                    }
                                }
                                if m.taken.fetch_add(1, SeqCst) + 1 == ITEMS {
                                    submitter.unpark();
                                }
                                continue;
                            }
                            // `Worker::steal`: spin (look once more) if few Ms spin.
                            if !spinning && m.set.try_spin(NP) {
                                spinning = true;
                                continue;
                            }
                            // `Worker::idle`.
                            m.set.publish_idle(pid);
                            if spinning {
                                spinning = false;
                                m.set.stop_spin();
                            }
                            if m.work.load(SeqCst) > 0 || m.shutdown.load(SeqCst) {
                                m.set.leave_idle(pid);
                                adopt(&mut spinning);
                                continue;
                            }
                            // Asleep until taken off the idle list (or shutdown); published
                            // work alone does not wake it, as in `Worker::idle`.
                            while m.set.is_idle(pid) && !m.shutdown.load(SeqCst) {
                                thread::park();
                            }
                            m.set.leave_idle(pid);
                            adopt(&mut spinning);
                        }
                    })
                })
                .collect();
            *m.ms.lock().unwrap() = ms.iter().map(|h| h.thread().clone()).collect();
            for _ in 0..ITEMS {
                m.work.fetch_add(1, SeqCst);
                m.wakep();
            }
            while m.taken.load(SeqCst) < ITEMS {
                thread::park();
            }
            m.shutdown.store(true, SeqCst);
            for t in m.ms.lock().unwrap().iter() {
                t.unpark();
            }
            let ends: Vec<(bool, bool)> = ms.into_iter().map(|h| h.join().unwrap()).collect();
            let spinners = ends.iter().filter(|e| e.0).count();
            assert_eq!(
                m.set.nmspinning.load(SeqCst),
                spinners,
                "a spinning token leaked"
            );
            let listed = ends.iter().filter(|e| e.1).count();
            assert_eq!(m.set.npidle.load(SeqCst), listed);
        },
        ITERATIONS,
        3,
    );
}

/// `npidle` counts the idle list and never wraps: two Ms go idle and leave again while a
/// submitter's `wake_one` takes one of them off the list. With the increment outside the
/// list lock, `wake_one` could check `npidle` (P1 idle), P1 leave (0), P0 push itself, and
/// `wake_one` pop P0 and decrement 0: `npidle` wrapped (a debug build's overflow check fired
/// in `publish_idle`; CI saw the scheduler abort). Random schedules: PCT's few preemption
/// points rarely line up the three steps.
#[test]
fn npidle_never_wraps() {
    use super::idle::IdleSet;
    use std::sync::atomic::Ordering::SeqCst;
    shuttle::check_random(
        || {
            let set = Arc::new(IdleSet::new(2));
            let ms: Vec<_> = (0..2)
                .map(|pid| {
                    let set = set.clone();
                    thread::spawn(move || {
                        let n = set.publish_idle(pid);
                        assert!((1..=2).contains(&n), "npidle {n} after publishing P{pid}");
                        if !set.leave_idle(pid) {
                            assert!(set.take_token(pid), "taken off the list without a token");
                            set.stop_spin();
                        }
                    })
                })
                .collect();
            if let Some(pid) = set.wake_one() {
                assert!(pid < 2);
            }
            for h in ms {
                h.join().unwrap();
            }
            assert_eq!(set.npidle.load(SeqCst), 0);
            assert_eq!(set.nmspinning.load(SeqCst), 0);
        },
        20 * ITERATIONS,
    );
}

/// The inbox hand-off (`P::push_inbox`/`P::take_inbox`, a Treiber stack taken whole): two
/// wakers on other threads push goroutines (started wake-ups and unstarted hand-overs) while
/// the owner takes; every goroutine comes out exactly once, in the right list.
#[test]
fn inbox_handoff_loses_nothing() {
    use super::p::P;
    use crate::rt::stack::StackPool;
    use std::collections::VecDeque;
    shuttle::check_pct(
        || {
            let p = Arc::new(P::new(0, StackPool::new()));
            let pushers: Vec<_> = (0..2u64)
                .map(|t| {
                    let p = p.clone();
                    thread::spawn(move || {
                        for i in 0..2 {
                            let g = dummy_g(t * 10 + i);
                            if i == 0 {
                                g.home.store(1, SeqCst); // a started goroutine's wake-up
                            }
                            p.push_inbox(g);
                        }
                    })
                })
                .collect();
            let (mut started, mut fresh) = (VecDeque::new(), Vec::new());
            while started.len() + fresh.len() < 4 {
                p.take_inbox(&mut started, |g| fresh.push(g));
                thread::yield_now();
            }
            for h in pushers {
                h.join().unwrap();
            }
            p.take_inbox(&mut started, |g| fresh.push(g));
            let mut s: Vec<u64> = started.iter().map(|g| g.id()).collect();
            let mut f: Vec<u64> = fresh.iter().map(|g| g.id()).collect();
            s.sort_unstable();
            f.sort_unstable();
            assert_eq!(s, vec![0, 10]);
            assert_eq!(f, vec![1, 11]);
        },
        ITERATIONS,
        3,
    );
}

/// The netpoll sleep (`idle::gated_sleep`, `netpoll::block`) against a waker on another
/// thread (`idle::interrupt_gated`, `P::unpark_m`): either the sleeper's re-check sees the
/// work or the waker sees the gate and interrupts; the sleeper never sleeps through it (a
/// lost interrupt is a shuttle deadlock). The interrupt is sticky, as the eventfd is.
#[test]
fn netpoll_sleep_is_always_interrupted() {
    use super::idle::{gated_sleep, interrupt_gated};
    use crate::rt::loom::AtomicBool;
    use std::sync::atomic::Ordering::SeqCst;
    shuttle::check_pct(
        || {
            let gate = Arc::new(AtomicBool::new(false));
            let work = Arc::new(AtomicBool::new(false));
            let interrupted = Arc::new(AtomicBool::new(false));
            let (g2, w2, i2) = (gate.clone(), work.clone(), interrupted.clone());
            let sleeper = thread::spawn(move || {
                while !w2.load(SeqCst) {
                    gated_sleep(
                        &g2,
                        || w2.load(SeqCst),
                        || {
                            // epoll_wait: returns once the eventfd was written.
                            while !i2.swap(false, SeqCst) {
                                thread::park();
                            }
                        },
                    );
                }
            });
            let sleeper_thread = sleeper.thread().clone();
            work.store(true, SeqCst);
            interrupt_gated(&gate, || {
                interrupted.store(true, SeqCst);
                sleeper_thread.unpark();
            });
            sleeper.join().unwrap();
        },
        ITERATIONS,
        3,
    );
}

/// The leak detector's pin (`leak.rs`, `gstate::pin_parked`): the detector never runs a
/// probe's check after its goroutine left the waiting frame, however the park, the unpark,
/// the goroutine's return to running and the check interleave; a check either runs on a live
/// probe of a parked goroutine or is skipped.
#[test]
fn probe_is_never_read_after_its_frame_is_gone() {
    use super::leak::{check_parked, Probe, ProbeWord};
    use crate::rt::loom::AtomicBool;

    struct Frame {
        alive: AtomicBool,
    }
    /// # Safety
    /// `d` points at a `Frame` (kept allocated by the test, so a broken protocol shows up as
    /// an assertion, not as undefined behaviour in the test itself).
    unsafe fn check(d: *const ()) -> bool {
        // SAFETY: see above.
        let f = unsafe { &*(d as *const Frame) };
        assert!(
            f.alive.load(SeqCst),
            "a probe was checked after its frame was left"
        );
        true
    }
    shuttle::check_pct(
        || {
            let state = Arc::new(AtomicU32::new(RUNNING));
            let word = Arc::new(ProbeWord::new());
            let frame = Arc::new(Frame {
                alive: AtomicBool::new(true),
            });
            let (st, w2, f2) = (state.clone(), word.clone(), frame.clone());
            // The goroutine: publish, park, run again once woken, withdraw, leave the frame.
            let owner = thread::spawn(move || {
                // SAFETY: `check` reads only the frame, which outlives the wait.
                let probe = unsafe { Probe::new(check, &*f2 as *const Frame as *const ()) };
                // SAFETY: `probe` lives until after `clear`.
                unsafe { w2.set(&probe) };
                if gstate::commit_park(&st) {
                    while st.load(SeqCst) != RUNNABLE {
                        thread::yield_now();
                    }
                    gstate::start_running(&st);
                }
                w2.clear();
                f2.alive.store(false, SeqCst); // the frame is left
            });
            let s3 = state.clone();
            let waker = thread::spawn(move || {
                gstate::notify(&s3);
            });
            for _ in 0..3 {
                let _ = check_parked(&state, &word);
            }
            owner.join().unwrap();
            waker.join().unwrap();
            assert_eq!(check_parked(&state, &word), None);
            assert_eq!(state.load(SeqCst) & !NOTIFIED, RUNNING);
        },
        ITERATIONS,
        3,
    );
}
