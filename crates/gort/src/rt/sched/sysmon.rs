//! sysmon: the runtime's monitor thread, which runs without a P.
//!
//! Every tick (20 us, doubling up to 10 ms while nothing needs attention) it:
//! * finds Ps that have not scheduled for a whole 10 ms time slice (a goroutine hogging the
//!   CPU, or one stuck in a raw blocking call): it counts the stall (scheddetail shows it as
//!   `syscalltick`), flags the running goroutine for cooperative preemption (it yields at its
//!   next call into the runtime), marks the P stalled so idle Ps may take all of its goroutines
//!   that have not started (runnext included), moves the unstarted goroutines other Ps
//!   handed it (`Worker::rehome`) from its inbox to the global queue, and wakes an idle P;
//! * polls the network if goroutines wait on I/O and nobody polled for 10 ms (a busy P
//!   polls only when it runs out of local work);
//! * reports, dumps and records stall episodes: a P kept by one goroutine past
//!   `GODEBUG=stalltrace` while others wait for it (`stall.rs`, `stall::Watch`);
//! * prints `GODEBUG=schedtrace` lines when due;
//! * confirms deadlocks: every P idle, every goroutine parked, nothing pending, and no
//!   scheduling activity across two consecutive checks.
//!
//! When every P is idle and no schedtrace is due it sleeps until a P is woken or the last P goes
//! idle (an idle runtime burns no CPU).

use std::sync::atomic::Ordering::{Acquire, Relaxed, SeqCst};
use std::sync::Arc;
use std::time::Duration;

use super::p::P_RUNNING;
use super::runtime::Shared;

/// Go's forcePreemptNS: a time slice.
const TIME_SLICE_NS: u64 = 10_000_000;

/// sysmon polls the network when nobody has for this long (Go: 10 ms).
const NETPOLL_STALE_NS: u64 = 10_000_000;

pub(crate) fn sysmon_main(shared: Arc<Shared>) {
    let n = shared.nprocs();
    let mut last_tick = vec![(u64::MAX, 0u64); n];
    let mut delay_us: u64 = 20;
    let mut quiet = 0u32;
    let mut next_trace = 0u64;
    let mut deadlock_suspect: Option<Suspect> = None;
    let mut next_scavenge = 0u64;
    let trace_ms = shared.godebug.schedtrace_ms;
    let limits = super::stall::Limits::new(&shared);
    // Per P: its current stall episode (`stall.rs`).
    let mut watch: Vec<super::stall::Watch> = (0..n).map(|_| Default::default()).collect();
    // Episodes still open when the runtime shuts down end then.
    let end_all = |watch: &mut [super::stall::Watch]| watch.iter_mut().for_each(|w| w.end());
    loop {
        if shared.shutdown.load(Acquire) {
            end_all(&mut watch);
            return;
        }
        // Unmap the stacks the pools shed since the last tick (off the goroutines' threads),
        // and give back, gradually, cached stacks that went unused (stack/pool.rs).
        shared.stacks.reap();
        let now_ns = crate::rt::timer::clock::now_ns();
        if now_ns >= next_scavenge {
            shared.stacks.scavenge();
            next_scavenge = now_ns + crate::rt::stack::SCAVENGE_PERIOD_NS;
            // Recount the mappings that are not stacks if the process is past half of what
            // vm.max_map_count allows (at most once a second; stack/headroom.rs).
            crate::rt::stack::refresh_headroom();
        }
        let all_idle = shared.idle.npidle.load(SeqCst) + shared.nlockedwait.load(SeqCst) == n;
        if all_idle {
            // No P runs: any stall episode is over, before a sleep that may be long.
            end_all(&mut watch);
        }
        // Sleep: short while busy, until poked while idle (unless schedtrace is due).
        {
            let guard = shared.sysmon_lock.lock().unwrap();
            let (mut guard, _) = if all_idle && trace_ms == 0 && deadlock_suspect.is_none() {
                let check = shared.detect_deadlock && shared.ngoroutines() > 0;
                let wait = if check {
                    Duration::from_millis(5)
                } else if shared.stacks.above_floor() {
                    // Wake for the scavenger until the cached stacks are back to the floor.
                    Duration::from_nanos(crate::rt::stack::SCAVENGE_PERIOD_NS)
                } else {
                    Duration::from_secs(3600)
                };
                shared.sysmon_deep_sleep.store(true, SeqCst);
                let r = shared
                    .sysmon_cv
                    .wait_timeout_while(guard, wait, |poked| !*poked)
                    .unwrap();
                shared.sysmon_deep_sleep.store(false, SeqCst);
                r
            } else {
                let wait = if deadlock_suspect.is_some() {
                    // Confirm quickly, or, where a warning is all it can give, check the
                    // spell now and then (`OUTSIDE_GRACE_NS`).
                    if shared.outside_woke.load(Relaxed) {
                        Duration::from_millis(50)
                    } else {
                        Duration::from_millis(2)
                    }
                } else {
                    Duration::from_micros(delay_us)
                };
                shared.sysmon_cv.wait_timeout(guard, wait).unwrap()
            };
            *guard = false;
        }
        if shared.shutdown.load(Acquire) {
            end_all(&mut watch);
            return;
        }
        let now = shared.tick_coarse();
        let mut acted = false;
        for (i, p) in shared.ps.iter().enumerate() {
            if p.status.load(Relaxed) != P_RUNNING || p.curg.load(Relaxed) == 0 {
                last_tick[i] = (u64::MAX, now);
                watch[i].end();
                continue;
            }
            let tick = p.schedtick.load(Relaxed);
            if last_tick[i].0 != tick {
                last_tick[i] = (tick, now);
                watch[i].end();
                continue;
            }
            let stuck = now - last_tick[i].1;
            watch[i].step(&shared, p, p.curg.load(Relaxed), stuck, &limits);
            if stuck >= TIME_SLICE_NS && !p.stalled.load(Relaxed) {
                p.stalls.fetch_add(1, Relaxed);
                p.preempt.store(true, Relaxed);
                p.stalled.store(true, Relaxed);
                let fresh = p.rescue_unstarted(&shared);
                if !fresh.is_empty() {
                    shared.global_push(fresh);
                }
                shared.wakep();
                acted = true;
            }
        }
        if crate::rt::netpoll::poll_if_stale(NETPOLL_STALE_NS) > 0 {
            acted = true;
        }
        if trace_ms > 0 && now >= next_trace {
            crate::rt::sched::schedtrace::print(&shared, shared.godebug.scheddetail);
            next_trace = now + trace_ms * 1_000_000;
        }
        if shared.detect_deadlock && !shared.is_deadlocked() {
            deadlock_suspect = check_deadlock(&shared, deadlock_suspect);
        }
        // Go: 20us, doubling after 1ms (50 quiet ticks) up to 10ms.
        if acted {
            quiet = 0;
            delay_us = 20;
        } else {
            quiet += 1;
            if quiet > 50 {
                delay_us = (delay_us * 2).min(10_000);
            }
        }
    }
}

/// A quiet spell the deadlock check is watching: the activity epoch it saw, when, and whether
/// it already warned about it.
#[derive(Clone, Copy)]
struct Suspect {
    epoch: u64,
    since: u64,
    warned: bool,
}

/// Once a thread outside the runtime's Ms has woken a goroutine (a plain thread feeding a
/// channel, the blocking pool, sysmon's poll), the runtime cannot prove a deadlock: that thread
/// may wake one again, after any pause, and nothing shows it coming. Declaring one after the
/// two checks' ~7 ms of quiet killed working programs with "all goroutines are asleep"
/// (`tests/gc_rootcache.rs` did: plain threads feeding a goroutine while a collector looped).
/// Such a runtime instead prints the same report as a warning after this much quiet, once per
/// quiet spell, and keeps running: a real deadlock still says who is stuck and where, a slow
/// feeder is not killed. Runtimes whose wake-ups all came from goroutines keep Go's fatal
/// error and the fast check.
const OUTSIDE_GRACE_NS: u64 = 1_000_000_000;

/// One step of the two-phase deadlock check. Returns the quiet spell to confirm at the next
/// check.
fn check_deadlock(shared: &Shared, suspect: Option<Suspect>) -> Option<Suspect> {
    let n = shared.nprocs();
    let ng = shared.ngoroutines();
    let quiet = shared.idle.npidle.load(SeqCst) + shared.nlockedwait.load(SeqCst) == n
        && ng > 0
        && shared.nparked() == ng as i64
        && shared.pending.load(SeqCst) == 0
        && shared
            .ps
            .iter()
            .all(|p| p.counters.io_waiters.load(SeqCst) == 0)
        && shared.global_len.load(SeqCst) == 0;
    if !quiet {
        return None;
    }
    let epoch = shared.activity();
    let now = shared.nanotime();
    match suspect {
        Some(s) if s.epoch == epoch => {
            if !shared.outside_woke.load(Relaxed) {
                shared.declare_deadlock(crate::rt::sched::traceback::deadlock_report(shared));
                return None;
            }
            if !s.warned && now - s.since >= OUTSIDE_GRACE_NS {
                eprintln!(
                    "gort: warning: every goroutine has been asleep for {} ms; threads outside \
                     the runtime have woken goroutines before and may again, so this is not \
                     declared a deadlock:\n{}",
                    (now - s.since) / 1_000_000,
                    crate::rt::sched::traceback::deadlock_report(shared)
                );
                shared.deadlock_warnings.fetch_add(1, Relaxed);
                return Some(Suspect { warned: true, ..s });
            }
            suspect
        }
        _ => Some(Suspect {
            epoch,
            since: now,
            warned: false,
        }),
    }
}
