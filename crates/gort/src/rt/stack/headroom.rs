//! Headroom under `vm.max_map_count`: stacks are reserved when a goroutine is spawned, so a
//! spawn that `try_go` accepts never fails later for want of a mapping, and a refusal costs a
//! few atomic operations, not a read of `/proc/self/maps`.
//!
//! # How
//!
//! The process's mappings are estimated as a *baseline* (mappings that are not gort stacks:
//! the binary, libraries, thread stacks, the heaps) plus [`mappings_per_stack`] per stack gort
//! has mapped (`mmap.rs`'s counter, exact). The baseline is counted from `/proc/self/maps` on
//! first use and recounted at most once per [`REFRESH_NS`] (a read of 65,000 lines costs about
//! 27 ms of system CPU), only past half of the limit: by sysmon (`refresh_headroom`, the
//! periodic refresh), and by a spawn or an `ENOMEM` that finds the estimate near the limit.
//! The limit is re-read with it. The spawn path compares against one precomputed figure
//! (`FIT_STACKS`).
//!
//! A spawn reserves one stack (`UNSTARTED`, released when the goroutine gets its stack at its
//! first run, or when its record is dropped unstarted). The stacks the process will then hold
//! are the mapped ones plus the reservations that the spawning runtime's cached stacks (its
//! global pool) cannot cover; the spawn is refused when those, with the baseline and the slack,
//! exceed the limit.
//!
//! # Limits of the estimate
//!
//! * The slack (the larger of 64 and 1/16 of the limit, 4,095 mappings at the default) absorbs
//!   what the baseline gains between recounts (GC heap spans, malloc arenas, threads) and the
//!   stacks a P maps in a batch beyond the one it needs (`pool.rs`). A program whose other
//!   mappings grow by more than that between two recounts can still see a goroutine fail to
//!   start (its join returns the error as the panic payload).
//! * Stacks cached in P-local pools are not credited (conservative); with several runtimes,
//!   the spawning runtime's pool is credited against every runtime's reservations.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::Instant;

use super::error::{current_map_count, max_map_count, StackError, MAP_COUNT_SLACK};
use super::mappings_per_stack;
use super::mmap::stack_stats;

/// The least time between two recounts of `/proc/self/maps`.
pub(crate) const REFRESH_NS: u64 = 1_000_000_000;

/// Stacks promised to goroutines spawned and not started yet.
static UNSTARTED: AtomicUsize = AtomicUsize::new(0);
/// Mappings that are not gort stacks, as last counted; `usize::MAX` until counted or where
/// `/proc` cannot be read.
static BASELINE: AtomicUsize = AtomicUsize::new(usize::MAX);
/// `vm.max_map_count` as last read.
static MAX: AtomicUsize = AtomicUsize::new(usize::MAX);
/// When the baseline was last counted (ns since `epoch()`), `u64::MAX`: never.
static COUNTED_AT: AtomicU64 = AtomicU64::new(u64::MAX);
/// Recounts of `/proc/self/maps` so far (tests check that refusals do not recount).
static RECOUNTS: AtomicU64 = AtomicU64::new(0);
/// The most stacks (mapped plus reserved) that fit under the limit with the baseline and slack
/// of the last count: the spawn path's one comparison. `usize::MAX` until counted or where
/// `/proc` cannot be read; 0 before the first count.
static FIT_STACKS: AtomicUsize = AtomicUsize::new(0);

fn epoch() -> Instant {
    static E: OnceLock<Instant> = OnceLock::new();
    *E.get_or_init(Instant::now)
}

fn now_ns() -> u64 {
    epoch().elapsed().as_nanos() as u64
}

/// The slack kept below the limit.
pub(crate) fn slack(max: usize) -> usize {
    MAP_COUNT_SLACK.max(max / 16)
}

/// Counts the baseline and reads the limit if never done, or if `stale_ok` is false and the
/// last count is older than [`REFRESH_NS`] (one thread at a time; the others use the old
/// figures). Returns (baseline, max), `None` where they cannot be read.
fn limits(stale_ok: bool) -> Option<(usize, usize)> {
    let at = COUNTED_AT.load(Relaxed);
    let due = at == u64::MAX || (!stale_ok && now_ns().saturating_sub(at) >= REFRESH_NS);
    if due
        && COUNTED_AT
            .compare_exchange(at, now_ns().clamp(1, u64::MAX - 1), Relaxed, Relaxed)
            .is_ok()
    {
        RECOUNTS.fetch_add(1, Relaxed);
        match (max_map_count(), current_map_count()) {
            (Some(max), Some(now)) => {
                let stacks = stack_stats().stacks_mapped * mappings_per_stack();
                let base = now.saturating_sub(stacks);
                BASELINE.store(base, Relaxed);
                MAX.store(max, Relaxed);
                let room = max.saturating_sub(base + slack(max));
                FIT_STACKS.store(room / mappings_per_stack(), Relaxed);
            }
            _ => {
                BASELINE.store(usize::MAX, Relaxed);
                MAX.store(usize::MAX, Relaxed);
                FIT_STACKS.store(usize::MAX, Relaxed);
            }
        }
    }
    let (base, max) = (BASELINE.load(Relaxed), MAX.load(Relaxed));
    (base != usize::MAX && max != usize::MAX).then_some((base, max))
}

/// The process's mappings now, estimated (baseline plus gort's stacks), and the limit;
/// recounts the baseline if the last count is stale. For classifying an `ENOMEM`.
pub(crate) fn estimated_mappings() -> Option<(usize, usize)> {
    let (base, max) = limits(false)?;
    Some((
        base + stack_stats().stacks_mapped * mappings_per_stack(),
        max,
    ))
}

/// The mappings the process will hold once every goroutine spawned so far has its stack:
/// `base` others, `mapped` stacks, and `unstarted` reservations of which `cached` pooled
/// stacks cover some.
fn projected(base: usize, mapped: usize, unstarted: usize, cached: usize) -> usize {
    base + (mapped + unstarted.saturating_sub(cached)) * mappings_per_stack()
}

/// Whether `need` mappings fit under `max` with the slack to spare.
fn fits(need: usize, max: usize) -> bool {
    need + slack(max) <= max
}

/// Reserves the stack of a goroutine about to be spawned, or refuses it: `Err` when the stacks
/// of every goroutine spawned and not finished, this one included, would bring the process's
/// mappings within the slack of `vm.max_map_count`. `cached`: the count of stacks the spawning
/// runtime's global pool holds (read only near the limit). Release with [`unreserve_stack`] when the goroutine gets its
/// stack (or never will).
#[inline]
pub(crate) fn reserve_stack(size: usize, cached: &AtomicUsize) -> Result<(), StackError> {
    let unstarted = UNSTARTED.fetch_add(1, Relaxed) + 1;
    // The common case, far from the limit: one comparison, not crediting cached stacks.
    if stack_stats().stacks_mapped + unstarted <= FIT_STACKS.load(Relaxed) {
        return Ok(());
    }
    reserve_slow(size, unstarted, cached.load(Relaxed))
}

#[cold]
fn reserve_slow(size: usize, unstarted: usize, cached: usize) -> Result<(), StackError> {
    let Some((base, max)) = limits(true) else {
        return Ok(());
    };
    if fits(
        projected(base, stack_stats().stacks_mapped, unstarted, cached),
        max,
    ) {
        return Ok(());
    }
    // Near the limit: recount what is not ours if the count is stale, then decide.
    let (base, max) = limits(false).unwrap_or((base, max));
    let need = projected(base, stack_stats().stacks_mapped, unstarted, cached);
    if fits(need, max) {
        return Ok(());
    }
    UNSTARTED.fetch_sub(1, Relaxed);
    Err(StackError::map_count_limit(need, max, size))
}

/// The stacks the process will hold once every goroutine spawned so far has its stack, as the
/// spawn path counts them (`cached`: the spawning runtime's pooled stacks): falls as queued
/// goroutines start on pooled stacks and finish.
pub(crate) fn projected_stacks(cached: usize) -> usize {
    stack_stats().stacks_mapped + UNSTARTED.load(Relaxed).saturating_sub(cached)
}

/// Sysmon's periodic recount: refreshes the baseline (at most once per [`REFRESH_NS`]) once the
/// stacks mapped and reserved pass half of what fits, where the other mappings' drift starts
/// to matter; far from the limit it reads nothing.
pub(crate) fn refresh_headroom() {
    let fit = FIT_STACKS.load(Relaxed);
    if fit != usize::MAX && stack_stats().stacks_mapped + UNSTARTED.load(Relaxed) >= fit / 2 {
        let _ = limits(false);
    }
}

/// The first count, if none was made yet: called by `Builder::build` before the runtime's
/// threads start, so that it happens at a known time on the building thread (it opens
/// `/proc/self/maps` and `/proc/sys/vm/max_map_count`) and not, later, on sysmon or a
/// spawning goroutine in the middle of the program (a program that runs itself out of file
/// descriptors, as `tests/net_emfile.rs` does, would see an fd come and go).
pub(crate) fn init_headroom() {
    let _ = limits(true);
}

/// Releases a reservation made by [`reserve_stack`].
pub(crate) fn unreserve_stack() {
    UNSTARTED.fetch_sub(1, Relaxed);
}

/// Stacks reserved now (spawned goroutines without their stack yet).
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn reserved() -> usize {
    UNSTARTED.load(Relaxed)
}

/// Recounts of `/proc/self/maps` so far.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn recounts() -> u64 {
    RECOUNTS.load(Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reservation_is_counted_until_released() {
        // Far from the limit on the machines this runs on: reserving succeeds and counts.
        reserve_stack(64 << 10, &AtomicUsize::new(0)).unwrap();
        assert!(reserved() >= 1);
        unreserve_stack();
        let (mappings, max) = estimated_mappings().expect("/proc readable here");
        assert!(mappings > 0 && max > mappings);
    }

    #[test]
    fn projection_credits_cached_stacks_only_up_to_the_reservations() {
        assert_eq!(projected(100, 7, 10, 0), 100 + 17 * 2);
        assert_eq!(projected(100, 7, 10, 4), 100 + 13 * 2);
        assert_eq!(projected(100, 7, 10, 50), 100 + 7 * 2);
        assert_eq!(slack(65530), 4095);
        assert_eq!(slack(100), 64);
    }

    /// The decision at Linux's default limit: 500 other mappings, 64 KiB stacks. Goroutines
    /// queued without a stack count as much as started ones (issue 20: 33,000 spawns were
    /// accepted, then 124 failed to start).
    #[test]
    fn queued_goroutines_count_against_the_limit() {
        let (base, max) = (500, 65530);
        // 30,000 started, 500 queued: 2 * 30,500 + 500 + 4095 > 65530.
        assert!(!fits(projected(base, 30_000, 500, 0), max));
        // The same with no stacks mapped yet (all queued): refused as well.
        assert!(!fits(projected(base, 0, 30_500, 0), max));
        // 20,000 queued and 20,000 stacks cached from an earlier wave: fits.
        assert!(fits(projected(base, 20_000, 20_000, 20_000), max));
        // The largest count that fits: (65530 - 4095 - 500) / 2 = 30,467 stacks.
        assert!(fits(projected(base, 30_000, 467, 0), max));
        assert!(!fits(projected(base, 30_000, 468, 0), max));
    }

    #[test]
    fn recounts_are_rate_limited() {
        let _ = estimated_mappings();
        let n = recounts();
        for _ in 0..100 {
            let _ = estimated_mappings();
            let _ = limits(true);
        }
        // At most one more (if the last count happened to turn stale during the loop).
        assert!(recounts() <= n + 1, "{} recounts", recounts() - n);
    }
}
