//! The pacer: when to collect next (Go's gcControllerState) and the GOGC / GOMEMLIMIT knobs.
//! The assist ratio, the other half of Go's controller, is in `work.rs`.
//!
//! * GOGC goal (Go 1.18+): `live + (live + roots) * GOGC / 100`, at least 4 MiB * GOGC/100;
//!   GOGC < 0 (`off`) means no GOGC goal.
//! * Memory-limit goal (Go 1.19+): the limit minus the memory the heap holds beyond its live
//!   objects (span metadata and the free slots of partly used spans, measured after the last
//!   sweep: Go's "non-heap memory"), less a 5% headroom for span granularity. Free spans are
//!   returned to the OS down to the limit (`HeapInner::scavenge_take`). Goroutine stacks and
//!   the malloc heap are not counted (gort cannot yet tell their resident size cheaply).
//! * The CPU limiter (Go's ~50% cap): if the last cycle's pause took at least as long as the
//!   mutator ran since the cycle before, the limit goal is relaxed to twice the live heap, so a
//!   limit below the live heap slows the program about 2x instead of collecting forever.
//! * The trigger (`trigger_for`) starts the concurrent mark early enough for the allocation
//!   expected during it, between 70% and 95% of the way to the goal (Go's bounds); assists
//!   (`assist.rs`) keep the heap under the hard goal (10% over) when the mark runs late.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

/// GOGC (negative: off).
pub(crate) static GOGC: AtomicI64 = AtomicI64::new(100);
/// GOMEMLIMIT in bytes (i64::MAX: none, as Go).
pub(crate) static MEMLIMIT: AtomicU64 = AtomicU64::new(i64::MAX as u64);

/// Go's heap minimum at GOGC=100.
pub(crate) const HEAP_MIN: u64 = 4 << 20;

/// What the goal is computed from.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Inputs {
    /// Marked bytes.
    pub live: u64,
    /// Root bytes scanned (Go: stacks + globals). gort's roots are objects, already in `live`.
    pub roots: u64,
    pub gogc: i64,
    pub limit: u64,
    /// Memory gort holds beyond the GC heap's in-use spans.
    pub overhead: u64,
    /// The CPU limiter is engaged.
    pub limited: bool,
}

/// The heap goal in bytes (`u64::MAX`: never collect).
pub(crate) fn heap_goal(i: Inputs) -> u64 {
    let gogc_goal = if i.gogc < 0 {
        u64::MAX
    } else {
        let g = i.gogc as u64;
        let goal = i.live + (i.live + i.roots).saturating_mul(g) / 100;
        goal.max(HEAP_MIN * g / 100)
    };
    let limit_goal = if i.limit >= i64::MAX as u64 {
        u64::MAX
    } else {
        let room = i.limit.saturating_sub(i.overhead);
        let mut g = room - room / 20;
        if i.limited {
            g = g.max(i.live.saturating_mul(2));
        }
        // Always leave room for at least a span of allocation.
        g.max(i.live + (64 << 10))
    };
    gogc_goal.min(limit_goal)
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
pub(crate) fn note_goal(i: Inputs, goal: u64) {
    let gogc_only = heap_goal(Inputs {
        limit: i64::MAX as u64,
        ..i
    });
    LIMIT_BOUND.store(goal < gogc_only, Relaxed);
}

/// When to start the next cycle: early enough that the allocation expected during the mark
/// (what was allocated during the last one, plus 25%) fits before the goal, and between 70%
/// and 95% of the way from the live heap to the goal (Go's bounds).
pub(crate) fn trigger_for(
    live: u64,
    goal: u64,
    alloc_during_mark: u64,
    _mark_ns: u64,
    _since_last: u64,
) -> u64 {
    if goal == u64::MAX {
        return u64::MAX;
    }
    let runway = goal.saturating_sub(live);
    let lo = live + runway * 7 / 10;
    let hi = live + runway * 95 / 100;
    goal.saturating_sub(alloc_during_mark + alloc_during_mark / 4)
        .clamp(lo, hi)
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
            roots: 0,
            gogc,
            limit,
            overhead: 0,
            limited: false,
        }
    }

    #[test]
    fn gogc_goal_doubles_live_with_minimum() {
        assert_eq!(heap_goal(inp(10 << 20, 100, i64::MAX as u64)), 20 << 20);
        assert_eq!(heap_goal(inp(10 << 20, 50, i64::MAX as u64)), 15 << 20);
        assert_eq!(heap_goal(inp(1 << 20, 100, i64::MAX as u64)), 4 << 20);
        assert_eq!(heap_goal(inp(0, 200, i64::MAX as u64)), 8 << 20);
        assert_eq!(heap_goal(inp(1 << 30, -1, i64::MAX as u64)), u64::MAX);
        let with_roots = Inputs {
            roots: 2 << 20,
            ..inp(10 << 20, 100, i64::MAX as u64)
        };
        assert_eq!(heap_goal(with_roots), 22 << 20);
    }

    #[test]
    fn trigger_leaves_room_for_the_mark() {
        let (live, goal) = (10u64 << 20, 20u64 << 20);
        // Little allocation during marking: trigger late (95%).
        assert_eq!(
            trigger_for(live, goal, 0, 0, 0),
            live + (10 << 20) * 95 / 100
        );
        // A lot: trigger early, but not before 70%.
        assert_eq!(
            trigger_for(live, goal, 8 << 20, 0, 0),
            live + (10 << 20) * 7 / 10
        );
        // In between: the goal minus 1.25x the last mark's allocation.
        assert_eq!(trigger_for(live, goal, 2 << 20, 0, 0), goal - (5 << 19));
        assert_eq!(trigger_for(live, u64::MAX, 0, 0, 0), u64::MAX);
    }

    #[test]
    fn memory_limit_caps_goal_even_with_gogc_off() {
        let g = heap_goal(inp(10 << 20, -1, 16 << 20));
        assert!(g < 16 << 20 && g > 14 << 20, "{g}");
        let g = heap_goal(inp(10 << 20, 100, 16 << 20));
        assert!(g < 16 << 20);
        // Limit below live: collect often, but leave a span of room...
        assert_eq!(
            heap_goal(inp(20 << 20, 100, 16 << 20)),
            (20 << 20) + (64 << 10)
        );
        // ...unless the CPU limiter is engaged.
        let lim = Inputs {
            limited: true,
            ..inp(20 << 20, 100, 16 << 20)
        };
        assert_eq!(heap_goal(lim), 40 << 20);
    }
}
