//! Mark assists (Go's gcAssistAlloc): a goroutine that allocates while marking runs owes scan
//! work in proportion to what it allocates (`work::ASSIST_RATIO`), so the mark keeps ahead of
//! allocation even while the background worker is held to its CPU share.
//!
//! Debt is kept per thread and paid in chunks of at least [`ASSIST_MIN`] scan bytes: first from
//! the background markers' credit (`work::BG_CREDIT`), then by marking grey objects taken from
//! the pool or root-scan jobs, inside a guard (so the collector's pauses exclude an assist
//! holding grey objects: whatever it did not trace goes back to the pool before the guard
//! ends). When there is no work to take, the goroutine waits (spins briefly, then sleeps 50 us
//! at a time, outside the guard) until the background workers' credit pays the rest or the mark
//! ends, as Go parks assists that cannot find work or credit. An allocating goroutine thus
//! never runs further ahead of the mark than the assist ratio allows, which is what keeps the
//! heap at its goal (and under GOMEMLIMIT).

use std::cell::Cell;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use super::alloc::{GOAL, HEAP_LIVE};
use super::barrier::MARKING;
use super::mark::Marker;
use super::mutator::with_guard;
use super::{stats, work};

/// Scan work (bytes) an assist does at least once it starts: keeps the pool lock and the
/// guard off the allocation path most of the time.
pub(crate) const ASSIST_MIN: i64 = 64 << 10;
/// Scan work per guard (about 10 us): mark termination waits at most that for an assist.
const ASSIST_SLICE: u64 = 16 << 10;

thread_local! {
    /// This thread's assist grey stack, kept between slices (empty between them).
    static STACK: Cell<Vec<usize>> = const { Cell::new(Vec::new()) };
    /// (cycle number the debt belongs to, scan bytes owed).
    static DEBT: Cell<(u64, i64)> = const { Cell::new((0, 0)) };
}

/// Charges an allocation of `bytes` made while marking runs and assists if the debt is due.
/// Outside any guard and drop phase (the caller checks). `torture` (GODEBUG gctorture): assist
/// at every allocation, so assists race with everything else as often as possible.
pub(crate) fn charge(bytes: u64, torture: bool) {
    let cycle = stats::NUM_GC.load(Relaxed);
    let (c, d) = DEBT.with(|x| x.get());
    let mut debt = if c == cycle { d } else { 0 } + work::debt_for(bytes);
    if torture {
        // One small slice of marking at every allocation: assists interleave with the
        // collector and the mutators as often as possible, at a bounded cost.
        mark(4096);
        return;
    }
    if debt < ASSIST_MIN {
        DEBT.with(|x| x.set((cycle, debt)));
        return;
    }
    work::update_ratio(HEAP_LIVE.load(Relaxed), GOAL.load(Relaxed));
    debt -= work::steal_credit(debt);
    if debt > 0 {
        let t = Instant::now();
        let mut waits = 0u32;
        loop {
            debt -= mark(debt.max(ASSIST_MIN) as u64) as i64;
            if debt <= 0 || !MARKING.load(Relaxed) {
                break;
            }
            // No grey object to take: wait for the background workers' credit (Go parks the
            // assist until gcFlushBgCredit pays it), outside the guard so that the collector
            // can stop the world.
            debt -= work::steal_credit(debt);
            if debt <= 0 {
                break;
            }
            waits += 1;
            pause(waits);
        }
        let ns = t.elapsed().as_nanos() as u64;
        work::ASSIST_NS.fetch_add(ns, Relaxed);
        work::ASSIST_TOTAL_NS.fetch_add(ns, Relaxed);
    }
    // Over-assisting (a slice is at least ASSIST_SLICE) leaves credit for the next allocations.
    DEBT.with(|x| x.set((cycle, debt)));
}

/// Waits a little for mark work or credit to appear: spins 5 us at a time at first (credit
/// usually arrives within microseconds; yielding the goroutine instead would look like fresh
/// scheduling to sysmon, whose preemption check then fires every 10 ms and keeps it awake),
/// then sleeps 50 us at a time.
fn pause(waits: u32) {
    if waits < 8 {
        let t = Instant::now();
        while t.elapsed() < Duration::from_micros(5) {
            std::hint::spin_loop();
        }
    } else if crate::rt::sched::park::in_goroutine() {
        crate::rt::timer::sleep(Duration::from_micros(50));
    } else {
        std::thread::sleep(Duration::from_micros(50));
    }
}

/// Marks about `budget` bytes of grey objects from the pool; returns the bytes traced. Each
/// guard covers at most [`ASSIST_SLICE`] bytes of work, so mark termination never waits long
/// for an assist.
fn mark(budget: u64) -> u64 {
    let mut done = 0;
    while done < budget {
        let slice = mark_slice((budget - done).min(ASSIST_SLICE));
        if slice == 0 {
            break;
        }
        done += slice;
    }
    done
}

fn mark_slice(budget: u64) -> u64 {
    with_guard(|_| {
        // Inside the guard the mark phase cannot end (mark termination stops the world).
        if !MARKING.load(Relaxed) {
            return 0;
        }
        let mut m = Marker::assist(STACK.try_with(|c| c.take()).unwrap_or_default());
        let mut done = 0;
        while done < budget {
            if !m.take_work() {
                break;
            }
            done += m.drain_budget(budget - done);
            m.give_all();
            work::idle();
        }
        m.flush_scan();
        work::MARKED.fetch_add(m.marked_bytes, Relaxed);
        let stack = m.into_stack();
        let _ = STACK.try_with(|c| c.set(stack));
        done
    })
}
