//! Stall reports: which goroutine blocks a P's thread, for how long, and where.
//!
//! # The problem
//!
//! A started goroutine never leaves its P's thread, so a call that blocks the *thread* (a std
//! mutex, `std::thread::park`, a raw syscall) or a loop that never calls into the runtime
//! freezes every goroutine homed on that P. sysmon already sees the P stop scheduling; what
//! a user needs is the culprit named, once, as a deadlock report would.
//!
//! # How
//!
//! When a P has been in one goroutine for `GODEBUG=stalltrace=N` milliseconds (default 100;
//! 0 silences it) while something waits for it ([`someone_waits`]: a runnable goroutine, a
//! wake-up, a due timer; a CPU-bound goroutine alone on its P is left alone), sysmon
//! (`sysmon.rs`) calls [`report`]:
//! * the thread's state from `/proc/self/task/TID/stat` and `wchan` (running: a CPU loop;
//!   sleeping in `futex_*`: a lock or park; else the kernel's wait channel);
//! * where: sysmon sends the thread SIGURG (Go's preemption signal); the handler, on the
//!   stuck thread, scans its own stack from the interrupted stack pointer up (at most 64 KiB)
//!   for words that point into the executable's code, return addresses among them, and
//!   stores up to `CANDIDATES` of them in static atomics; sysmon symbolizes them (off the
//!   handler) and names the first frame of the program's own code (not std, core, libc or
//!   gort). A stack scan, not a frame-pointer walk: std and libc have no frame pointers, and
//!   the caller of `Mutex::lock` is exactly the frame such a walk loses;
//! * how many goroutines are homed on the P and wait for it.
//!
//! One line per stall episode (an episode ends when the P schedules again). Past
//! `GODEBUG=stalldump=N` milliseconds (default 1000; 0: never) the report is repeated with
//! every goroutine's stack, as a deadlock report is. The count of episodes is schedtrace's
//! `syscalltick` (scheddetail), the nearest Go field.
//!
//! # The handler
//!
//! Async-signal-safe: it reads its own registers, its own stack (mapped, between the
//! interrupted SP and the top of the stack it lies in, from the thread's current-goroutine
//! record), and static atomics; it takes no lock and calls no libc function. Only a request
//! armed by sysmon (`ARMED`) is served: a SIGURG from elsewhere returns at once (the default
//! action, ignore, is kept in effect that way). SA_RESTART: an interrupted restartable system
//! call resumes; like Go's preemption signal, a non-restartable one may see EINTR.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use super::p::P;
use super::runtime::Shared;

/// Stack words the handler keeps that point into the executable's code.
const CANDIDATES: usize = 64;
/// Bytes of stack the handler scans above the interrupted stack pointer.
const SCAN_BYTES: usize = 64 << 10;

static ARMED: AtomicBool = AtomicBool::new(false);
static DONE: AtomicBool = AtomicBool::new(false);
static COUNT: AtomicUsize = AtomicUsize::new(0);
static FOUND: [AtomicUsize; CANDIDATES] = [const { AtomicUsize::new(0) }; CANDIDATES];
/// The executable's code: [lo, hi).
static TEXT_LO: AtomicUsize = AtomicUsize::new(0);
static TEXT_HI: AtomicUsize = AtomicUsize::new(0);
/// One capture at a time (several runtimes have several sysmons).
static CAPTURE: Mutex<()> = Mutex::new(());

/// Installs the SIGURG handler and finds the code range, once per process.
fn install() -> bool {
    static ONCE: Once = Once::new();
    static OK: AtomicBool = AtomicBool::new(false);
    ONCE.call_once(|| {
        let Some((lo, hi)) = text_range() else {
            return;
        };
        TEXT_LO.store(lo, SeqCst);
        TEXT_HI.store(hi, SeqCst);
        // SAFETY: `sa` is fully initialised (zeroed, then the fields we use); the handler is
        // an `extern "C"` SA_SIGINFO handler and async-signal-safe (module docs).
        let r = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART | libc::SA_ONSTACK;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGURG, &sa, std::ptr::null_mut())
        };
        OK.store(r == 0, SeqCst);
    });
    OK.load(SeqCst)
}

/// The lowest and highest address of the executable's executable mappings.
fn text_range() -> Option<(usize, usize)> {
    let exe = std::fs::read_link("/proc/self/exe").ok()?;
    let exe = exe.to_str()?.to_owned();
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let mut range: Option<(usize, usize)> = None;
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (Some(addrs), Some(perms)) = (f.next(), f.next()) else {
            continue;
        };
        if !perms.contains('x') || line.split_whitespace().nth(5) != Some(exe.as_str()) {
            continue;
        }
        let (lo, hi) = addrs.split_once('-')?;
        let (lo, hi) = (
            usize::from_str_radix(lo, 16).ok()?,
            usize::from_str_radix(hi, 16).ok()?,
        );
        range = Some(range.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
    }
    range
}

extern "C" fn handler(_sig: libc::c_int, _info: *mut libc::siginfo_t, uctx: *mut libc::c_void) {
    if !ARMED.swap(false, SeqCst) {
        return;
    }
    // SAFETY: the kernel passes a valid ucontext_t to an SA_SIGINFO handler.
    let (pc, sp) = unsafe { registers(uctx) };
    let (lo, hi) = (TEXT_LO.load(SeqCst), TEXT_HI.load(SeqCst));
    let mut n = 0;
    if (lo..hi).contains(&pc) {
        FOUND[0].store(pc, SeqCst);
        n = 1;
    }
    // The stack the interrupted code runs on: its goroutine's, or the thread's own.
    let (stack_lo, stack_hi) = match crate::rt::current::curg() {
        Some(g) => g.stack_bounds(),
        None => crate::rt::current::thread_stack(),
    };
    if stack_lo <= sp && sp < stack_hi {
        let end = stack_hi.min(sp.saturating_add(SCAN_BYTES));
        let mut a = sp & !7;
        while a + 8 <= end && n < CANDIDATES {
            // SAFETY: `a` lies in this thread's own stack between the interrupted stack
            // pointer and the stack's top: mapped, readable, 8-aligned; the code that owns
            // these words is interrupted by this very handler, so nothing writes them now.
            let w = unsafe { *(a as *const usize) };
            if (lo..hi).contains(&w) {
                FOUND[n].store(w, SeqCst);
                n += 1;
            }
            a += 8;
        }
    }
    COUNT.store(n, SeqCst);
    DONE.store(true, SeqCst);
}

/// `(pc, sp)` of the interrupted code.
///
/// # Safety
/// `uctx` is the `ucontext_t` pointer the kernel passed to an SA_SIGINFO handler.
unsafe fn registers(uctx: *mut libc::c_void) -> (usize, usize) {
    // SAFETY: per the contract.
    let uc = unsafe { &*(uctx as *const libc::ucontext_t) };
    #[cfg(target_arch = "x86_64")]
    {
        let g = &uc.uc_mcontext.gregs;
        (
            g[libc::REG_RIP as usize] as usize,
            g[libc::REG_RSP as usize] as usize,
        )
    }
    #[cfg(target_arch = "aarch64")]
    {
        (uc.uc_mcontext.pc as usize, uc.uc_mcontext.sp as usize)
    }
}

/// Code addresses found on `p`'s thread's stack, innermost first (empty if the thread could
/// not be asked: no handler, no thread id, no answer within 50 ms).
fn capture(p: &P) -> Vec<usize> {
    let thread = p.pthread.load(SeqCst);
    if thread == 0 || !install() {
        return Vec::new();
    }
    let _one = CAPTURE.lock().unwrap_or_else(|e| e.into_inner());
    DONE.store(false, SeqCst);
    COUNT.store(0, SeqCst);
    ARMED.store(true, SeqCst);
    // SAFETY: `thread` is the pthread_t of this P's worker, which lives as long as the
    // runtime (it is joined at shutdown, after sysmon), and SIGURG has our handler.
    let r = unsafe { libc::pthread_kill(thread as libc::pthread_t, libc::SIGURG) };
    let t0 = Instant::now();
    while r == 0 && !DONE.load(SeqCst) && t0.elapsed() < Duration::from_millis(50) {
        std::thread::sleep(Duration::from_micros(200));
    }
    ARMED.store(false, SeqCst);
    if !DONE.load(SeqCst) {
        return Vec::new();
    }
    (0..COUNT.load(SeqCst).min(CANDIDATES))
        .map(|i| FOUND[i].load(SeqCst))
        .collect()
}

/// The first frame among `addrs` that belongs to the program itself, as "file:line (fn)".
fn user_frame(addrs: &[usize]) -> Option<String> {
    for &a in addrs {
        let mut found = None;
        // A return address points after the call: look up the call instruction.
        backtrace::resolve((a.saturating_sub(1)) as *mut std::ffi::c_void, |sym| {
            if found.is_some() {
                return;
            }
            let (Some(file), Some(line)) = (sym.filename(), sym.lineno()) else {
                return;
            };
            let f = file.to_string_lossy();
            // The runtime's own sources (its helper binaries in `src/bin/` are programs).
            let runtime = concat!(env!("CARGO_MANIFEST_DIR"), "/src/");
            let foreign = ["/rustc/", "/.cargo/", "/library/std/", "/library/core/"]
                .iter()
                .any(|s| f.contains(s))
                || (f.starts_with(runtime) && !f[runtime.len()..].starts_with("bin/"));
            if !foreign {
                let name = sym.name().map(|n| format!("{n:#}")).unwrap_or_default();
                found = Some(format!("{}:{line} ({name})", short_path(&f)));
            }
        });
        if found.is_some() {
            return found;
        }
    }
    None
}

/// A path relative to the current directory when it lies below it.
fn short_path(f: &str) -> String {
    match std::env::current_dir() {
        Ok(d) => f
            .strip_prefix(&format!("{}/", d.display()))
            .unwrap_or(f)
            .to_string(),
        Err(_) => f.to_string(),
    }
}

/// What the thread is doing, from the kernel: `running` (a CPU loop), a futex wait, or the
/// kernel's wait channel.
fn thread_state(tid: i32) -> String {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap_or_default();
    // The state follows the parenthesised command name.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or("?");
    let wchan = std::fs::read_to_string(format!("/proc/self/task/{tid}/wchan")).unwrap_or_default();
    match state {
        "R" => "running: a CPU-bound loop that makes no runtime call".to_string(),
        _ if wchan.contains("futex") => {
            "futex wait: a std or parking_lot lock, condvar or thread park".to_string()
        }
        _ if wchan.is_empty() || wchan == "0" => format!("state {state}"),
        _ => format!("blocked in the kernel: {wchan}"),
    }
}

/// Whether anything waits for P `p`'s thread: runnable goroutines in its queues, wake-ups in
/// its inbox, or a timer of its heap already due. A goroutine that holds its P while nobody
/// waits (a CPU-bound goroutine on a P of its own) harms nobody and is not reported.
pub(crate) fn someone_waits(p: &P) -> bool {
    p.runq_len() > 0
        || p.inbox_nonempty()
        || p.timers.next_when() <= crate::rt::timer::clock::now_ns()
}

/// The one-line report (and, with `dump`, every goroutine's stack) for P `p`, stuck in
/// goroutine `goid` for `dur`.
pub(crate) fn report(shared: &Shared, p: &P, goid: u64, dur: Duration, dump: bool) -> String {
    let state = thread_state(p.tid.load(SeqCst) as i32);
    let at = user_frame(&capture(p))
        .map(|f| format!(" at {f}"))
        .unwrap_or_else(|| {
            " at an unknown location (no frame of the program's own code was found on its stack)"
                .to_string()
        });
    let homed = p.counters.resident.load(SeqCst).saturating_sub(1);
    let mut s = format!(
        "gort: goroutine {goid} has blocked P{}'s thread for {} ms ({state}){at}; {homed} other goroutine{} homed on P{} cannot run until it returns",
        p.id,
        dur.as_millis(),
        if homed == 1 { "" } else { "s" },
        p.id,
    );
    s.push_str(
        "\n      (a call that blocks the OS thread blocks its P: use gort::sync, gort::chan or \
         gort::blocking(..); GODEBUG=stalltrace=0 silences this)",
    );
    if dump {
        let _ = write!(
            s,
            "\n\ngoroutines of the runtime:\n\n{}",
            super::traceback::dump(shared)
        );
    }
    s
}
