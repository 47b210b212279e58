//! `GODEBUG=schedtrace=X` and `scheddetail=1` lines, in Go 1.19's format.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::{Acquire, Relaxed};

use crate::rt::sched::g::{NOTIFIED, PARKED, RUNNABLE, RUNNING};
use crate::rt::sched::runtime::Shared;

/// Go's `_Grunnable`, `_Grunning`, `_Gwaiting`, `_Gdead`.
fn g_status_code(state: u32) -> u32 {
    match state & !crate::rt::sched::gstate::FLAGS {
        RUNNABLE => 1,
        RUNNING => 2,
        PARKED => 4,
        _ => 6,
    }
}

/// Appends gort's fields beyond Go's line, each only when non-zero, so that a program with
/// neither prints Go's line exactly: ` leaked=N` when the leak detector (`leak.rs`) finds
/// N goroutines that can never wake, ` stalls=N` when N stall episodes were reported
/// (`stall.rs`: a goroutine kept its P's thread while others waited).
fn push_gort_fields(s: &mut String, shared: &Shared) {
    let n = crate::rt::sched::leak::count(shared);
    if n > 0 {
        let _ = write!(s, " leaked={n}");
    }
    let n = shared.stall_reports.load(Relaxed);
    if n > 0 {
        let _ = write!(s, " stalls={n}");
    }
}

/// The schedtrace text (one line, or the detailed block) for `shared` at this instant.
pub(crate) fn format(shared: &Shared, detailed: bool) -> String {
    let n = shared.nprocs();
    let (bthreads, bidle) = shared.blocking.counts();
    let threads = shared.threads.load(Relaxed) + bthreads;
    let idle_workers = shared.idle.npidle.load(Relaxed);
    let mut s = String::new();
    let _ = write!(
        s,
        "SCHED {}ms: gomaxprocs={} idleprocs={} threads={} spinningthreads={} idlethreads={} runqueue={}",
        shared.nanotime() / 1_000_000,
        n,
        idle_workers,
        threads,
        shared.idle.nmspinning.load(Relaxed),
        idle_workers + bidle,
        shared.global_len.load(Relaxed),
    );
    if !detailed {
        s.push_str(" [");
        for (i, p) in shared.ps.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            let _ = write!(s, "{}", p.runq_len());
        }
        s.push(']');
        push_gort_fields(&mut s, shared);
        s.push('\n');
        return s;
    }
    s.push_str(" gcwaiting=0 nmidlelocked=0 stopwait=0 sysmonwait=0");
    push_gort_fields(&mut s, shared);
    s.push('\n');
    for p in shared.ps.iter() {
        let _ = writeln!(
            s,
            "  P{}: status={} schedtick={} syscalltick={} m={} runqsize={} gfreecnt=0 timerslen=0 resident={} rehomed={}",
            p.id,
            p.status.load(Relaxed),
            p.schedtick.load(Relaxed),
            p.stalls.load(Relaxed),
            p.id,
            p.runq_len(),
            p.counters.resident.load(Relaxed),
            p.counters.rehomed.load(Relaxed),
        );
    }
    for p in shared.ps.iter() {
        let curg = p.curg.load(Relaxed);
        let locked = p.locked_g.load(Relaxed);
        let lockedg = if locked.is_null() {
            -1
        } else {
            // SAFETY: a locked G stays alive (referenced by its registry entry) while
            // `locked_g` points at it; the pointer is cleared before the G exits.
            unsafe { (*locked).id() as i64 }
        };
        let _ = writeln!(
            s,
            "  M{}: p={} curg={} mallocing=0 throwing=0 preemptoff= locks=0 dying=0 spinning={} blocked={} lockedg={}",
            p.id,
            p.id,
            if curg == 0 { -1 } else { curg as i64 },
            p.spinning.load(Relaxed),
            shared.idle.is_idle(p.id),
            lockedg,
        );
    }
    let _ = writeln!(
        s,
        "  M{}: p=-1 curg=-1 mallocing=0 throwing=0 preemptoff= locks=0 dying=0 spinning=false blocked=false lockedg=-1",
        n
    );
    for g in shared.all_gs() {
        let st = g.state.load(Acquire);
        let home = g.home.load(Relaxed) as i64 - 1;
        let m = if st & !NOTIFIED == RUNNING { home } else { -1 };
        let lockedm = if g.locked.load(Relaxed) > 0 { home } else { -1 };
        let _ = writeln!(
            s,
            "  G{}: status={}({}) m={} lockedm={}",
            g.id(),
            g_status_code(st),
            g.reason().as_str(),
            m,
            lockedm
        );
    }
    s
}

/// Prints the schedtrace text on stderr.
pub(crate) fn print(shared: &Shared, detailed: bool) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(format(shared, detailed).as_bytes());
}

/// The current runtime's `schedtrace` line (or `scheddetail` block), as
/// `GODEBUG=schedtrace=X` prints it.
pub fn sched_summary(detailed: bool) -> String {
    match crate::rt::sched::park::ctx() {
        Some(c) => format(c.shared(), detailed),
        None => format(
            &crate::rt::sched::runtime::default_runtime().shared,
            detailed,
        ),
    }
}
