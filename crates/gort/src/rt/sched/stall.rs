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
//! (`sysmon.rs`, through [`Watch::step`]) calls [`report`]:
//! * the thread's state from `/proc/self/task/TID/stat`, `wchan` and `syscall` ([`classify`]:
//!   running: a CPU loop; sleeping in `futex_*` or in the futex system call: a lock or park;
//!   another system call or kernel wait channel; else "other");
//! * where: sysmon sends the thread SIGURG (Go's preemption signal); the handler, on the
//!   stuck thread, scans its own stack from the interrupted stack pointer up (at most 64 KiB)
//!   for words that point into the executable's code, return addresses among them, and
//!   stores up to `CANDIDATES` of them in static atomics, with the running goroutine's id and
//!   creation site (`G::created_at`, a `&'static Location`); sysmon symbolizes them (off the
//!   handler) and names the first frame of the program's own code (not std, core, libc or
//!   gort). A stack scan, not a frame-pointer walk: std and libc have no frame pointers, and
//!   the caller of `Mutex::lock` is exactly the frame such a walk loses;
//! * how many goroutines are homed on the P and wait for it.
//!
//! A thread found running is reported only once it has used two time slices of CPU
//! (`MIN_CPU_NS`, its thread CPU clock read when sysmon first saw the P stuck and again at
//! the threshold) without its P scheduling: a runnable thread the OS has not run (a loaded
//! machine, a descheduled VM) schedules again soon after it gets the CPU and is no culprit;
//! a loop without runtime calls gets there even on a busy machine.
//!
//! One line per stall episode. An episode begins when the P last scheduled (read before the
//! report, whose first symbolization can take 100 ms) and ends when sysmon sees it schedule
//! again or go idle, when every P is idle (before sysmon's long sleep), or at shutdown.
//! Past `GODEBUG=stalldump=N` milliseconds (default 1000; 0: never) the report is repeated
//! with the goroutine list, the culprit's record first (`[running, blocking P0's thread]`,
//! its kind, line and creation site: having perhaps never parked, it may be missing from the
//! registry), as a deadlock report lists them. scheddetail's per-P `syscalltick`
//! counts sysmon's 10 ms preemptions (any P that did not schedule for a time slice); the
//! episodes that produced a report are counted per runtime (`Shared::stall_reports`: the
//! schedtrace line's trailing ` stalls=N`, [`num_stalls`]).
//!
//! # What an episode leaves behind
//!
//! * **The stall profile** (`gort::prof::lookup("stall")`, built by `prof/stall.rs` from
//!   [`entries`]): episodes counted per (kind, culprit location, culprit's creation site),
//!   with the total time stalled (closed episodes' full length; open ones up to now). The
//!   log is process-wide, as Go's profiles are.
//! * **The execution trace**: a `StallBegin` event when the episode is reported and a
//!   `StallEnd` when it ends, recorded by sysmon (on its own trace buffer), their argument
//!   naming the episode, its kind and the stuck P's trace track (`P::trace_track`); the trace
//!   writer (`trace/json.rs`) reads the episode back ([`episode`]) and draws a
//!   `stall G<id> (<kind>)` slice on the P's track, from when the P last scheduled
//!   (`Episode::lead_ns` before the begin event), nested in the goroutine's `G<id>` slice.
//!   A trace started during an episode has no begin event for it and draws nothing.
//! * **An error**, with `Builder::stall_is_error(true)`: past the dump threshold (1000 ms if
//!   dumps are off) the full report becomes `Error::Stall`, which every plain thread waiting
//!   on the runtime (`try_block_on`, `JoinHandle::join`) returns at once
//!   (`Shared::declare_stall`), as it returns a deadlock. The stuck thread cannot be stopped:
//!   the runtime is poisoned (later `try_block_on` calls return the same error), and dropping
//!   it stops the threads that can stop, waits at most a second for the others and then
//!   leaves them running, detached, on the runtime's state, which is then deliberately
//!   leaked (never freed under them). If the culprit ever returns, its M finds the runtime
//!   shut down and exits.
//!
//! # Who writes what
//!
//! * The handler writes `FOUND`, `COUNT`, `CREATED`, `GOID`, `PARENT` and then `DONE`, only while
//!   `ARMED` (swapped false on entry); sysmon writes `ARMED`, reads the rest after `DONE`,
//!   all SeqCst, one capture at a time (`CAPTURE`).
//! * `Watch` (per P) is sysmon's own, never shared. The episode log (`LOG`) is written by
//!   sysmon threads only (`open`, `close`) and read under its lock by the profile and the
//!   trace writer; an episode's id is never reused.
//! * `Shared::stall_reports` is incremented by sysmon when an episode opens, read by anyone;
//!   `Shared::stall_error` is set once by sysmon.
//! * `P::trace_track` is written by the P's own thread when it first records a trace event,
//!   read by sysmon.
//!
//! The scheduler's hot path does none of this: all of it runs in sysmon when a P has not
//! scheduled for at least the threshold.
//!
//! # The handler
//!
//! Async-signal-safe: it reads its own registers, its own stack (mapped, between the
//! interrupted SP and the top of the stack it lies in, from the thread's current-goroutine
//! record), the running goroutine's record (alive while it is switched in) and static
//! atomics; it takes no lock and calls no libc function. Only a request armed by sysmon
//! (`ARMED`) is served: a SIGURG from elsewhere returns at once (the default action, ignore,
//! is kept in effect that way). SA_RESTART: an interrupted restartable system call resumes;
//! like Go's preemption signal, a non-restartable one may see EINTR.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use super::p::P;
use super::runtime::Shared;

/// Stack words the handler keeps that point into the executable's code.
const CANDIDATES: usize = 64;
/// Bytes of stack the handler scans above the interrupted stack pointer.
const SCAN_BYTES: usize = 64 << 10;
/// Closed episodes kept for the trace writer.
const RECENT: usize = 1024;

static ARMED: AtomicBool = AtomicBool::new(false);
static DONE: AtomicBool = AtomicBool::new(false);
static COUNT: AtomicUsize = AtomicUsize::new(0);
static FOUND: [AtomicUsize; CANDIDATES] = [const { AtomicUsize::new(0) }; CANDIDATES];
/// The interrupted goroutine's creation site (a `&'static Location` as an address; 0: none),
/// id and creator's id.
static CREATED: AtomicUsize = AtomicUsize::new(0);
static GOID: AtomicU64 = AtomicU64::new(0);
static PARENT: AtomicU64 = AtomicU64::new(0);
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
            // A CPU-profile sample waits until the capture returns: two handlers nested on
            // one alternate signal stack overflowed it (a SIGPROF inside this handler, CI).
            libc::sigaddset(&mut sa.sa_mask, libc::SIGPROF);
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
    // Who runs here: plain loads of this thread's context and of the G it runs, which its M
    // keeps alive while it is switched in (`rt/current.rs`); `created_at` is fixed while the
    // goroutine exists.
    match super::park::ctx().and_then(|c| c.g()) {
        Some(g) => {
            CREATED.store(g.created_at as *const Location<'static> as usize, SeqCst);
            GOID.store(g.id(), SeqCst);
            PARENT.store(g.parent, SeqCst);
        }
        None => {
            CREATED.store(0, SeqCst);
            GOID.store(0, SeqCst);
            PARENT.store(0, SeqCst);
        }
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

/// What the handler found on the stuck thread.
#[derive(Default)]
struct Capture {
    /// Code addresses on its stack, innermost first.
    addrs: Vec<usize>,
    /// The goroutine it was running, where and by whom that goroutine was created.
    goid: u64,
    created_at: Option<&'static Location<'static>>,
    parent: u64,
}

/// Asks `p`'s thread what it runs (empty if it could not be asked: no handler, no thread id,
/// no answer within 50 ms).
fn capture(p: &P) -> Capture {
    let thread = p.pthread.load(SeqCst);
    if thread == 0 || !install() {
        return Capture::default();
    }
    let _one = CAPTURE.lock().unwrap_or_else(|e| e.into_inner());
    DONE.store(false, SeqCst);
    COUNT.store(0, SeqCst);
    ARMED.store(true, SeqCst);
    // SAFETY: `thread` is the pthread_t of this P's worker, which lives as long as the
    // runtime (it is joined at shutdown, after sysmon, or left running), and SIGURG has our
    // handler.
    let r = unsafe { libc::pthread_kill(thread as libc::pthread_t, libc::SIGURG) };
    let t0 = Instant::now();
    while r == 0 && !DONE.load(SeqCst) && t0.elapsed() < Duration::from_millis(50) {
        std::thread::sleep(Duration::from_micros(200));
    }
    ARMED.store(false, SeqCst);
    if !DONE.load(SeqCst) {
        return Capture::default();
    }
    let created = CREATED.load(SeqCst);
    Capture {
        addrs: (0..COUNT.load(SeqCst).min(CANDIDATES))
            .map(|i| FOUND[i].load(SeqCst))
            .collect(),
        goid: GOID.load(SeqCst),
        parent: PARENT.load(SeqCst),
        // SAFETY: the handler stores in CREATED only addresses of `&'static Location`s
        // (`G::created_at`), or 0.
        created_at: (created != 0).then(|| unsafe { &*(created as *const Location<'static>) }),
    }
}

/// The first frame among `addrs` that belongs to the program itself: "file:line (fn)" and
/// the address looked up (a return address minus one).
fn user_frame(addrs: &[usize]) -> Option<(String, usize)> {
    for &a in addrs {
        let mut found = None;
        // A return address points after the call: look up the call instruction.
        let look = a.saturating_sub(1);
        backtrace::resolve(look as *mut std::ffi::c_void, |sym| {
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
        if let Some(f) = found {
            return Some((f, look));
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

/// What a stuck thread was doing, as the kernel shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum StallKind {
    /// Running: a CPU-bound loop that makes no runtime call.
    Cpu = 0,
    /// Asleep in a futex: a std or parking_lot lock, a condvar, a thread park.
    Futex = 1,
    /// Asleep in another system call or kernel wait.
    Syscall = 2,
    /// The kernel did not say.
    Other = 3,
}

impl StallKind {
    /// The short name (profiles, traces): `cpu`, `futex wait`, `syscall`, `other`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            StallKind::Cpu => "cpu",
            StallKind::Futex => "futex wait",
            StallKind::Syscall => "syscall",
            StallKind::Other => "other",
        }
    }

    pub(crate) fn from_u8(v: u8) -> StallKind {
        match v {
            0 => StallKind::Cpu,
            1 => StallKind::Futex,
            2 => StallKind::Syscall,
            _ => StallKind::Other,
        }
    }
}

/// Classifies a thread from its `stat` state letter, its `wchan` and the first field of its
/// `syscall` file (the system call number, `running`, or -1 outside a system call).
pub(crate) fn classify(state: &str, wchan: &str, syscall: &str) -> (StallKind, String) {
    let nr = syscall
        .split_whitespace()
        .next()
        .and_then(|n| n.parse::<i64>().ok());
    let wchan = wchan.trim();
    match state {
        "R" => (
            StallKind::Cpu,
            "running: a CPU-bound loop that makes no runtime call".to_string(),
        ),
        _ if wchan.contains("futex") || nr == Some(libc::SYS_futex) => (
            StallKind::Futex,
            "futex wait: a std or parking_lot lock, condvar or thread park".to_string(),
        ),
        _ if !wchan.is_empty() && wchan != "0" => (
            StallKind::Syscall,
            format!("blocked in the kernel: {wchan}"),
        ),
        _ if nr.is_some_and(|n| n >= 0) => (
            StallKind::Syscall,
            format!("blocked in system call {}", nr.unwrap_or(0)),
        ),
        _ => (StallKind::Other, format!("state {state}")),
    }
}

/// What the thread `tid` is doing, from the kernel.
fn thread_state(tid: i32) -> (StallKind, String) {
    let read = |f: &str| std::fs::read_to_string(format!("/proc/self/task/{tid}/{f}"));
    let stat = read("stat").unwrap_or_default();
    // The state follows the parenthesised command name.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or("?");
    classify(
        state,
        &read("wchan").unwrap_or_default(),
        &read("syscall").unwrap_or_default(),
    )
}

/// Whether anything waits for P `p`'s thread: runnable goroutines in its queues, wake-ups in
/// its inbox, or a timer of its heap already due. A goroutine that holds its P while nobody
/// waits (a CPU-bound goroutine on a P of its own) harms nobody and is not reported.
pub(crate) fn someone_waits(p: &P) -> bool {
    p.runq_len() > 0
        || p.inbox_nonempty()
        || p.timers.next_when() <= crate::rt::timer::clock::now_ns()
}

/// One stall report, and what the episode log keeps of it.
pub(crate) struct Report {
    /// The printed text: the line, the hint, and with a dump every goroutine's stack.
    pub(crate) text: String,
    pub(crate) kind: StallKind,
    /// The culprit's location ("file:line (fn)") and the address looked up for it.
    at: Option<(String, usize)>,
    created_at: Option<&'static Location<'static>>,
}

impl Report {
    /// The report's first line.
    pub(crate) fn line(&self) -> &str {
        self.text.lines().next().unwrap_or("")
    }
}

/// The one-line report (and, with `dump`, every goroutine's stack) for P `p`, stuck in
/// goroutine `goid` for `dur`.
pub(crate) fn report(shared: &Shared, p: &P, goid: u64, dur: Duration, dump: bool) -> Report {
    let (kind, state) = thread_state(p.tid.load(SeqCst) as i32);
    let cap = capture(p);
    let at = user_frame(&cap.addrs);
    let (created_at, parent) = match cap.created_at {
        Some(c) if cap.goid == goid => (Some(c), cap.parent),
        // Not captured (or the P moved on meanwhile): the registry knows goroutines that
        // have parked once.
        _ => shared
            .all_gs()
            .iter()
            .find(|g| g.id() == goid)
            .map_or((None, 0), |g| (Some(g.created_at), g.parent)),
    };
    let where_ = match &at {
        Some((f, _)) => format!(" at {f}"),
        None => {
            " at an unknown location (no frame of the program's own code was found on its stack)"
                .to_string()
        }
    };
    let homed = p.counters.resident.load(SeqCst).saturating_sub(1);
    let mut s = format!(
        "gort: goroutine {goid} has blocked P{}'s thread for {} ms ({state}){where_}; {homed} other goroutine{} homed on P{} cannot run until it returns",
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
        // The culprit first, as Go prints the goroutine at fault first, then the others.
        let mut first = format!(
            "goroutine {goid} [running, blocking P{}'s thread]:\ngort.stall({})\n\t{}\n",
            p.id,
            kind.name(),
            at.as_ref().map_or("(unknown location)", |a| a.0.as_str())
        );
        if let Some(c) = created_at {
            let _ = writeln!(
                first,
                "created by gort.go in goroutine {parent}\n\t{}:{}",
                c.file(),
                c.line()
            );
        }
        let _ = write!(
            s,
            "\n\ngoroutines of the runtime:\n\n{}",
            super::traceback::dump_with_first(shared, goid, &first)
        );
    }
    Report {
        text: s,
        kind,
        at,
        created_at,
    }
}

/// The thresholds sysmon applies, from GODEBUG and the builder.
pub(crate) struct Limits {
    /// `stalltrace`: report an episode (0: silent, and no episodes unless `error_ns`).
    line_ns: u64,
    /// `stalldump`: repeat the report with the goroutine list (0: never).
    dump_ns: u64,
    /// `Builder::stall_is_error`: declare the runtime stalled past this.
    error_ns: Option<u64>,
}

impl Limits {
    pub(crate) fn new(shared: &Shared) -> Limits {
        let line_ns = shared.godebug.stalltrace_ms.unwrap_or(100) * 1_000_000;
        let dump_ns = shared.godebug.stalldump_ms.unwrap_or(1000) * 1_000_000;
        let error_ns = shared.stall_is_error.then(|| {
            let at = if dump_ns > 0 { dump_ns } else { 1_000_000_000 };
            at.max(line_ns)
        });
        Limits {
            line_ns,
            dump_ns,
            error_ns,
        }
    }
}

/// sysmon's view of one P's current stall episode.
#[derive(Default)]
pub(crate) struct Watch {
    /// The open episode's id (0: none).
    episode: u64,
    dumped: bool,
    errored: bool,
    /// The P's thread's CPU time when sysmon first saw it stuck in this interval (None:
    /// not read yet, or no CPU clock).
    cpu_mark: Option<u64>,
}

/// CPU time a runnable thread must have used, without its P scheduling, before it is
/// reported as a CPU loop: two time slices. A thread that is runnable but was not given the
/// CPU (a loaded machine, a descheduled VM) schedules again soon after it runs, so it does
/// not get there; a loop that never calls into the runtime does, even on a busy machine.
const MIN_CPU_NS: u64 = 20_000_000;

/// The CPU time thread `pthread` has used, in ns.
fn thread_cpu_ns(pthread: usize) -> Option<u64> {
    if pthread == 0 {
        return None;
    }
    let mut id: libc::clockid_t = 0;
    // SAFETY: `pthread` is the pthread_t of a P's worker, which lives as long as the
    // runtime (see `capture`); `id` is a valid place for the result.
    if unsafe { libc::pthread_getcpuclockid(pthread as libc::pthread_t, &mut id) } != 0 {
        return None;
    }
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; `id` came from the kernel just now.
    if unsafe { libc::clock_gettime(id, &mut ts) } != 0 {
        return None;
    }
    Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// Whether a thread found running (`kind` Cpu) used enough CPU since `mark` to be the
/// culprit (true when either reading is missing: nothing to go on but the state).
fn ran_enough(mark: Option<u64>, now: Option<u64>) -> bool {
    match (mark, now) {
        (Some(a), Some(b)) => b.saturating_sub(a) >= MIN_CPU_NS,
        _ => true,
    }
}

impl Watch {
    /// The P scheduled again or went idle: the episode, if any, ends.
    pub(crate) fn end(&mut self) {
        if self.episode != 0 {
            close(self.episode);
        }
        *self = Watch::default();
    }

    /// P `p` has run goroutine `goid` for `stuck_ns` without scheduling: report, dump or
    /// declare the stall when due.
    pub(crate) fn step(&mut self, shared: &Shared, p: &P, goid: u64, stuck_ns: u64, lim: &Limits) {
        let d = Duration::from_nanos(stuck_ns);
        let error_due = lim.error_ns.is_some_and(|e| stuck_ns >= e) && !self.errored;
        if self.episode == 0 {
            let pthread = p.pthread.load(Relaxed);
            if self.cpu_mark.is_none() {
                self.cpu_mark = thread_cpu_ns(pthread);
            }
            let due = (lim.line_ns > 0 && stuck_ns >= lim.line_ns) || error_due;
            if !due || !someone_waits(p) {
                return;
            }
            // A runnable thread that the OS has hardly run is not stuck in a loop: wait
            // until it has used two time slices of CPU without scheduling.
            let (kind, _) = thread_state(p.tid.load(SeqCst) as i32);
            if kind == StallKind::Cpu && !ran_enough(self.cpu_mark, thread_cpu_ns(pthread)) {
                return;
            }
            // When the P last scheduled, read before the report (its first symbolization
            // can take a while).
            let began_ns = crate::rt::timer::clock::now_ns().saturating_sub(stuck_ns);
            let r = report(shared, p, goid, d, false);
            if lim.line_ns > 0 {
                eprintln!("{}", r.text);
            }
            self.episode = open(shared, p, goid, began_ns, &r);
        }
        let dump_due = lim.line_ns > 0
            && lim.dump_ns > 0
            && stuck_ns >= lim.dump_ns.max(lim.line_ns)
            && !self.dumped;
        if dump_due || error_due {
            let r = report(shared, p, goid, d, true);
            if dump_due {
                self.dumped = true;
                eprintln!("{}", r.text);
            }
            if error_due {
                self.errored = true;
                shared.declare_stall(r.text);
            }
        }
    }
}

/// One stall episode, as the log keeps it.
#[derive(Clone, Debug)]
pub(crate) struct Episode {
    pub(crate) id: u64,
    pub(crate) goid: u64,
    /// The P's index in its runtime.
    pub(crate) p: usize,
    pub(crate) kind: StallKind,
    /// The culprit's location ("file:line (fn)"), if found.
    pub(crate) at: Option<String>,
    /// The report's first line.
    pub(crate) line: String,
    /// When the P last scheduled, and when it scheduled again (timer-clock ns).
    pub(crate) began_ns: u64,
    pub(crate) ended_ns: Option<u64>,
    /// How long the P had been stalled when the episode was recorded (its trace event).
    pub(crate) lead_ns: u64,
    key: Key,
}

impl Episode {
    /// How long the P has been stalled (up to now while the episode is open).
    pub(crate) fn duration_ns(&self, now_ns: u64) -> u64 {
        self.ended_ns
            .unwrap_or(now_ns)
            .saturating_sub(self.began_ns)
    }
}

/// What the profile groups episodes by: kind, culprit location, culprit's creation site.
type Key = (
    StallKind,
    Option<String>,
    Option<&'static Location<'static>>,
);

struct Total {
    count: u64,
    closed_ns: u64,
    /// The address looked up for the culprit in the first episode of the group (0: none).
    addr: usize,
}

struct Log {
    next_id: u64,
    open: Vec<Episode>,
    closed: VecDeque<Episode>,
    totals: BTreeMap<Key, Total>,
}

static LOG: Mutex<Log> = Mutex::new(Log {
    next_id: 1,
    open: Vec::new(),
    closed: VecDeque::new(),
    totals: BTreeMap::new(),
});

fn log() -> std::sync::MutexGuard<'static, Log> {
    LOG.lock().unwrap_or_else(|e| e.into_inner())
}

/// Records a reported episode: the log, the runtime's count and a trace event. Returns its id.
/// `began_ns`: when the P last scheduled (timer clock).
fn open(shared: &Shared, p: &P, goid: u64, began_ns: u64, r: &Report) -> u64 {
    let key: Key = (r.kind, r.at.as_ref().map(|a| a.0.clone()), r.created_at);
    let now = crate::rt::timer::clock::now_ns();
    let mut l = log();
    let id = l.next_id;
    l.next_id += 1;
    let t = l.totals.entry(key.clone()).or_insert(Total {
        count: 0,
        closed_ns: 0,
        addr: r.at.as_ref().map_or(0, |a| a.1),
    });
    t.count += 1;
    l.open.push(Episode {
        id,
        goid,
        p: p.id,
        kind: r.kind,
        at: key.1.clone(),
        line: r.line().to_string(),
        began_ns,
        ended_ns: None,
        lead_ns: now.saturating_sub(began_ns),
        key,
    });
    drop(l);
    shared.stall_reports.fetch_add(1, Relaxed);
    crate::rt::exectrace::stall_begin(goid, id, p.trace_track.load(Relaxed), r.kind as u8);
    id
}

/// Ends episode `id`.
fn close(id: u64) {
    let now = crate::rt::timer::clock::now_ns();
    let mut l = log();
    let Some(i) = l.open.iter().position(|e| e.id == id) else {
        return;
    };
    let mut e = l.open.swap_remove(i);
    e.ended_ns = Some(now);
    if let Some(t) = l.totals.get_mut(&e.key) {
        t.closed_ns += e.duration_ns(now);
    }
    let (goid, kind) = (e.goid, e.kind);
    if l.closed.len() == RECENT {
        l.closed.pop_front();
    }
    l.closed.push_back(e);
    drop(l);
    crate::rt::exectrace::stall_end(goid, id, kind as u8);
}

/// Episode `id`, if the log still has it (open, or among the last closed ones).
pub(crate) fn episode(id: u64) -> Option<Episode> {
    let l = log();
    l.open
        .iter()
        .chain(l.closed.iter())
        .find(|e| e.id == id)
        .cloned()
}

/// One group of the stall profile.
pub(crate) struct Entry {
    pub(crate) kind: StallKind,
    /// The code address the culprit's location was looked up at (0: none found).
    pub(crate) addr: usize,
    pub(crate) created_at: Option<&'static Location<'static>>,
    pub(crate) count: u64,
    /// Closed episodes' whole length, plus open ones' up to now.
    pub(crate) total_ns: u64,
}

/// The stall profile's groups, from every runtime of the process.
pub(crate) fn entries() -> Vec<Entry> {
    let now = crate::rt::timer::clock::now_ns();
    let l = log();
    l.totals
        .iter()
        .map(|(k, t)| Entry {
            kind: k.0,
            addr: t.addr,
            created_at: k.2,
            count: t.count,
            total_ns: t.closed_ns
                + l.open
                    .iter()
                    .filter(|e| &e.key == k)
                    .map(|e| e.duration_ns(now))
                    .sum::<u64>(),
        })
        .collect()
}

/// The number of stall episodes reported so far in the current runtime (the process-wide one
/// outside goroutines): a goroutine that kept its P's thread for `GODEBUG=stalltrace`
/// milliseconds (default 100) while other goroutines waited for that P. The
/// `GODEBUG=schedtrace` lines end with ` stalls=N` once there are any, and
/// `gort::prof::lookup("stall")` lists them by culprit.
///
/// ```
/// let rt = gort::Builder::new().gomaxprocs(1).build().unwrap();
/// rt.block_on(|| {
///     let beside = gort::go(|| gort::time::sleep(std::time::Duration::from_millis(1)));
///     assert_eq!(gort::debug::num_stalls(), 0);
///     beside.join().unwrap();
/// });
/// ```
pub fn num_stalls() -> u64 {
    match super::park::ctx() {
        Some(c) => c.shared().stall_reports.load(Relaxed),
        None => super::runtime::default_runtime()
            .shared
            .stall_reports
            .load(Relaxed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runnable_thread_must_have_run_to_be_a_cpu_loop() {
        assert!(ran_enough(Some(5), Some(5 + MIN_CPU_NS)));
        assert!(!ran_enough(Some(5), Some(4 + MIN_CPU_NS)));
        assert!(ran_enough(None, Some(1)) && ran_enough(Some(1), None));
        // This thread's own clock advances as it runs.
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() } as usize;
        let a = thread_cpu_ns(me).expect("a thread CPU clock");
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_millis(30) {
            std::hint::black_box(t0.elapsed());
        }
        let b = thread_cpu_ns(me).unwrap();
        assert!(b > a, "{a} {b}");
        assert_eq!(thread_cpu_ns(0), None);
    }

    #[test]
    fn the_kernel_state_names_the_kind() {
        let futex = libc::SYS_futex.to_string();
        assert_eq!(classify("R", "0", "running").0, StallKind::Cpu);
        assert_eq!(classify("S", "futex_wait_queue", "").0, StallKind::Futex);
        // Without a readable wait channel, the system call number says it.
        let line = format!("{futex} 0x7f 0x80 0x0");
        assert_eq!(classify("S", "0", &line).0, StallKind::Futex);
        let (k, s) = classify("S", "do_sys_poll\n", "7 0x1");
        assert_eq!(
            (k, s.as_str()),
            (StallKind::Syscall, "blocked in the kernel: do_sys_poll")
        );
        assert_eq!(classify("S", "", "0 0x1").0, StallKind::Syscall);
        assert_eq!(classify("D", "", "-1 0x0").0, StallKind::Other);
        for k in 0..4u8 {
            assert_eq!(StallKind::from_u8(k) as u8, k);
        }
    }
}
