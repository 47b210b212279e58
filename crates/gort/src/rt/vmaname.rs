//! `GODEBUG=decoratemappings` (Go 1.25, on by default): names gort's anonymous mappings with
//! `prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, addr, len, name)`, so `/proc/PID/maps` and
//! `smaps` show `[anon: gort goroutine stack]` and `[anon: gort gc span]` where Go shows
//! `[anon: Go: heap]` and the like. `decoratemappings=0` turns it off.
//!
//! Only whole mappings are named, right after they are made (a stack batch before its guard
//! pages are protected, a GC arena or large-object mapping after its alignment trim): naming
//! part of a mapping splits it, which would raise the process's mapping count and break the
//! stack headroom accounting (`stack/headroom.rs` counts [`mappings_per_stack`] per stack).
//!
//! Kernels built without `CONFIG_ANON_VMA_NAME` (and other systems) refuse with `EINVAL`: the
//! first refusal turns naming off for the process, silently, as in Go. The setting is read
//! from the environment once, at the first mapping (gort's mappings are made before and
//! outside any runtime's `Builder`).
//!
//! [`mappings_per_stack`]: crate::rt::stack::mappings_per_stack

use std::ffi::CStr;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

const UNKNOWN: u8 = 0;
const ON: u8 = 1;
const OFF: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);

/// The name of goroutine stack mappings. Names start with a space, as Go's (" Go: heap"), so
/// the kernel's `[anon:%s]` reads `[anon: gort goroutine stack]`.
pub(crate) const STACK: &CStr = c" gort goroutine stack";
/// The name of GC heap mappings (arenas of spans and large objects' spans).
pub(crate) const GC_SPAN: &CStr = c" gort gc span";

#[cold]
fn init() -> u8 {
    // A bad GODEBUG is reported by whoever reads it for their own key; here it means the
    // default (on).
    let on = crate::env::GoDebug::from_env().map_or(true, |d| d.decoratemappings);
    let s = if on && cfg!(target_os = "linux") {
        ON
    } else {
        OFF
    };
    STATE.store(s, Relaxed);
    s
}

/// Names the whole anonymous mapping `[addr, addr + len)` (one this process just made), if
/// `decoratemappings` is on and the kernel supports it.
pub(crate) fn name(addr: usize, len: usize, name: &'static CStr) {
    let mut s = STATE.load(Relaxed);
    if s == UNKNOWN {
        s = init();
    }
    if s != ON {
        return;
    }
    set(addr, len, name);
}

#[cfg(target_os = "linux")]
fn set(addr: usize, len: usize, name: &'static CStr) {
    // SAFETY: PR_SET_VMA_ANON_NAME only sets the name attribute of the VMAs in the range (the
    // kernel copies the string); it never changes their contents or protection, and `name`
    // is a NUL-terminated string of valid characters that outlives the call.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_VMA,
            libc::PR_SET_VMA_ANON_NAME as libc::c_ulong,
            addr as libc::c_ulong,
            len as libc::c_ulong,
            name.as_ptr(),
        )
    };
    if rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
        STATE.store(OFF, Relaxed); // no CONFIG_ANON_VMA_NAME: stop trying
    }
}

#[cfg(not(target_os = "linux"))]
fn set(_: usize, _: usize, _: &'static CStr) {}

/// Whether names are being set (false once the kernel refused, or when the setting is off).
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn active() -> bool {
    STATE.load(Relaxed) == ON
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel accepts only printable ASCII without `[`, `]`, `\`, `$` and backquote, at
    /// most 80 bytes with the NUL.
    #[test]
    fn names_are_valid_for_the_kernel() {
        for n in [STACK, GC_SPAN] {
            let b = n.to_bytes();
            assert!(b.len() < 80);
            assert!(b
                .iter()
                .all(|&c| (0x20..0x7f).contains(&c) && !b"[]\\$`".contains(&c)));
        }
    }

    /// A mapping of our own gets its name where the kernel supports it; where it refuses,
    /// naming turns itself off.
    #[test]
    fn names_a_mapping_or_turns_off() {
        let len = 1 << 16;
        // SAFETY: a fresh anonymous mapping, unmapped below; nothing else refers to it.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        name(p as usize, len, c" gort vmaname test");
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let named = maps
            .lines()
            .any(|l| l.ends_with("[anon: gort vmaname test]"));
        // SAFETY: the mapping made above.
        unsafe { libc::munmap(p, len) };
        if !active() {
            eprintln!("skipped: this kernel does not name anonymous mappings (no CONFIG_ANON_VMA_NAME) or GODEBUG=decoratemappings=0");
            return;
        }
        assert!(named, "{maps}");
    }
}
