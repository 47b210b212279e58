//! Marking (world stopped): roots are the objects with a non-zero root count; a grey stack of
//! object addresses is drained by calling each object's `trace` through its header.
//!
//! `gccheckmark=1` runs a second, independent traversal into the `check` bitmap and fails
//! loudly, naming the type, if it reaches an object the first one left white.

use std::sync::atomic::Ordering::Relaxed;

use super::handle::{GcMarker, RawHandle, VTable};
use super::heap::HeapInner;
use super::span::{Span, ALLOC, CHECK, FIN, MARK};
use super::trace::{Pass, Visitor};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Mark,
    Check,
}

/// The marking visitor.
pub(crate) struct Marker {
    stack: Vec<usize>,
    mode: Mode,
    /// Bytes (slot sizes) marked.
    pub marked_bytes: u64,
    /// Objects marked.
    pub marked_objects: u64,
}

impl GcMarker for Marker {}

impl Visitor for Marker {
    fn pass(&self) -> Pass {
        Pass::Mark
    }
    #[inline]
    fn visit(&mut self, h: &RawHandle) {
        self.shade(h.addr())
    }
    fn visit_mut(&mut self, _: &mut RawHandle) {
        unreachable!("marking uses trace")
    }
}

fn type_name(addr: usize) -> &'static str {
    // SAFETY: `addr` is an allocated object; its first word is its vtable (GcBox layout).
    unsafe { ((*(addr as *const &'static VTable)).name)() }
}

impl Marker {
    fn new(mode: Mode) -> Marker {
        Marker {
            stack: Vec::with_capacity(1024),
            mode,
            marked_bytes: 0,
            marked_objects: 0,
        }
    }

    #[inline]
    fn shade(&mut self, addr: usize) {
        // SAFETY: `addr` comes from a handle, which points at an allocated object (rooting
        // invariant); the world is stopped so the collector is the only bitmap writer.
        let s = unsafe { &*Span::of(addr) };
        let i = s.index_of(addr);
        match self.mode {
            Mode::Mark => {
                // SAFETY: world stopped (see above).
                if unsafe { s.test(MARK, i) } {
                    return;
                }
                // SAFETY: as above.
                unsafe { s.set(MARK, i) };
                self.marked_bytes += s.elemsize as u64;
                self.marked_objects += 1;
            }
            Mode::Check => {
                // SAFETY: as above.
                if unsafe { s.test(CHECK, i) } {
                    return;
                }
                // SAFETY: as above.
                unsafe { s.set(CHECK, i) };
                // SAFETY: as above.
                if !unsafe { s.test(MARK, i) } {
                    panic!(
                        "fatal error: gccheckmark: reachable object {addr:#x} of type {} was not marked",
                        type_name(addr)
                    );
                }
            }
        }
        self.stack.push(addr);
    }

    fn drain(&mut self) {
        while let Some(a) = self.stack.pop() {
            // SAFETY: `a` is a marked, allocated object (shade); its header is its vtable.
            unsafe {
                let vt = *(a as *const &'static VTable);
                (vt.trace)(a, self);
            }
        }
    }

    fn scan_roots(&mut self, h: &HeapInner) {
        for sp in &h.all {
            // SAFETY: spans in `all` are valid; world stopped, so we may read every bitmap.
            let s = unsafe { &*sp.0 };
            for w in 0..s.nwords {
                // SAFETY: as above.
                let mut bits = unsafe { *s.words(ALLOC).add(w) & !*s.words(FIN).add(w) };
                if bits == 0 {
                    continue;
                }
                // Most objects are not roots: test 64 root counts at once (vectorizes).
                let lo = w * 64;
                let hi = (lo + 64).min(s.nelems);
                let any = (lo..hi).fold(0, |acc, i| acc | s.rc(i).load(Relaxed));
                if any == 0 {
                    continue;
                }
                while bits != 0 {
                    let i = lo + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    if s.rc(i).load(Relaxed) > 0 {
                        self.shade(s.addr_of(i));
                    }
                }
            }
        }
        self.drain();
    }
}

/// Marks everything reachable from the roots. World stopped, heap locked.
pub(crate) fn mark(h: &HeapInner) -> Marker {
    let mut m = Marker::new(Mode::Mark);
    m.scan_roots(h);
    m
}

/// The checkmark re-traversal: panics if a reachable object is unmarked; clears `check`.
pub(crate) fn checkmark(h: &HeapInner) {
    let mut m = Marker::new(Mode::Check);
    m.scan_roots(h);
    for sp in &h.all {
        // SAFETY: world stopped; spans in `all` are valid.
        let s = unsafe { &*sp.0 };
        for w in 0..s.nwords {
            // SAFETY: as above.
            unsafe { *s.words(CHECK).add(w) = 0 };
        }
    }
}
