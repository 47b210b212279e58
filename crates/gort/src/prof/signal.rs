//! The SIGPROF handler: one CPU sample per signal, written into the ring buffer.
//!
//! What the handler touches, and why each is async-signal-safe:
//! * `ACTIVE`, a static atomic (relaxed load);
//! * the interrupted registers, from the kernel-provided `ucontext_t`;
//! * the thread's current-goroutine record (`rt/current.rs`: the running goroutine's id, stack
//!   bounds and label set, the thread's cached stack bounds), a const-initialised
//!   thread-local without a destructor: a plain TLS read, no lazy initialisation, no
//!   destructor registration, no allocation;
//! * stack memory between the interrupted stack pointer and the top of the stack it lies in
//!   (`alloc::fpwalk::walk` reads nothing else), which is mapped and readable;
//! * the ring buffer (`ring.rs`): static atomics, no waiting.
//!
//! It takes no lock and calls no libc function, so it cannot deadlock against the code it
//! interrupted (malloc, a mutex holder, the collector) and leaves `errno` alone. The handler
//! stays installed for the life of the process once profiling has been used: a SIGPROF that
//! arrives after profiling stopped (one already pending when the timers were deleted) finds
//! `ACTIVE` false and returns, where the default action would kill the process.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Once;

use super::ring::{self, CPU_DEPTH};

/// Whether samples are being recorded.
pub(crate) static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Installs the handler once per process.
pub(crate) fn install() -> io::Result<()> {
    static ONCE: Once = Once::new();
    let mut res = Ok(());
    ONCE.call_once(|| {
        // SAFETY: `sa` is fully initialised (zeroed, then the fields we use); the handler is
        // an `extern "C"` function with the SA_SIGINFO signature and is async-signal-safe (see
        // the module comment).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART | libc::SA_ONSTACK;
            libc::sigemptyset(&mut sa.sa_mask);
            // gort's handlers never nest on the alternate stack: the stall capture's SIGURG
            // waits until this one returns (and this one for it: `rt/sched/stall.rs`).
            libc::sigaddset(&mut sa.sa_mask, libc::SIGURG);
            if libc::sigaction(libc::SIGPROF, &sa, std::ptr::null_mut()) != 0 {
                res = Err(io::Error::last_os_error());
            }
        }
    });
    res
}

/// `(pc, fp, sp)` of the interrupted code.
///
/// # Safety
/// `uctx` is the `ucontext_t` pointer the kernel passed to an SA_SIGINFO handler.
unsafe fn registers(uctx: *mut libc::c_void) -> (usize, usize, usize) {
    // SAFETY: per the contract, `uctx` points at a valid ucontext_t for this signal.
    let uc = unsafe { &*(uctx as *const libc::ucontext_t) };
    #[cfg(target_arch = "x86_64")]
    {
        let g = &uc.uc_mcontext.gregs;
        (
            g[libc::REG_RIP as usize] as usize,
            g[libc::REG_RBP as usize] as usize,
            g[libc::REG_RSP as usize] as usize,
        )
    }
    #[cfg(target_arch = "aarch64")]
    {
        let m = &uc.uc_mcontext;
        (m.pc as usize, m.regs[29] as usize, m.sp as usize)
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let _ = uc;
        (0, 0, 0)
    }
}

extern "C" fn handler(_sig: libc::c_int, _info: *mut libc::siginfo_t, uctx: *mut libc::c_void) {
    if !ACTIVE.load(Relaxed) || uctx.is_null() {
        return;
    }
    // SAFETY: the kernel passes a valid ucontext_t to an SA_SIGINFO handler.
    let (pc, fp, sp) = unsafe { registers(uctx) };
    let mut pcs = [0usize; CPU_DEPTH];
    pcs[0] = pc;
    let mut n = 1;
    // The goroutine's stack (or the thread's own, cached when the thread registered for
    // profiling, `rt/hooks/cputimer.rs`), and the thread's own.
    let (glo, ghi) = crate::alloc::fpwalk::declared_bounds();
    let (tlo, thi) = crate::rt::current::thread_stack();
    let hi = if glo <= sp && sp < ghi {
        ghi
    } else if tlo <= sp && sp < thi {
        thi
    } else {
        0 // unknown stack (an alternate signal stack, a coroutine switch in progress)
    };
    if hi != 0 {
        let mut rest = [0usize; CPU_DEPTH - 1];
        let k = crate::alloc::fpwalk::walk_from(Some(pc), sp, fp, hi, &mut rest);
        pcs[1..=k].copy_from_slice(&rest[..k]);
        n += k;
    }
    ring::push(
        crate::rt::current::goid(),
        super::labels::current_id(),
        &pcs[..n],
    );
}
