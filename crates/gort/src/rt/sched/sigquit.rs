//! SIGQUIT dumps every goroutine and exits with status 2, as a Go program does.
//!
//! The handler only writes one byte to a pipe (async-signal-safe); a dedicated thread reads it
//! and does the printing with normal Rust code.

use std::sync::atomic::AtomicI32;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, Once, Weak};

use crate::rt::sched::runtime::Shared;

static RUNTIMES: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());
static PIPE_W: AtomicI32 = AtomicI32::new(-1);
static INSTALL: Once = Once::new();

extern "C" fn on_sigquit(_sig: libc::c_int) {
    let fd = PIPE_W.load(Relaxed);
    if fd >= 0 {
        let b = 1u8;
        // SAFETY: write(2) is async-signal-safe; `b` is a valid one-byte buffer.
        // (The system call: libc's `write` symbol is gort's interposed one, rt/interpose/.)
        unsafe { libc::syscall(libc::SYS_write, fd, &b as *const u8, 1) };
    }
}

fn install() {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return;
    }
    PIPE_W.store(fds[1], Relaxed);
    let rfd = fds[0];
    let spawned = std::thread::Builder::new()
        .name("gort-sigquit".into())
        .spawn(move || {
            let mut b = 0u8;
            loop {
                // SAFETY: reading one byte into a valid buffer from a pipe we own.
                match unsafe { libc::read(rfd, &mut b as *mut u8 as *mut libc::c_void, 1) } {
                    1 => dump_all_and_exit(),
                    -1 if std::io::Error::last_os_error().kind()
                        == std::io::ErrorKind::Interrupted => {}
                    _ => return,
                }
            }
        });
    if spawned.is_err() {
        return;
    }
    // SAFETY: installing a handler that only calls write(2); sigaction is given a zeroed,
    // then filled, struct that lives across the call.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigquit as extern "C" fn(libc::c_int) as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGQUIT, &sa, std::ptr::null_mut());
    }
}

fn dump_all_and_exit() -> ! {
    let mut out = String::from("SIGQUIT: quit\n\n");
    for rt in RUNTIMES.lock().unwrap().iter().filter_map(Weak::upgrade) {
        out.push_str(&super::traceback::dump(&rt));
        out.push('\n');
    }
    eprint!("{out}");
    std::process::exit(2);
}

/// Adds a runtime to the set SIGQUIT dumps (installing the handler on first use).
pub(crate) fn register(shared: &Arc<Shared>) {
    INSTALL.call_once(install);
    let mut v = RUNTIMES.lock().unwrap();
    v.retain(|w| w.strong_count() > 0);
    v.push(Arc::downgrade(shared));
}

/// Removes a runtime that is shutting down.
pub(crate) fn unregister(shared: &Arc<Shared>) {
    RUNTIMES
        .lock()
        .unwrap()
        .retain(|w| w.strong_count() > 0 && !std::ptr::eq(w.as_ptr(), Arc::as_ptr(shared)));
}
