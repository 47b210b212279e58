//! Goroutine dumps and the deadlock report.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::{Acquire, Relaxed};

use crate::rt::sched::g::{G, PARKED, RUNNABLE, RUNNING};
use crate::rt::sched::runtime::Shared;

/// Go's status words for a goroutine's header line.
fn status(g: &G, now_ns: u64) -> String {
    let s = g.state.load(Acquire) & !crate::rt::sched::gstate::FLAGS;
    match s {
        RUNNING => "running".into(),
        RUNNABLE => "runnable".into(),
        PARKED => {
            // Go 1.26 marks a goroutine its leak detector caught: `[chan receive (leaked)]`.
            let leaked = if super::leak::is_leaked(g) {
                " (leaked)"
            } else {
                ""
            };
            let reason = format!("{}{leaked}", g.reason().as_str());
            let waited = now_ns.saturating_sub(g.wait_since.load(Relaxed));
            let minutes = waited / 60_000_000_000;
            if minutes >= 1 {
                format!(
                    "{reason}, {minutes} minute{}",
                    if minutes == 1 { "" } else { "s" }
                )
            } else {
                reason
            }
        }
        _ => "dead".into(),
    }
}

/// Appends one goroutine's record (Go's layout) to `out`.
pub(crate) fn write_g(out: &mut String, g: &G, now_ns: u64) {
    let _ = writeln!(out, "goroutine {} [{}]:", g.id(), status(g, now_ns));
    let parked = g.parked_at.load(Relaxed);
    if !parked.is_null() && g.state.load(Acquire) & !crate::rt::sched::gstate::FLAGS == PARKED {
        // SAFETY: parked_at only ever holds `&'static Location` pointers.
        let loc = unsafe { &*parked };
        let _ = writeln!(
            out,
            "gort.park({})\n\t{}:{}",
            g.reason().as_str(),
            loc.file(),
            loc.line()
        );
    } else if !g.started() {
        let _ = writeln!(out, "gort.goexit(not started)");
    }
    write_created_by(out, g.parent, g.created_at);
    write_ancestors(out, g);
}

/// Go's `created by` line and the creation site.
fn write_created_by(out: &mut String, parent: u64, at: &std::panic::Location<'static>) {
    let _ = writeln!(
        out,
        "created by gort.go in goroutine {parent}\n\t{}:{}",
        at.file(),
        at.line()
    );
}

/// `GODEBUG=tracebackancestors=N`: the goroutine's ancestors, nearest first, as Go's
/// `printAncestorTraceback` prints them: `[originating from goroutine M]:`, M's frame at the
/// `go` statement (gort records the call site, not a whole stack), then where M itself was
/// created (omitted for a goroutine created outside any goroutine, as Go omits it for main's).
fn write_ancestors(out: &mut String, g: &G) {
    for a in &g.ancestors {
        let _ = writeln!(
            out,
            "[originating from goroutine {}]:\ngort.go(...)\n\t{}:{}",
            a.goid,
            a.go_at.file(),
            a.go_at.line()
        );
        if a.parent != 0 {
            write_created_by(out, a.parent, a.created_at);
        }
    }
}

/// Every goroutine of `shared`, separated by blank lines, as Go prints them.
pub(crate) fn dump(shared: &Shared) -> String {
    dump_with_first(shared, 0, "")
}

/// [`dump`], with goroutine `first` (if not 0) shown by the record `record` ahead of the
/// others instead of where the list has it: a stall report's culprit, running, and
/// perhaps never registered.
pub(crate) fn dump_with_first(shared: &Shared, first: u64, record: &str) -> String {
    let now = shared.nanotime();
    let mut out = record.to_string();
    let gs = shared.all_gs();
    let mut listed = 0;
    for g in gs.iter().filter(|g| first == 0 || g.id() != first) {
        if !out.is_empty() {
            out.push('\n');
        }
        write_g(&mut out, g, now);
        listed += 1;
    }
    let shown = listed + usize::from(first != 0);
    // Goroutines that have never parked (running, runnable, or not started) are not in allgs.
    let queued = shared.ngoroutines().saturating_sub(shown);
    if queued > 0 {
        let _ = write!(
            out,
            "\n({queued} more goroutines are running or runnable and have never parked)\n"
        );
    }
    out
}

/// Go's fatal message followed by the goroutine list, and, when some of the goroutines are
/// leaked (parked on a channel whose other side has no handle left, `leak.rs`), a hint.
pub(crate) fn deadlock_report(shared: &Shared) -> String {
    let mut out = format!(
        "fatal error: all goroutines are asleep - deadlock!\n\n{}",
        dump(shared)
    );
    let leaked = super::leak::count(shared);
    if leaked > 0 {
        let _ = write!(
            out,
            "\n{leaked} of these goroutines {are} marked (leaked): parked on a channel that has no \
             handle left on its other side, so {they} can never complete. Dropping every Sender \
             does not close a channel; call close().\n",
            are = if leaked == 1 { "is" } else { "are" },
            they = if leaked == 1 { "it" } else { "they" },
        );
    }
    out
}

/// A dump of every goroutine of the current runtime (the process-wide one outside
/// goroutines), in Go's format:
///
/// ```text
/// goroutine 7 [chan receive, 3 minutes]:
/// gort.park(chan receive)
///     src/main.rs:12
/// created by gort.go in goroutine 1
///     src/main.rs:30
/// ```
///
/// With `GODEBUG=tracebackancestors=N`, each record goes on with up to N ancestors:
///
/// ```text
/// [originating from goroutine 1]:
/// gort.go(...)
///     src/main.rs:30
/// ```
pub fn goroutine_dump() -> String {
    match crate::rt::sched::park::ctx() {
        Some(c) => dump(c.shared()),
        None => dump(&crate::rt::sched::runtime::default_runtime().shared),
    }
}

/// Writes [`goroutine_dump`] to `w`.
pub fn write_goroutine_dump(mut w: impl std::io::Write) -> std::io::Result<()> {
    w.write_all(goroutine_dump().as_bytes())
}
