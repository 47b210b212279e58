//! `getaddrinfo(3)` from a goroutine runs on the blocking pool.
//!
//! Name resolution reads `/etc/hosts` and `/etc/nsswitch.conf`, may load NSS modules and may
//! wait seconds for a DNS server: a blocking call with no descriptor the netpoller could wait
//! on. Called from a goroutine (and `GODEBUG=interpose` on), the real function runs on a
//! blocking-pool thread while the goroutine parks, as Go's cgo resolver runs on a thread of
//! its own; elsewhere it is the real call, on the calling thread. Its per-thread state (the
//! resolver's `_res`) is the pool thread's, as it would be any thread's: nothing is shared
//! between goroutines of one thread. The result list is malloc'd, and `freeaddrinfo` frees it
//! from any thread.
//!
//! There is no system call behind it, so the real function is found with
//! `dlsym(RTLD_NEXT, "getaddrinfo")` (libc's, past this definition), once, on the first call.

use std::ffi::c_char;
use std::sync::OnceLock;

use libc::{addrinfo, c_int};

use super::{may_park, set_errno};

type Gai = unsafe extern "C" fn(
    *const c_char,
    *const c_char,
    *const addrinfo,
    *mut *mut addrinfo,
) -> c_int;

/// libc's `getaddrinfo`, past this definition; `None` if the loader finds none.
fn real() -> Option<Gai> {
    static REAL: OnceLock<usize> = OnceLock::new();
    // SAFETY: dlsym with RTLD_NEXT and a valid C string; it only looks the symbol up.
    let p = *REAL
        .get_or_init(|| unsafe { libc::dlsym(libc::RTLD_NEXT, c"getaddrinfo".as_ptr()) } as usize);
    // SAFETY: a non-null `getaddrinfo` symbol of libc is a function with this signature.
    (p != 0).then(|| unsafe { std::mem::transmute::<usize, Gai>(p) })
}

/// Arguments the blocking pool may carry: the caller is parked until the call returns, so
/// what they point at stays valid and untouched.
#[derive(Clone, Copy)]
struct Carried(usize, usize, usize, usize);

/// `getaddrinfo(3)`.
///
/// # Safety
/// libc's contract for `getaddrinfo`.
#[no_mangle]
pub unsafe extern "C" fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const addrinfo,
    res: *mut *mut addrinfo,
) -> c_int {
    let Some(real) = real() else {
        set_errno(libc::ENOSYS);
        return libc::EAI_SYSTEM;
    };
    if !may_park() {
        // SAFETY: the caller's contract.
        return unsafe { real(node, service, hints, res) };
    }
    let a = Carried(
        node as usize,
        service as usize,
        hints as usize,
        res as usize,
    );
    let (rc, e) = crate::rt::sched::blocking::blocking(move || {
        let a = a;
        // SAFETY: the caller's arguments, valid while it is parked for this call.
        let rc = unsafe {
            real(
                a.0 as *const c_char,
                a.1 as *const c_char,
                a.2 as *const addrinfo,
                a.3 as *mut *mut addrinfo,
            )
        };
        // SAFETY: `__errno_location` returns this thread's errno slot.
        (rc, unsafe { *libc::__errno_location() })
    });
    if rc == libc::EAI_SYSTEM {
        set_errno(e);
    }
    rc
}

/// Keeps the definition in the link (see `super::link`).
pub(crate) fn link() {
    std::hint::black_box(getaddrinfo as *const ());
}
