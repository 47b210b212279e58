//! Goroutine stack overflow: from a SIGSEGV in a guard page to `goroutine N stack overflow`.
//!
//! When a goroutine runs past the bottom of its stack it touches the `PROT_NONE` guard page and
//! the kernel raises SIGSEGV (SIGBUS on some systems) at the faulting address. Our handler:
//!
//! 1. runs on the thread's **alternate signal stack** (`SA_ONSTACK`): the goroutine stack is
//!    exhausted, so the kernel could not push a signal frame there, and without an alternate
//!    stack the process would die silently. Threads made by `std::thread` get one from std;
//!    runtime worker threads call [`ensure_sigaltstack`] to be sure;
//! 2. reads the guard range and goroutine id of the goroutine running on *this* thread from
//!    thread-local atomics that the scheduler sets around every switch ([`set_current`],
//!    [`clear_current`]);
//! 3. if the fault address lies in that guard page, writes `goroutine N stack overflow` and a
//!    hint to stderr with raw `write(2)` and calls `abort()`;
//! 4. otherwise chains to the handler that was installed before ours (Rust's std installs one
//!    that reports overflow of *thread* stacks), or, if there was none, restores the default
//!    action and returns, so the faulting instruction runs again and kills the process the usual
//!    way.
//!
//! # Signal safety
//!
//! The handler may interrupt anything, including `malloc` holding its lock. It therefore
//! allocates nothing, takes no lock, and formats integers by hand into a buffer on the
//! (alternate) stack. The thread-locals it reads are `const`-initialised and have no destructor,
//! so on Linux reading them is a plain `%fs`-relative load: no lazy initialisation, no
//! registration. They are atomics (Relaxed) separated by `compiler_fence`s rather than `Cell`s:
//! a signal handler on the same thread is exactly the case `compiler_fence` orders, and the
//! writer clears `hi` first and sets it last, so a fault in the middle of [`set_current`] sees
//! an empty range, never a half-written one.
//!
//! # Limits
//!
//! The guard is one page. Rust emits stack probes for frames larger than a page, so Rust code
//! always hits it; C code built without `-fstack-clash-protection` that allocates a frame over a
//! page could jump past it into whatever mapping lies below (usually another stack's top),
//! which no guard page size can rule out entirely.

use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::atomic::Ordering;
use std::sync::Once;

use super::page_size;
#[cfg(test)]
use super::GoStack;

/// Test support: pretends goroutine `goid`, whose stack's guard page is `[guard_lo,
/// guard_hi)` and whose usable size is `stack_size` (0 = unknown), runs on this thread (the
/// scheduler does this with the goroutine's own record at every switch-in). The record is
/// leaked: it must outlive the thread's use of it.
#[cfg(test)]
pub(crate) fn set_current(guard_lo: usize, guard_hi: usize, goid: u64, stack_size: usize) {
    let g: &'static crate::rt::current::CurG =
        Box::leak(Box::new(crate::rt::current::CurG::new(goid)));
    g.set_stack(guard_lo, guard_hi, stack_size);
    crate::rt::current::switch_in(g);
}

/// Like [`set_current`], taking the range and size from the stack itself.
#[cfg(test)]
pub(crate) fn set_current_stack(stack: &GoStack, goid: u64) {
    let (lo, hi) = stack.guard_range();
    set_current(lo, hi, goid, stack.usable_size());
}

/// Test support: no goroutine runs on this thread.
#[cfg(test)]
pub(crate) fn clear_current() {
    crate::rt::current::switch_out();
}

/// `(guard_lo, guard_hi, goid, stack_size)` of the goroutine on this thread, if any, from the
/// thread's current-goroutine record. Async-signal-safe.
fn current() -> Option<(usize, usize, u64, usize)> {
    let g = crate::rt::current::curg()?;
    let hi = g.guard_hi.load(Ordering::Relaxed);
    if hi == 0 {
        return None;
    }
    Some((
        g.guard_lo.load(Ordering::Relaxed),
        hi,
        g.goid,
        g.stack_size.load(Ordering::Relaxed),
    ))
}

const SIGNALS: [libc::c_int; 2] = [libc::SIGSEGV, libc::SIGBUS];

/// The actions installed before ours, one per entry of `SIGNALS`.
struct PrevActions(std::cell::UnsafeCell<[MaybeUninit<libc::sigaction>; 2]>);

// SAFETY: written only inside INSTALL.call_once, each slot before our handler for that signal is
// installed (so before any thread can run the handler that reads it), and never written again.
unsafe impl Sync for PrevActions {}

static PREV: PrevActions = PrevActions(std::cell::UnsafeCell::new([MaybeUninit::uninit(); 2]));
static INSTALL: Once = Once::new();

/// Installs the SIGSEGV and SIGBUS handler that reports goroutine stack overflows. Idempotent.
pub(crate) fn install_overflow_handler() {
    INSTALL.call_once(|| {
        for (i, &sig) in SIGNALS.iter().enumerate() {
            // SAFETY: only this closure (run once) writes PREV; see PrevActions.
            let slot = unsafe { &mut (*PREV.0.get())[i] };
            // SAFETY: querying the current action into valid, writable memory.
            let rc = unsafe { libc::sigaction(sig, ptr::null(), slot.as_mut_ptr()) };
            assert_eq!(rc, 0, "sigaction query failed");

            // SAFETY: an all-zero sigaction is a valid value (empty mask, no flags).
            let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
            act.sa_sigaction = handler as *const () as libc::sighandler_t;
            act.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            // SAFETY: `act.sa_mask` is valid memory for sigemptyset.
            unsafe { libc::sigemptyset(&mut act.sa_mask) };
            // No profiling sample or stall capture on top of the overflow report.
            // SAFETY: as above.
            unsafe {
                libc::sigaddset(&mut act.sa_mask, libc::SIGPROF);
                libc::sigaddset(&mut act.sa_mask, libc::SIGURG);
            }
            // SAFETY: installs a handler that is async-signal-safe (see the module docs) and
            // reads PREV[i], which was initialised above.
            let rc = unsafe { libc::sigaction(sig, &act, ptr::null_mut()) };
            assert_eq!(rc, 0, "sigaction install failed");
        }
    });
}

/// The signal handler. Async-signal-safe: no allocation, no locks.
extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t for SA_SIGINFO handlers. si_addr is
    // meaningful when si_code > 0 (a kernel-generated fault, not kill/tkill/sigqueue).
    let addr = unsafe {
        if !info.is_null() && (*info).si_code > 0 {
            Some((*info).si_addr() as usize)
        } else {
            None
        }
    };
    if let (Some(addr), Some((lo, hi, goid, size))) = (addr, current()) {
        if lo <= addr && addr < hi {
            report_overflow(goid, size);
            // SAFETY: abort is async-signal-safe and does not return.
            unsafe { libc::abort() };
        }
    }
    let Some(i) = SIGNALS.iter().position(|&s| s == sig) else {
        return;
    };
    // SAFETY: PREV[i] was initialised before this handler was installed for `sig`.
    let prev = unsafe { (*PREV.0.get())[i].assume_init_ref() };
    let action = prev.sa_sigaction;
    if action == libc::SIG_DFL || action == libc::SIG_IGN {
        // Nobody else wants it: restore the default and return; the faulting instruction runs
        // again and the default action (a core-dumping SIGSEGV/SIGBUS) happens. A synchronous
        // fault cannot be ignored, so SIG_IGN gets the same treatment.
        // SAFETY: an all-zero sigaction with SIG_DFL is a valid value; sigaction is
        // async-signal-safe.
        unsafe {
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &dfl, ptr::null_mut());
        }
    } else if prev.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: with SA_SIGINFO, sa_sigaction holds a function of this signature (that is the
        // contract of the code that installed it); we forward our own arguments unchanged.
        unsafe {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                std::mem::transmute(action);
            f(sig, info, ctx);
        }
    } else {
        // SAFETY: without SA_SIGINFO, sa_sigaction holds a plain `void (*)(int)` handler.
        unsafe {
            let f: extern "C" fn(libc::c_int) = std::mem::transmute(action);
            f(sig);
        }
    }
}

/// Writes the overflow report to fd 2. Signal-safe.
fn report_overflow(goid: u64, stack_size: usize) {
    let mut num = [0u8; 20];
    write_stderr(b"goroutine ");
    write_stderr(format_u64(goid, &mut num));
    write_stderr(b" stack overflow\n");
    if stack_size != 0 {
        write_stderr(b"fatal error: stack overflow (goroutine stack size is ");
        write_stderr(format_u64((stack_size / 1024) as u64, &mut num));
        write_stderr(b" KiB; raise it with gort::Builder::stack_size)\n");
    } else {
        write_stderr(b"fatal error: stack overflow (raise the goroutine stack size with gort::Builder::stack_size)\n");
    }
}

/// `write(2, ...)` until done, retrying on EINTR and short writes. Signal-safe.
fn write_stderr(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: bytes is a valid readable slice for its length.
        // (The system call itself: libc's `write` symbol is gort's interposed one, which may
        // park a goroutine; this runs in a signal handler.)
        let n = unsafe { libc::syscall(libc::SYS_write, 2, bytes.as_ptr(), bytes.len()) } as isize;
        if n > 0 {
            bytes = &bytes[n as usize..];
        } else if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        } else {
            return;
        }
    }
}

/// Formats `n` in decimal into `buf`, returning the digits. No allocation.
fn format_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// Minimum size of the alternate signal stacks we map. Our handler needs little, but the
/// handler we chain to (std's) and the kernel's signal frame (several KiB with AVX-512, more
/// with AMX) need more.
const ALTSTACK_MIN: usize = 32 * 1024;

/// An alternate signal stack mapped by [`ensure_sigaltstack`]; unregistered and unmapped when
/// its thread exits.
struct AltStack {
    /// Start of the mapping (the guard page).
    map: *mut libc::c_void,
    map_len: usize,
    /// The registered part: everything above the guard page.
    sp: *mut libc::c_void,
    size: usize,
}

impl Drop for AltStack {
    fn drop(&mut self) {
        // SAFETY: stack_t is plain data; all-zero is valid. sigaltstack only reads/writes it.
        unsafe {
            let mut cur: libc::stack_t = std::mem::zeroed();
            libc::sigaltstack(ptr::null(), &mut cur);
            if cur.ss_flags & libc::SS_DISABLE == 0 && cur.ss_sp == self.sp {
                let off = libc::stack_t {
                    ss_sp: ptr::null_mut(),
                    ss_flags: libc::SS_DISABLE,
                    ss_size: self.size,
                };
                libc::sigaltstack(&off, ptr::null_mut());
            }
        }
        // SAFETY: the mapping is ours and no longer registered as this thread's signal stack
        // (disabled above, or replaced by someone else's), so no signal frame can be on it.
        unsafe { libc::munmap(self.map, self.map_len) };
    }
}

thread_local! {
    // Owns the alternate signal stack we mapped for this thread, if any. Not read by the
    // handler; its destructor unmaps the stack at thread exit.
    static ALTSTACK: RefCell<Option<AltStack>> = const { RefCell::new(None) };
}

/// Makes sure this thread has an alternate signal stack, so the overflow handler can run after
/// a goroutine exhausted its stack. Runtime worker threads call it once when they start. Returns
/// whether the thread has one afterwards (false only if mapping one failed; overflow then still
/// kills the process, just without the message).
///
/// Threads from `std::thread` usually have one already (std maps one when it installs its own
/// SIGSEGV handler), and then this does nothing. Otherwise it maps `ALTSTACK_MIN` bytes (or
/// the kernel's `AT_MINSIGSTKSZ` if larger) plus a guard page: two more mappings per worker
/// thread. The stack is unregistered and unmapped by a thread-local destructor at thread exit,
/// so threads that come and go do not leak; a signal arriving during thread teardown after that
/// destructor ran finds no alternate stack, as on a thread that never called this.
pub(crate) fn ensure_sigaltstack() -> bool {
    // SAFETY: stack_t is plain data; all-zero is valid; sigaltstack writes the current setting.
    let mut cur: libc::stack_t = unsafe { std::mem::zeroed() };
    // SAFETY: querying into valid memory.
    if unsafe { libc::sigaltstack(ptr::null(), &mut cur) } != 0 {
        return false;
    }
    #[cfg(target_os = "linux")]
    // SAFETY: getauxval has no preconditions; it returns 0 for unknown entries.
    let kernel_min = unsafe { libc::getauxval(libc::AT_MINSIGSTKSZ) } as usize;
    #[cfg(not(target_os = "linux"))]
    let kernel_min = 0;
    let need = ALTSTACK_MIN.max(libc::SIGSTKSZ).max(kernel_min);
    // std's own alternate stack (SIGSTKSZ, 8 KiB) is too small for gort's handlers where
    // the kernel's signal frame is large (AT_MINSIGSTKSZ 3376 bytes on the EPYC VM: a SIGPROF
    // walk in a debug build nested in another handler overflowed it): replace it with ours. std's memory stays mapped until its thread-exit
    // cleanup, which disables whatever stack is registered then and unmaps its own.
    if cur.ss_flags & libc::SS_DISABLE == 0 && cur.ss_size >= need {
        return true;
    }

    let page = page_size();
    let size = need;
    let size = (size + page - 1) & !(page - 1);
    let map_len = size + page;
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK;
    // SAFETY: a fresh anonymous mapping aliases nothing; checked for MAP_FAILED below.
    let map = unsafe {
        libc::mmap(
            ptr::null_mut(),
            map_len,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            -1,
            0,
        )
    };
    if map == libc::MAP_FAILED {
        return false;
    }
    // SAFETY: `map + page` is inside our fresh mapping of `size + page` bytes.
    let sp = unsafe { map.cast::<u8>().add(page).cast::<libc::c_void>() };
    // Owning it now means every early return below unmaps it.
    let alt = AltStack {
        map,
        map_len,
        sp,
        size,
    };
    // SAFETY: the first page of our own fresh mapping becomes the guard.
    if unsafe { libc::mprotect(map, page, libc::PROT_NONE) } != 0 {
        return false;
    }
    let st = libc::stack_t {
        ss_sp: sp,
        ss_flags: 0,
        ss_size: size,
    };
    // SAFETY: `st` describes memory we own and keep mapped until AltStack's Drop unregisters it.
    if unsafe { libc::sigaltstack(&st, ptr::null_mut()) } != 0 {
        return false; // `alt` drops: not registered, just unmapped
    }
    ALTSTACK.with(|a| *a.borrow_mut() = Some(alt));
    true
}

#[cfg(test)]
mod tests;
