//! Marking: roots are the objects with a non-zero root count (scanned concurrently, see
//! `scan_roots_concurrent`); each marker drains a private grey stack of object addresses by
//! calling each object's `trace` through its span's type, shares work through the pool of
//! `work.rs` (which also receives the write barrier's batches), and counts the bytes it traced
//! (scan work, for the pacer's assist ratio and the assists' credit).
//!
//! `gccheckmark=1` runs a second, independent traversal into the `check` bitmap and fails
//! loudly, naming the type, if it reaches an object the first one left white.

use std::sync::atomic::Ordering::Relaxed;

use super::work;

use super::handle::{GcMarker, RawHandle};
use super::mheap::HeapInner;
use super::span::{Span, ALLOC, CHECK, FIN, MARK};
use super::visit::{Pass, Visitor};

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
    /// Bytes traced and not yet added to `work::SCAN_DONE`.
    scanned: u64,
    /// Background marker: its scan work becomes credit for assists.
    background: bool,
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

/// Scan work charged for scanning the root counts of a span of `nelems` slots: a quarter of a
/// byte per slot, about what the vectorised root-count scan costs next to tracing.
pub(crate) fn root_scan_bytes(nelems: usize) -> u64 {
    nelems as u64 / 4
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
            scanned: 0,
            background: true,
        }
    }

    /// A marker for an assist (its work is not credit for others).
    /// `stack`: an empty grey stack to reuse (assists keep one per thread: a slice is a few
    /// microseconds, too short to pay for allocating one).
    pub(crate) fn assist(stack: Vec<usize>) -> Marker {
        debug_assert!(stack.is_empty());
        Marker {
            stack,
            mode: Mode::Mark,
            marked_bytes: 0,
            marked_objects: 0,
            scanned: 0,
            background: false,
        }
    }

    /// The (empty) grey stack back, for reuse.
    pub(crate) fn into_stack(self) -> Vec<usize> {
        debug_assert!(self.stack.is_empty());
        self.stack
    }

    /// Adds the scan work done since the last flush to the cycle's counters.
    pub(crate) fn flush_scan(&mut self) -> u64 {
        let n = std::mem::take(&mut self.scanned);
        work::SCAN_DONE.fetch_add(n, Relaxed);
        if self.background {
            work::BG_CREDIT.fetch_add(n as i64, Relaxed);
            work::update_ratio(
                super::alloc::HEAP_LIVE.load(Relaxed),
                super::alloc::GOAL.load(Relaxed),
            );
        }
        n
    }

    /// Hands the whole private stack to the pool (before sleeping or leaving).
    pub(crate) fn give_all(&mut self) {
        while !self.stack.is_empty() {
            let n = self.stack.len().min(work::BATCH);
            let at = self.stack.len() - n;
            work::push(self.stack.split_off(at));
        }
    }

    /// Hands half of the private stack to the pool if another marker wants work.
    #[inline]
    fn maybe_share(&mut self) {
        if self.stack.len() >= 2 * work::BATCH
            && (work::WANTED.load(Relaxed) || work::POOL_LEN.load(Relaxed) == 0)
        {
            let n = (self.stack.len() / 2).min(4 * work::BATCH);
            let at = self.stack.len() - n;
            let mut rest = self.stack.split_off(at);
            while !rest.is_empty() {
                let k = rest.len().min(work::BATCH);
                let at = rest.len() - k;
                work::push(rest.split_off(at));
            }
        }
    }

    /// Takes a batch from the pool onto the private stack; false if the pool was empty. The
    /// caller is counted busy until it calls `work::idle`.
    pub(crate) fn take_batch(&mut self) -> bool {
        match work::pop_busy() {
            Some(mut b) => {
                self.stack.append(&mut b);
                true
            }
            None => false,
        }
    }

    /// Traces grey objects until about `budget` bytes were traced or the private stack is
    /// empty; returns the bytes traced.
    pub(crate) fn drain_budget(&mut self, budget: u64) -> u64 {
        let start = self.scanned;
        let mut n = 0u32;
        while self.scanned - start < budget {
            let Some(a) = self.stack.pop() else { break };
            self.trace_one(a);
            n += 1;
            if n.is_multiple_of(64) {
                self.maybe_share();
            }
        }
        self.scanned - start
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
                    super::gctrace::gc_eprintln!(
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

    /// Drains the private stack and the pool until both are empty (alone: the world is
    /// stopped or no other marker is active).
    pub(crate) fn drain_all(&mut self) {
        loop {
            self.drain();
            let batches = work::take_all();
            if batches.is_empty() {
                self.flush_scan();
                return;
            }
            for mut b in batches {
                self.stack.append(&mut b);
            }
        }
    }

    /// Root-scan job: shades every slot with a root count in `spans` (from the snapshot taken
    /// when marking started). ALLOC is not read (owners write it concurrently); a slot
    /// allocated since is black (marked before its rc is published, see alloc.rs), a free slot
    /// has rc 0. The caller drains what this shaded.
    pub(crate) fn scan_spans(&mut self, spans: &[super::mheap::SpanPtr]) {
        for sp in spans {
            // SAFETY: spans are not freed while marking runs (only the sweep frees, after
            // mark termination).
            let s = unsafe { &*sp.0 };
            // Scanning the root counts is scan work too (bounds an assist's slice).
            self.scanned += root_scan_bytes(s.nelems);
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
        }
    }

    /// Takes one piece of shared work (a grey batch, else a root-scan job) onto the private
    /// stack; false if there was none. The caller is counted busy until it calls `work::idle`.
    pub(crate) fn take_work(&mut self) -> bool {
        if self.take_batch() {
            return true;
        }
        match work::claim_roots() {
            Some((spans, r)) => {
                self.scan_spans(&spans[r]);
                true
            }
            None => false,
        }
    }

    #[inline]
    fn trace_one(&mut self, a: usize) {
        // SAFETY: `a` is a marked, allocated object (shade); its span's `vt` is its type's
        // table (constant while the object lives, span.rs); nothing is freed while marking
        // runs, and check mode runs with the world stopped.
        unsafe {
            let s = &*Span::of(a);
            self.scanned += s.elemsize as u64;
            (s.vt.trace)(a, self);
        }
    }

    /// Drains the private stack alone (check mode, mark termination).
    fn drain(&mut self) {
        while let Some(a) = self.stack.pop() {
            self.trace_one(a);
        }
    }

    /// Drains the private stack, sharing with other markers as they ask, and (the collector)
    /// holding to its CPU share.
    pub(crate) fn drain_shared(&mut self, mut throttle: Option<&mut super::worker::Throttle>) {
        let mut n = 0u32;
        while let Some(a) = self.stack.pop() {
            self.trace_one(a);
            n += 1;
            if n.is_multiple_of(64) {
                self.maybe_share();
                if n.is_multiple_of(1024) {
                    self.flush_scan();
                    if let Some(t) = throttle.as_deref_mut() {
                        t.check(self);
                    }
                }
            }
        }
        self.flush_scan();
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

/// A whole mark from the roots with the world stopped (`gctrace=2`'s repeated collection):
/// every mark bit must be clear (the cycle's sweep finished). Returns the bytes marked.
pub(crate) fn stw_mark(h: &HeapInner) -> u64 {
    let mut m = Marker::new(Mode::Mark);
    m.scan_roots(h);
    m.marked_bytes
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
