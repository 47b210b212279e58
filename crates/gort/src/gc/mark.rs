//! Marking: roots are the objects with a non-zero root count (scanned concurrently, see
//! `scan_roots_concurrent`); a grey stack of object addresses is drained by calling each
//! object's `trace` through its header, and refilled from the write barrier's batches.
//!
//! `gccheckmark=1` runs a second, independent traversal into the `check` bitmap and fails
//! loudly, naming the type, if it reaches an object the first one left white.

use std::sync::atomic::Ordering::Relaxed;

use super::handle::{GcMarker, RawHandle};
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
    // SAFETY: `addr` is an allocated object; its span header names its type.
    unsafe { ((*Span::of(addr)).vt.name)() }
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
        // invariant), and nothing is freed while marking runs. Check mode runs with the world
        // stopped, so the collector is the only writer of CHECK.
        let s = unsafe { &*Span::of(addr) };
        let i = s.index_of(addr);
        match self.mode {
            Mode::Mark => {
                // Atomic: mutators shade and allocate black concurrently.
                if !s.mark_atomic(i) {
                    return;
                }
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
                    // Fatal (Go's throw): the world is stopped, unwinding would leave it so.
                    eprintln!(
                        "fatal error: gccheckmark: reachable object {addr:#x} of type {} was not marked",
                        type_name(addr)
                    );
                    std::process::abort();
                }
            }
        }
        self.stack.push(addr);
    }

    /// Adds objects shaded grey by the write barrier.
    pub(crate) fn push_grey(&mut self, grey: &mut Vec<usize>) {
        self.stack.append(grey);
    }

    /// Drains the grey stack and the mutators' grey batches until both are empty.
    pub(crate) fn drain_all(&mut self) {
        loop {
            self.drain();
            let batches = std::mem::take(
                &mut *super::barrier::GREY
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()),
            );
            if batches.is_empty() {
                return;
            }
            for mut b in batches {
                self.stack.append(&mut b);
            }
        }
    }

    /// Concurrent root scan over the spans that existed when marking started: every slot with
    /// a root count is shaded. ALLOC is not read (owners write it concurrently); a slot
    /// allocated since is black (marked before its rc is published, see alloc.rs), a free slot
    /// has rc 0.
    pub(crate) fn scan_roots_concurrent(&mut self, spans: &[super::heap::SpanPtr]) {
        for sp in spans {
            // SAFETY: spans are not freed while marking runs (only the STW sweep frees).
            let s = unsafe { &*sp.0 };
            let mut lo = 0;
            while lo < s.nelems {
                let hi = (lo + 64).min(s.nelems);
                let any = (lo..hi).fold(0, |acc, i| acc | s.rc(i).load(Relaxed));
                if any != 0 {
                    for i in lo..hi {
                        if s.rc(i).load(std::sync::atomic::Ordering::Acquire) > 0 {
                            self.shade(s.addr_of(i));
                        }
                    }
                }
                lo = hi;
            }
            self.drain();
        }
        self.drain_all();
    }

    fn drain(&mut self) {
        while let Some(a) = self.stack.pop() {
            // SAFETY: `a` is a marked, allocated object (shade); its span's `vt` is its type's
            // table (constant while the object lives, span.rs).
            unsafe {
                let vt = (*Span::of(a)).vt;
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

/// A marker for a concurrent mark.
pub(crate) fn marker() -> Marker {
    Marker::new(Mode::Mark)
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
