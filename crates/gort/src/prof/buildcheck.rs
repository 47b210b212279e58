//! Telling the user what a profile will lack, before they read it: frame pointers (without
//! them every stack is one frame deep: the caller chain breaks at the first function) and
//! debug info (without it frames are addresses, and heap profiles read `__rust_alloc`).
//!
//! Checked once per process when the first profile starts ([`warn_once`]); each missing
//! setting gets one message with the exact lines that fix it. `gort doctor` finds these lines
//! in the program's stderr and repeats them in its report (the "gort: profiles" prefix).

use std::sync::Once;

/// The message prefix `gort doctor` looks for.
pub const PREFIX: &str = "gort: profiles ";

/// Prints what is missing, once per process.
pub(crate) fn warn_once() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for m in missing() {
            eprintln!("{m}");
        }
    });
}

/// The messages for the settings this binary lacks (empty when all is well).
pub fn missing() -> Vec<String> {
    let mut v = Vec::new();
    if !frame_pointers() {
        v.push(format!(
            "{PREFIX}will lack callers: this binary was built without frame pointers. Add to \
             .cargo/config.toml:\n    [build]\n    rustflags = [\"-C\", \"force-frame-pointers=yes\"]"
        ));
    }
    if !debug_info() {
        v.push(format!(
            "{PREFIX}will show addresses, not functions and lines: this binary has no debug \
             info. Add to Cargo.toml:\n    [profile.release]\n    debug = 1"
        ));
    }
    v
}

/// Whether a frame-pointer walk from three nested calls finds their callers.
fn frame_pointers() -> bool {
    #[inline(never)]
    fn a() -> bool {
        std::hint::black_box(b())
    }
    #[inline(never)]
    fn b() -> bool {
        std::hint::black_box(c())
    }
    #[inline(never)]
    fn c() -> bool {
        crate::rt::current::cache_thread_stack();
        let mut pcs = [0usize; crate::alloc::fpwalk::MAX_DEPTH];
        let n = crate::alloc::fpwalk::capture(&mut pcs);
        // With frame pointers, the return addresses into b and a follow c's own.
        let (fa, fb) = (a as *const () as usize, b as *const () as usize);
        let inside = |f: usize| pcs[..n].iter().any(|&r| r > f && r < f + 256);
        inside(fa) && inside(fb)
    }
    std::hint::black_box(a())
}

/// Whether this binary's own code resolves to a file and line: the frame of this very
/// function, found by the unwinder (which needs no frame pointers).
#[inline(never)]
fn debug_info() -> bool {
    let mut ok = false;
    let mut frames = 0;
    backtrace::trace(|frame| {
        frames += 1;
        backtrace::resolve_frame(frame, |sym| {
            ok |= sym.lineno().is_some() && sym.filename().is_some();
        });
        !ok && frames < 4
    });
    ok
}

#[cfg(test)]
mod tests {
    /// The test build has both (`.cargo/config.toml` and the dev profile's debug info): no
    /// message. A build without them is checked by hand (README); CI's builds have them.
    #[test]
    fn this_build_has_frame_pointers_and_debug_info() {
        assert!(super::missing().is_empty(), "{:?}", super::missing());
    }
}
