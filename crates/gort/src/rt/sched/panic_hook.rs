//! Panics say which goroutine: `goroutine 7 panicked at src/main.rs:3:5:`, the message, and
//! the creation site as Go's traceback prints it (`created by gort.go in goroutine 1`, then
//! the `go` call's file and line), instead of std's `thread 'gort-p0' panicked at ...` (the
//! worker thread says nothing about the goroutine).
//!
//! The hook is installed once, when the first runtime is built, in front of whatever hook is
//! installed then (std's default or the user's): a panic on a thread that is running a
//! goroutine prints gort's text; any other panic (a plain thread, the blocking pool) goes to
//! that previous hook unchanged. `RUST_BACKTRACE` works as with std's hook: unset or `0`,
//! the first panic adds std's hint line; otherwise a backtrace of the panicking goroutine
//! follows (`full` prints it unabridged).
//!
//! A hook the user installs *after* the first runtime is built replaces gort's (that is
//! `std::panic::set_hook`'s contract), and then sees every panic, goroutine ones included. A
//! hook installed *before* keeps every panic outside goroutines; gort cannot tell it from
//! std's default hook, so goroutine panics print gort's text (install it after building the
//! runtime to see those too). The payload is printed and left in place: the panic still
//! unwinds to the goroutine's `JoinHandle::join` as before.

use std::any::Any;
use std::io::Write;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Once;

use super::g::G;

/// Installs the hook (once per process).
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| match super::park::current() {
            Some((_, g)) => report(g, info.location(), info.payload()),
            None => prev(info),
        }));
    });
}

/// The message of a panic payload, as std's hook finds it.
fn message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "Box<dyn Any>"
    }
}

/// The text gort prints for a panic in goroutine `g` (without the backtrace).
pub(crate) fn text(
    id: u64,
    parent: u64,
    created_at: &Location<'_>,
    at: Option<&Location<'_>>,
    msg: &str,
) -> String {
    let mut s = format!("goroutine {id} panicked");
    if let Some(l) = at {
        s.push_str(&format!(" at {}:{}:{}", l.file(), l.line(), l.column()));
    }
    s.push_str(&format!(":\n{msg}\n"));
    // As in goroutine dumps (traceback.rs); parent 0: created outside any goroutine (the
    // main goroutine of block_on, a spawn from a plain thread), at that call.
    s.push_str(&format!(
        "created by gort.go in goroutine {parent}\n\t{}:{}\n",
        created_at.file(),
        created_at.line()
    ));
    s
}

fn report(g: &G, at: Option<&Location<'_>>, payload: &(dyn Any + Send)) {
    static FIRST: AtomicBool = AtomicBool::new(true);
    let mut s = text(g.id(), g.parent, g.created_at, at, message(payload));
    match std::env::var("RUST_BACKTRACE").as_deref() {
        Ok("0") | Err(_) => {
            if FIRST.swap(false, Relaxed) {
                s.push_str(
                    "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n",
                );
            }
        }
        Ok(style) => {
            let bt = std::backtrace::Backtrace::force_capture();
            if style == "full" {
                s.push_str(&format!("stack backtrace:\n{bt:#}\n"));
            } else {
                s.push_str(&format!(
                    "stack backtrace:\n{}",
                    short_backtrace(&bt.to_string())
                ));
                s.push_str(
                    "note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.\n",
                );
            }
        }
    }
    // One write, so that panics of goroutines on other Ms do not interleave line by line.
    let _ = std::io::stderr().lock().write_all(s.as_bytes());
}

/// std's short backtrace style for a goroutine: the frames from the panic (after std's
/// `__rust_end_short_backtrace` marker) down to the goroutine's body, without the hook, std's
/// panic machinery above it, or gort's task, catch_unwind and coroutine frames below it;
/// renumbered from 0. `full` is `Backtrace`'s text (`   N: symbol` lines, each followed by
/// indented `at file:line` lines).
fn short_backtrace(full: &str) -> String {
    let mut frames: Vec<Vec<&str>> = Vec::new();
    for line in full.lines() {
        let t = line.trim_start();
        let numbered = t
            .split_once(": ")
            .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        match frames.last_mut() {
            Some(f) if !numbered => f.push(line),
            _ => frames.push(vec![line]),
        }
    }
    fn symbol<'a>(f: &[&'a str]) -> &'a str {
        f[0].trim_start().split_once(": ").map_or("", |(_, s)| s)
    }
    let start = frames
        .iter()
        .position(|f| symbol(f).contains("__rust_end_short_backtrace"))
        .map_or(0, |i| i + 1);
    let mut end = frames
        .iter()
        .skip(start)
        .position(|f| symbol(f).starts_with("gort::rt::sched::task::"))
        .map_or(frames.len(), |i| i + start);
    // The catch_unwind plumbing between the task and the goroutine's closure.
    while end > start {
        let sym = symbol(&frames[end - 1]);
        let plumbing = sym.contains("catch_unwind")
            || sym == "__rust_try"
            || sym.starts_with("<core::panic::unwind_safe::AssertUnwindSafe");
        if !plumbing {
            break;
        }
        end -= 1;
    }
    let mut out = String::new();
    for (n, f) in frames[start..end].iter().enumerate() {
        out.push_str(&format!("{n:>4}: {}\n", symbol(f)));
        for l in &f[1..] {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_gos_shape() {
        let here = Location::caller();
        let t = text(7, 1, here, Some(here), "boom 7");
        let want = format!(
            "goroutine 7 panicked at {f}:{l}:{c}:\nboom 7\ncreated by gort.go in goroutine 1\n\t{f}:{l}\n",
            f = here.file(),
            l = here.line(),
            c = here.column()
        );
        assert_eq!(t, want);
        assert!(text(1, 0, here, None, "main")
            .starts_with("goroutine 1 panicked:\nmain\ncreated by gort.go in goroutine 0\n\t"));
        assert_eq!(message(&"x"), "x");
        assert_eq!(message(&String::from("y")), "y");
        assert_eq!(message(&5u8), "Box<dyn Any>");
    }

    #[test]
    fn short_backtrace_keeps_the_goroutines_frames() {
        let full = "   0: gort::rt::sched::panic_hook::report
             at ./crates/gort/src/rt/sched/panic_hook.rs:86:22
   1: std::sys::backtrace::__rust_end_short_backtrace::<F, !>
             at /rustc/library/std/src/sys/backtrace.rs:182:18
   2: __rustc::rust_begin_unwind
             at /rustc/library/std/src/panicking.rs:689:5
   3: app::main::{{closure}}
             at ./src/main.rs:24:17
   4: <core::panic::unwind_safe::AssertUnwindSafe<F> as core::ops::function::FnOnce<()>>::call_once
             at /rustc/library/core/src/panic/unwind_safe.rs:274:9
   5: std::panicking::catch_unwind::do_call
   6: __rust_try
   7: std::panic::catch_unwind
   8: gort::rt::sched::task::Task<F,T>::run_erased
             at ./crates/gort/src/rt/sched/task.rs:202:17
   9: clone3
";
        assert_eq!(
            short_backtrace(full),
            "   0: __rustc::rust_begin_unwind
             at /rustc/library/std/src/panicking.rs:689:5
   1: app::main::{{closure}}
             at ./src/main.rs:24:17
"
        );
        // No marker and no task frame: everything.
        assert_eq!(short_backtrace("   0: a\n   1: b\n"), "   0: a\n   1: b\n");
    }
}
