//! The pacer: when to collect next (Go's gcControllerState) and the GOGC / GOMEMLIMIT knobs.
//! The assist ratio, the other half of Go's controller, is in `work.rs`.
//!
//! Go's `mgcpacer.go` (`commit`, `heapGoalInternal`, `trigger`), step by step:
//!
//! * GOGC goal (Go 1.18+): `live + (live + roots) * GOGC / 100`, at least the heap minimum
//!   `4 MiB * GOGC / 100` (so 0 at GOGC=0); GOGC < 0 (`off`) means no GOGC goal.
//! * Memory-limit goal (Go 1.19+): the limit minus the memory the heap holds beyond its live
//!   objects (span metadata and the free slots of partly used spans, measured after the last
//!   sweep: Go's "non-heap memory") and the memory the runtime holds outside the GC heap
//!   ([`outside_heap`]: goroutine stacks and, with `CountingAlloc` installed, the malloc
//!   heap), less a 5% headroom for span granularity. Free spans are returned to the OS down to
//!   what the limit leaves the heap ([`heap_limit`], `HeapInner::scavenge_take`). When it is
//!   the lower of the two, it is the goal, and nothing below moves it up. So the goal shrinks
//!   as goroutines (their stacks) or malloc'd data grow: the collector works harder to keep
//!   the total under the limit, as Go's does (Go's limit covers every byte the runtime maps,
//!   stacks included).
//! * Otherwise the sweep distance (Go's `sweepDistMinTrigger`): pacing at the end of a cycle,
//!   while its sweep is still to run, gives the sweeper at least 1 MiB of allocation
//!   (`SWEEP_MIN_HEAP_DISTANCE`) above the heap at that moment: goal and trigger are at least
//!   there. This, not the GOGC goal, is what bounds the cycle rate at small GOGC: at GOGC=0
//!   Go collects about once per MiB allocated, not at every allocation. Re-pacing when a knob
//!   changes (`set_gc_percent`, `set_memory_limit`) finds the sweep done and has no such floor,
//!   as Go's `commit(isSweepDone())`.
//! * While a cycle runs, the goal is at least 64 KiB (`MIN_RUNWAY`) above the heap at which the
//!   cycle started (Go's `triggered + minRunway`), so that a late start still leaves assists a
//!   distance to pace over.
//! * The CPU limiter (Go's ~50% cap): if the last cycle's pause took at least as long as the
//!   mutator ran since the cycle before, the limit goal is relaxed to twice the live heap, so a
//!   limit below the live heap slows the program about 2x instead of collecting forever.
//! * The trigger (`trigger`) starts the concurrent mark early enough for the allocation
//!   expected during it (gort's estimate: 1.25x what the last mark saw allocated, where Go
//!   derives it from its cons/mark ratio), within Go's bounds: at least 45/64 (~70%) of the way
//!   from the live heap to the goal and at least the sweep distance, at most 61/64 (~95%) of
//!   the way, or the goal minus 4 MiB for large heaps; assists (`assist.rs`) keep the heap
//!   under the hard goal (10% over) when the mark runs late.
//!
//! # What the limit counts
//!
//! Go compares the limit with all the memory its runtime has mapped and not released. gort
//! does not map the malloc heap or own the stacks' commit, so it counts what best stands for
//! physical memory and can be read without a system call, once per pacing:
//!
//! | part | counted as | read from |
//! |---|---|---|
//! | GC heap | in-use spans (live objects + `overhead`) and the free spans not released | the pacer's inputs, `HeapInner` |
//! | goroutine stacks | one page per mapped stack (what a parked goroutine keeps resident) | `rt::stack::resident_estimate` |
//! | malloc heap | live requested bytes, when `CountingAlloc` is the global allocator (else 0) | `alloc::read_alloc_counters` |
//!
//! Rejected: the stacks' reservations (`StackStats::bytes_reserved`, 260 KiB a stack: 50,000
//! parked goroutines would "use" 12.7 GiB of a 400 MiB limit and the collector would run
//! flat out with nothing to free); `mincore` or `/proc/self/smaps` for the exact resident
//! size (a system call per stack, or a walk of every mapping, per cycle); the process RSS
//! (`/proc/self/statm`), which counts what the runtime does not control (the binary, other
//! libraries' mappings) and is a system call per pacing. `MemStats::memlimit_total` reports
//! the sum the limit is compared with. The total is read when the collector paces (the end
//! of each cycle, each knob change), so stacks that grow between two cycles are seen at the
//! next one. The GC heap's share can pass what the limit leaves it by some 10% during a cycle
//! (spans in use run ahead of the live bytes the goal is in): with 50,000 parked goroutines
//! under a 400 MiB limit the peak RSS is 405-416 MiB (`tests/gc_memlimit_stacks.rs`).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

/// GOGC (negative: off).
pub(crate) static GOGC: AtomicI64 = AtomicI64::new(100);
/// GOMEMLIMIT in bytes (i64::MAX: none, as Go).
pub(crate) static MEMLIMIT: AtomicU64 = AtomicU64::new(i64::MAX as u64);

/// Go's heap minimum at GOGC=100 (`defaultHeapMinimum`).
pub(crate) const HEAP_MIN: u64 = 4 << 20;
/// Go's `sweepMinHeapDistance`: the allocation a cycle's sweep gets before the next trigger.
pub(crate) const SWEEP_MIN_HEAP_DISTANCE: u64 = 1 << 20;
/// Go's `minRunway`: how far above the heap at its start a cycle's goal is at least.
pub(crate) const MIN_RUNWAY: u64 = 64 << 10;
/// Go's trigger bounds, in 64ths of the way from the live heap to the goal.
const TRIGGER_RATIO_DEN: u64 = 64;
const MIN_TRIGGER_RATIO_NUM: u64 = 45;
const MAX_TRIGGER_RATIO_NUM: u64 = 61;

/// What the goal is computed from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Inputs {
    /// Marked bytes.
    pub live: u64,
    /// Root bytes scanned (Go: stacks + globals). gort's roots are objects, already in `live`.
    pub roots: u64,
    pub gogc: i64,
    pub limit: u64,
    /// Memory the GC heap holds beyond its live objects (span metadata, free slots).
    pub overhead: u64,
    /// Memory the limit counts outside the GC heap ([`outside_heap`]).
    pub outside: u64,
    /// The CPU limiter is engaged.
    pub limited: bool,
    /// The sweep distance (Go's `sweepDistMinTrigger`): the heap when pacing plus
    /// [`SWEEP_MIN_HEAP_DISTANCE`] while a sweep is pending, else 0.
    pub sweep_floor: u64,
    /// The heap at which the running cycle started (Go's `triggered`), `u64::MAX` when none
    /// runs.
    pub triggered: u64,
}

impl Default for Inputs {
    fn default() -> Self {
        Inputs {
            live: 0,
            roots: 0,
            gogc: 100,
            limit: i64::MAX as u64,
            overhead: 0,
            outside: 0,
            limited: false,
            sweep_floor: 0,
            triggered: u64::MAX,
        }
    }
}

/// A pacing decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pace {
    /// The heap goal in bytes (`u64::MAX`: never collect).
    pub goal: u64,
    /// The lowest trigger the goal allows (Go's `minTrigger` from `heapGoalInternal`).
    pub min_trigger: u64,
    /// The memory limit set the goal (it is below the GOGC goal).
    pub limit_bound: bool,
}

/// Go's `heapMinimum`: 4 MiB scaled by GOGC/100 (0 at GOGC=0; unused when GOGC is off).
pub(crate) fn heap_minimum(gogc: i64) -> u64 {
    HEAP_MIN.saturating_mul(gogc.max(0) as u64) / 100
}

/// The GOGC goal alone (Go's `gcPercentHeapGoal`), `u64::MAX` when GOGC is off.
pub(crate) fn gogc_goal(live: u64, roots: u64, gogc: i64) -> u64 {
    if gogc < 0 {
        return u64::MAX;
    }
    let g = gogc as u64;
    let goal = live.saturating_add(live.saturating_add(roots).saturating_mul(g) / 100);
    goal.max(heap_minimum(gogc))
}

/// The memory-limit goal alone, `u64::MAX` without a limit.
fn limit_goal(i: &Inputs) -> u64 {
    if i.limit >= i64::MAX as u64 {
        return u64::MAX;
    }
    let room = i.limit.saturating_sub(i.overhead).saturating_sub(i.outside);
    let mut g = room - room / 20;
    if i.limited {
        g = g.max(i.live.saturating_mul(2));
    }
    // Always leave room for at least a span of allocation.
    g.max(i.live + (64 << 10))
}

/// The memory the limit counts outside the GC heap, in bytes (module docs): the stacks'
/// resident estimate plus the malloc heap's live bytes (0 without `CountingAlloc`).
/// Each reading is kept for [`heap_limit`].
pub(crate) fn outside_heap() -> u64 {
    let stacks = crate::rt::stack::resident_estimate() as u64;
    let c = crate::alloc::read_alloc_counters();
    let outside = stacks + c.alloc_bytes.saturating_sub(c.free_bytes);
    LAST_OUTSIDE.store(outside, Relaxed);
    outside
}

/// The last [`outside_heap`] reading.
static LAST_OUTSIDE: AtomicU64 = AtomicU64::new(0);

/// What the memory limit leaves the GC heap (spans in use and free spans kept), as of the last
/// pacing: the scavenger releases free spans down to it (`sweep.rs`). Without a limit, about
/// `i64::MAX`: no bound.
pub(crate) fn heap_limit() -> u64 {
    MEMLIMIT
        .load(Relaxed)
        .saturating_sub(LAST_OUTSIDE.load(Relaxed))
}

/// The heap goal and the trigger floor (Go's `heapGoalInternal`).
pub(crate) fn heap_goal(i: Inputs) -> Pace {
    let gogc = gogc_goal(i.live, i.roots, i.gogc);
    let limit = limit_goal(&i);
    if limit < gogc {
        return Pace {
            goal: limit,
            min_trigger: 0,
            limit_bound: true,
        };
    }
    let mut goal = gogc.max(i.sweep_floor);
    if i.triggered != u64::MAX && goal < i.triggered.saturating_add(MIN_RUNWAY) {
        goal = i.triggered + MIN_RUNWAY;
    }
    Pace {
        goal,
        min_trigger: i.sweep_floor,
        limit_bound: false,
    }
}

/// When to start the next cycle (Go's `trigger`): `runway` bytes of allocation before the goal
/// (the allocation expected during the mark), within Go's bounds (module docs). Always at most
/// the goal; above the live heap unless the goal is not.
pub(crate) fn trigger(live: u64, p: Pace, runway: u64) -> u64 {
    let goal = p.goal;
    if goal == u64::MAX {
        return u64::MAX;
    }
    if live >= goal {
        return goal;
    }
    let mut min_trigger = p.min_trigger.max(live);
    let lower = (goal - live) / TRIGGER_RATIO_DEN * MIN_TRIGGER_RATIO_NUM + live;
    min_trigger = min_trigger.max(lower);
    let mut max_trigger = (goal - live) / TRIGGER_RATIO_DEN * MAX_TRIGGER_RATIO_NUM + live;
    if goal > HEAP_MIN && goal - HEAP_MIN > max_trigger {
        max_trigger = goal - HEAP_MIN;
    }
    max_trigger = max_trigger.max(min_trigger);
    let t = if runway > goal {
        min_trigger
    } else {
        goal - runway
    };
    t.clamp(min_trigger, max_trigger).min(goal)
}

/// gort's runway estimate: the allocation the last mark saw, plus 25%.
pub(crate) fn runway_for(alloc_during_mark: u64) -> u64 {
    alloc_during_mark.saturating_add(alloc_during_mark / 4)
}

/// The most the heap may reach while a mark runs late (Go's hard goal): 10% over the goal,
/// but never over a goal the memory limit set (the limit is what the user asked to hold).
pub(crate) fn hard_goal(goal: u64) -> u64 {
    if LIMIT_BOUND.load(Relaxed) {
        goal
    } else {
        goal.saturating_add(goal / 10)
    }
}

/// The current goal comes from the memory limit (it is below the GOGC goal).
pub(crate) static LIMIT_BOUND: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Records which knob set the goal.
pub(crate) fn note_goal(p: Pace) {
    LIMIT_BOUND.store(p.limit_bound, Relaxed);
}

/// Go's `debug.SetGCPercent`: sets GOGC (negative: off) and returns the previous value.
pub fn set_gc_percent(percent: i64) -> i64 {
    let old = GOGC.swap(percent.max(-1), Relaxed);
    super::collect::repace();
    old
}

/// Go's `debug.SetMemoryLimit`: sets the soft limit in bytes and returns the previous one; a
/// negative `limit` only reads it. `i64::MAX` means no limit.
pub fn set_memory_limit(limit: i64) -> i64 {
    if limit < 0 {
        return MEMLIMIT.load(Relaxed) as i64;
    }
    let old = MEMLIMIT.swap(limit as u64, Relaxed);
    super::collect::repace();
    old as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inp(live: u64, gogc: i64, limit: u64) -> Inputs {
        Inputs {
            live,
            gogc,
            limit,
            ..Inputs::default()
        }
    }

    #[test]
    fn gogc_goal_doubles_live_with_minimum() {
        let g = |i| heap_goal(i).goal;
        assert_eq!(g(inp(10 << 20, 100, i64::MAX as u64)), 20 << 20);
        assert_eq!(g(inp(10 << 20, 50, i64::MAX as u64)), 15 << 20);
        assert_eq!(g(inp(1 << 20, 100, i64::MAX as u64)), 4 << 20);
        assert_eq!(g(inp(0, 200, i64::MAX as u64)), 8 << 20);
        assert_eq!(g(inp(1 << 30, -1, i64::MAX as u64)), u64::MAX);
        let with_roots = Inputs {
            roots: 2 << 20,
            ..inp(10 << 20, 100, i64::MAX as u64)
        };
        assert_eq!(g(with_roots), 22 << 20);
        // Huge GOGC saturates instead of wrapping.
        assert!(g(inp(1 << 40, i64::MAX, i64::MAX as u64)) >= u64::MAX / 100);
        assert_eq!(heap_minimum(i64::MAX), u64::MAX / 100);
    }

    /// Go 1.19-1.26's pacer, transliterated from mgcpacer.go (`setGCPercent`, `commit`,
    /// `heapGoalInternal` without a memory limit, `trigger`), with Go's uint64 arithmetic.
    /// Returns (goal, trigger).
    fn go_pacer(
        heap_marked: u64,
        gc_percent: i64,
        sweep_done: bool,
        heap_live: u64,
        runway: u64,
    ) -> (u64, u64) {
        const DEFAULT_HEAP_MINIMUM: u64 = 4 << 20;
        const SWEEP_MIN_HEAP_DISTANCE: u64 = 1024 * 1024;
        // setGCPercent
        let heap_minimum = DEFAULT_HEAP_MINIMUM * gc_percent as u64 / 100;
        // commit
        let sweep_dist_min_trigger = if sweep_done {
            0
        } else {
            heap_live + SWEEP_MIN_HEAP_DISTANCE
        };
        let mut gc_percent_heap_goal = heap_marked + heap_marked * gc_percent as u64 / 100;
        if gc_percent_heap_goal < heap_minimum {
            gc_percent_heap_goal = heap_minimum;
        }
        // heapGoalInternal (no memory limit, not triggered)
        let mut goal = gc_percent_heap_goal;
        if sweep_dist_min_trigger > goal {
            goal = sweep_dist_min_trigger;
        }
        let mut min_trigger = sweep_dist_min_trigger;
        // trigger
        if heap_marked >= goal {
            return (goal, goal);
        }
        if min_trigger < heap_marked {
            min_trigger = heap_marked;
        }
        let trigger_lower_bound = ((goal - heap_marked) / 64) * 45 + heap_marked;
        if min_trigger < trigger_lower_bound {
            min_trigger = trigger_lower_bound;
        }
        let mut max_trigger = ((goal - heap_marked) / 64) * 61 + heap_marked;
        if goal > DEFAULT_HEAP_MINIMUM && goal - DEFAULT_HEAP_MINIMUM > max_trigger {
            max_trigger = goal - DEFAULT_HEAP_MINIMUM;
        }
        max_trigger = max_trigger.max(min_trigger);
        let mut trigger = if runway > goal {
            min_trigger
        } else {
            goal - runway
        };
        trigger = trigger.max(min_trigger);
        trigger = trigger.min(max_trigger);
        assert!(trigger <= goal);
        (goal, trigger)
    }

    #[test]
    fn goal_and_trigger_match_go_for_every_gogc_0_to_1000() {
        let lives = [
            0u64,
            1,
            4095,
            40 << 10,
            512 << 10,
            1 << 20,
            3 << 20,
            100 << 20,
            1 << 33,
        ];
        let runways = [0u64, 8 << 10, 1 << 20, 64 << 20, u64::MAX / 4];
        for gogc in 0..=1000i64 {
            for &live in &lives {
                for sweep_done in [false, true] {
                    for &runway in &runways {
                        let i = Inputs {
                            live,
                            gogc,
                            sweep_floor: if sweep_done {
                                0
                            } else {
                                live + SWEEP_MIN_HEAP_DISTANCE
                            },
                            ..Inputs::default()
                        };
                        let p = heap_goal(i);
                        let t = trigger(live, p, runway);
                        let want = go_pacer(live, gogc, sweep_done, live, runway);
                        assert_eq!(
                            (p.goal, t),
                            want,
                            "GOGC={gogc} live={live} sweep_done={sweep_done} runway={runway}"
                        );
                        assert!(!p.limit_bound);
                        if !sweep_done {
                            // After a cycle: at least a MiB of allocation before the next one,
                            // however small GOGC is (issue 20: GOGC=0 collected at every
                            // allocation).
                            assert!(
                                t >= live + SWEEP_MIN_HEAP_DISTANCE,
                                "GOGC={gogc} live={live}"
                            );
                        }
                        assert_eq!(heap_minimum(gogc), (4 << 20) * gogc as u64 / 100);
                    }
                }
            }
        }
    }

    #[test]
    fn a_started_cycle_keeps_min_runway() {
        // Triggered at (or past) the goal: the goal moves 64 KiB past the start.
        let i = Inputs {
            live: 1 << 20,
            gogc: 100,
            triggered: 5 << 20,
            ..Inputs::default()
        };
        assert_eq!(heap_goal(i).goal, (5 << 20) + MIN_RUNWAY);
        // Not when the memory limit sets the goal.
        let i = Inputs {
            limit: 3 << 20,
            ..i
        };
        let p = heap_goal(i);
        assert!(p.limit_bound && p.goal < 3 << 20, "{p:?}");
    }

    #[test]
    fn trigger_leaves_room_for_the_mark() {
        let (live, goal) = (10u64 << 20, 20u64 << 20);
        let p = Pace {
            goal,
            min_trigger: 0,
            limit_bound: false,
        };
        // Little allocation during marking: trigger late (61/64)...
        assert_eq!(trigger(live, p, 0), live + (10 << 20) / 64 * 61);
        // ...or, for a large heap, at the goal minus 4 MiB if that is later.
        let big = Pace {
            goal: 200 << 20,
            ..p
        };
        assert_eq!(trigger(100 << 20, big, 0), (200 << 20) - HEAP_MIN);
        let small = Pace { goal: 6 << 20, ..p };
        assert_eq!(trigger(4 << 20, small, 0), (4 << 20) + (2 << 20) / 64 * 61);
        // A lot: trigger early, but not before 45/64.
        assert_eq!(trigger(live, p, 8 << 20), live + (10 << 20) / 64 * 45);
        // In between: the goal minus the runway.
        assert_eq!(trigger(live, p, runway_for(2 << 20)), goal - (5 << 19));
        let never = Pace {
            goal: u64::MAX,
            ..p
        };
        assert_eq!(trigger(live, never, 0), u64::MAX);
        // A goal at or below the live heap: collect at the goal.
        assert_eq!(trigger(live, Pace { goal: live, ..p }, 0), live);
    }

    #[test]
    fn memory_limit_caps_goal_even_with_gogc_off() {
        let g = |i| heap_goal(i).goal;
        let x = g(inp(10 << 20, -1, 16 << 20));
        assert!(x < 16 << 20 && x > 14 << 20, "{x}");
        let x = g(inp(10 << 20, 100, 16 << 20));
        assert!(x < 16 << 20);
        // The sweep distance does not push a limit goal up.
        let i = Inputs {
            sweep_floor: (10 << 20) + SWEEP_MIN_HEAP_DISTANCE,
            ..inp(10 << 20, 100, 10 << 20)
        };
        assert_eq!(heap_goal(i).goal, (10 << 20) + (64 << 10));
        // Limit below live: collect often, but leave a span of room...
        assert_eq!(g(inp(20 << 20, 100, 16 << 20)), (20 << 20) + (64 << 10));
        // ...unless the CPU limiter is engaged.
        let lim = Inputs {
            limited: true,
            ..inp(20 << 20, 100, 16 << 20)
        };
        assert_eq!(g(lim), 40 << 20);
    }

    #[test]
    fn memory_outside_the_heap_lowers_the_limit_goal() {
        let base = inp(10 << 20, -1, 100 << 20);
        let alone = heap_goal(base).goal;
        let with = heap_goal(Inputs {
            outside: 40 << 20,
            ..base
        });
        assert!(with.limit_bound);
        assert_eq!(
            alone - with.goal,
            (40 << 20) - (40 << 20) / 20,
            "{alone} {with:?}"
        );
        // More outside than the limit: still a span of room above the live heap.
        let over = heap_goal(Inputs {
            outside: 200 << 20,
            ..base
        });
        assert_eq!(over.goal, (10 << 20) + (64 << 10));
        // No limit: the outside memory changes nothing.
        let free = inp(10 << 20, 100, i64::MAX as u64);
        assert_eq!(
            heap_goal(Inputs {
                outside: 1 << 40,
                ..free
            }),
            heap_goal(free)
        );
    }
}
