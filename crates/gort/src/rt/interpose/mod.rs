//! Interposition: libc calls that Rust code makes to block a thread, made to park the calling
//! goroutine instead, so std's and crates' blocking calls do not freeze a P.
//!
//! # The problem
//!
//! A started goroutine never leaves its OS thread (DESIGN.md section 1), so a call that blocks
//! the *thread* freezes every goroutine homed on its P. Rust programs call such functions all
//! the time without knowing a runtime is there: `std::thread::sleep` in a retry loop, a
//! crate's back-off. Measured before this module: 1,000 goroutines calling
//! `std::thread::sleep(10ms)` at GOMAXPROCS=2 took 5.23 s (gort's own sleep: 23 ms), and a
//! 5 ms heartbeat goroutine on the same P saw gaps of 74 ms.
//!
//! # How
//!
//! gort defines the libc entry points itself (`#[no_mangle] extern "C"`), as libgo and
//! open-coroutine do. Rust's std and every crate are linked statically into the executable,
//! so their calls bind to gort's definitions at link time; libc's own copies stay in place
//! for everything else. Each definition asks one question, *is the caller a goroutine of a
//! runtime that has interposition on?* (one thread-local read and one flag), and if not does
//! exactly what libc does, through the raw system call. If so, it does the same thing with
//! gort's primitives: a sleep parks on gort's timer heap (so the P runs other goroutines and
//! a synctest bubble's fake clock applies, as it does to `gort::time::sleep`).
//!
//! What is interposed: the sleep family (`sleep.rs`: `clock_nanosleep`, which std's
//! `thread::sleep` calls, `nanosleep`, `usleep`, `sleep`) and socket I/O (`socket.rs`:
//! `recv`/`send` and their `from`/`to`/`msg` forms, `read`/`write`/`readv`/`writev` on
//! sockets, `accept`/`accept4`, `connect`, `poll`): a `MSG_DONTWAIT` attempt, then a wait on
//! the netpoller, honouring `O_NONBLOCK` and `SO_RCVTIMEO`/`SO_SNDTIMEO`, so a descriptor's
//! blocking mode as other threads see it never changes. Name resolution (`resolve.rs`:
//! `getaddrinfo`, which `ToSocketAddrs` and `TcpStream::connect("host:port")` call) runs on the
//! blocking pool: it has no descriptor to wait on, and its per-thread resolver state is the
//! pool thread's. Not interposed: calls made from C libraries (they bind to libc's symbols
//! through the dynamic linker).
//!
//! What may be interposed, and what may not. A call may park the goroutine only if it keeps
//! no per-thread state that a second goroutine of the same thread could disturb while the
//! first is parked. A sleep keeps none (its only state is the caller's `timespec`), nor does a
//! socket operation (its state is the kernel's, per descriptor). Futex waits,
//! `std::thread::park`, std's and parking_lot's mutexes and condvars keep per-thread state
//! (`thread::current()`'s parker, parking_lot's thread data): parking two goroutines of one
//! thread on them would have the second overwrite the first's, so they stay thread-blocking,
//! and the stall reports (`rt/sched/stall.rs`) name them instead.
//!
//! Switches: the `interpose` cargo feature (on by default; `default-features = false` builds
//! without any of these symbols), and `GODEBUG=interpose=0` (or `Builder::godebug`), per
//! runtime, which makes every interposed call behave as libc's. Only glibc Linux builds that
//! link libc dynamically define them (a static glibc would see two definitions).
//!
//! # Rejected alternatives
//!
//! * *`LD_PRELOAD` a shared library*: the user would have to set it for every run, and it
//!   would also catch calls from C libraries whose callers gort knows nothing about.
//! * *Calling the real function through `dlsym(RTLD_NEXT)`*: works, but needs a constructor
//!   and a failure path; the system call is what libc's wrapper does anyway (glibc's
//!   `clock_nanosleep` is a thin wrapper around it). `getaddrinfo`, which is no system call,
//!   is the exception: looked up once, on its first call.
//! * *Interposing futex or `pthread_cond_wait`*: unsound, see above.
//!
//! # Invariants
//!
//! * An interposed call made outside a goroutine, or in a runtime with `interpose=0`, does
//!   what libc's does, with the same return values and `errno`.
//! * gort's own code never reaches an interposed call while it must not park (a signal
//!   handler, a spin lock held): the runtime's sleeps outside goroutines go to the thread's
//!   sleep, which is the real call there.

pub(crate) mod resolve;
pub(crate) mod sleep;
pub(crate) mod socket;

/// True when an interposed call made here may park: the caller is a goroutine of a runtime
/// whose `GODEBUG=interpose` is on.
#[inline]
pub(crate) fn may_park() -> bool {
    crate::rt::sched::park::ctx().is_some_and(|c| c.g().is_some() && c.shared().godebug.interpose)
}

/// Keeps the interposed definitions in the link: a runtime's construction calls this, so the
/// object holding them is always part of a program that runs goroutines.
#[inline(never)]
pub(crate) fn link() {
    resolve::link();
    sleep::link();
    socket::link();
}

/// Sets the calling thread's `errno`.
pub(crate) fn set_errno(e: libc::c_int) {
    // SAFETY: `__errno_location` returns the calling thread's errno slot, always valid.
    unsafe { *libc::__errno_location() = e };
}
