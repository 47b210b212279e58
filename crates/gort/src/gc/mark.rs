//! Marking: roots are the objects with a non-zero root count (scanned concurrently, see
//! `scan_roots_concurrent`); each marker drains a private queue of grey spans (small objects,
//! spanq.rs) and a grey stack of object addresses (large objects, the write barrier's greys),
//! calling each object's `trace` through its span's type, shares work through the pool of
//! `work.rs` (which also receives the write barrier's batches), and counts the bytes it traced
//! (scan work, for the pacer's assist ratio and the assists' credit).
//!
//! `gccheckmark=1` runs a second, independent traversal into the `check` bitmap and fails
//! loudly, naming the type, if it reaches an object the first one left white.

use std::sync::atomic::Ordering::Relaxed;

use super::spanq;
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
    /// Grey spans (entries of spanq.rs), scanned oldest first.
    spans: spanq::Queue,
    /// Small objects go through the span queue (the concurrent mark and its termination);
    /// otherwise everything is on `stack` (checkmark, `gctrace=2`'s repeat).
    batched: bool,
    /// Base of the span being scanned (0: none), the mark word reached and the direction of
    /// the pass: objects this marker shades there are not queued again (see `scan_entry`).
    cur_span: usize,
    cur_word: usize,
    down: bool,
    /// An object was shaded in `cur_span` in a word this pass has passed: another pass is due.
    rescan: bool,
    /// An object was shaded in `cur_span`.
    self_marked: bool,
    /// Objects traced (for the sharing and flushing cadence).
    traced: u64,
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

/// Span entries a marker keeps before it shares half (when another marker wants work), and
/// the most it shares at once: a span entry is up to a span's worth of objects.
const SPAN_SHARE: usize = 2;
const SPAN_BATCH: usize = 16;

fn type_name(addr: usize) -> &'static str {
    // SAFETY: `addr` is an allocated object; its span header names its type.
    unsafe { ((*Span::of(addr)).vt.name)() }
}

impl Marker {
    fn new(mode: Mode, batched: bool) -> Marker {
        Marker {
            stack: Vec::with_capacity(1024),
            spans: spanq::Queue::with_capacity(256),
            batched,
            cur_span: 0,
            cur_word: 0,
            down: true,
            rescan: false,
            self_marked: false,
            traced: 0,
            mode,
            marked_bytes: 0,
            marked_objects: 0,
            scanned: 0,
            background: true,
        }
    }

    /// A marker for an assist (its work is not credit for others).
    /// `stack`, `spans`: an empty grey stack and span queue to reuse (assists keep them per
    /// thread: a slice is a few microseconds, too short to pay for allocating them).
    pub(crate) fn assist(stack: Vec<usize>, spans: spanq::Queue) -> Marker {
        debug_assert!(stack.is_empty() && spans.is_empty());
        Marker {
            stack,
            spans,
            batched: true,
            cur_span: 0,
            cur_word: 0,
            down: true,
            rescan: false,
            self_marked: false,
            traced: 0,
            mode: Mode::Mark,
            marked_bytes: 0,
            marked_objects: 0,
            scanned: 0,
            background: false,
        }
    }

    /// The (empty) grey stack and span queue back, for reuse.
    pub(crate) fn into_queues(self) -> (Vec<usize>, spanq::Queue) {
        debug_assert!(self.stack.is_empty() && self.spans.is_empty());
        (self.stack, self.spans)
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

    /// Hands the whole private stack and span queue to the pool (before sleeping or leaving).
    pub(crate) fn give_all(&mut self) {
        while !self.stack.is_empty() {
            let n = self.stack.len().min(work::BATCH);
            let at = self.stack.len() - n;
            work::push(self.stack.split_off(at));
        }
        while !self.spans.is_empty() {
            let n = self.spans.len().min(work::BATCH);
            work::push(self.spans.drain(..n).collect());
        }
    }

    /// Puts a batch from the pool on the private stack and span queue.
    fn take_entries(&mut self, b: &mut Vec<usize>) {
        for e in b.drain(..) {
            if spanq::is_span_entry(e) {
                self.spans.push_back(e);
            } else {
                self.stack.push(e);
            }
        }
    }

    /// Hands half of the private stack or span queue to the pool if another marker wants work.
    #[inline]
    fn maybe_share(&mut self) {
        if self.spans.len() >= 2 * SPAN_SHARE
            && (work::WANTED.load(Relaxed) || work::POOL_LEN.load(Relaxed) == 0)
        {
            let n = (self.spans.len() / 2).min(SPAN_BATCH);
            let at = self.spans.len() - n;
            work::push(self.spans.drain(at..).collect());
        }
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
                self.take_entries(&mut b);
                true
            }
            None => false,
        }
    }

    /// Traces grey objects until about `budget` bytes were traced or the private stack is
    /// empty; returns the bytes traced.
    pub(crate) fn drain_budget(&mut self, budget: u64) -> u64 {
        let start = self.scanned;
        let mut share_at = self.traced + 64;
        while self.scanned - start < budget {
            let Some(e) = self.pop() else { break };
            self.process(e);
            if self.traced >= share_at {
                share_at = self.traced + 64;
                self.maybe_share();
            }
        }
        self.scanned - start
    }

    /// The next grey entry: an object from the stack, else the oldest queued span.
    #[inline]
    fn pop(&mut self) -> Option<usize> {
        self.stack.pop().or_else(|| self.spans.pop_front())
    }

    /// Traces a grey object or scans a queued span.
    #[inline]
    fn process(&mut self, e: usize) {
        if spanq::is_span_entry(e) {
            self.scan_entry(e & !1);
        } else {
            self.trace_one(e);
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
                if self.batched && s.class != 0 {
                    if s as *const Span as usize == self.cur_span {
                        // Scanning this span now: this pass or the next reaches it.
                        let w = i / 64;
                        self.self_marked = true;
                        self.rescan |= if self.down {
                            w > self.cur_word
                        } else {
                            w < self.cur_word
                        };
                    } else if spanq::try_acquire(s) {
                        self.spans.push_back(addr | 1);
                    }
                    return;
                }
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
                self.take_entries(&mut b);
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

    /// Traces an object from the stack. In batched mode a small one (a barrier grey) is first
    /// claimed through its scan bit, so a span scan does not trace it again.
    #[inline]
    fn trace_one(&mut self, a: usize) {
        // SAFETY: `a` is a marked, allocated object (shade, barrier); spans are not freed
        // while marking runs, and check mode runs with the world stopped.
        let s = unsafe { &*Span::of(a) };
        if self.batched && s.class != 0 && !spanq::take_one(s, s.index_of(a)) {
            return;
        }
        self.trace_obj(s, a);
    }

    #[inline]
    fn trace_obj(&mut self, s: &Span, a: usize) {
        self.scanned += s.elemsize as u64;
        self.traced += 1;
        // SAFETY: `a` is a marked, allocated object of `s` that this marker claimed; `s.vt` is
        // its type's table (constant while the object lives, span.rs); nothing is freed while
        // marking runs, and check mode runs with the world stopped.
        unsafe { (s.vt.trace)(a, self) }
    }

    /// Scans the span of `a`, the object whose mark queued it (spanq.rs): that object alone
    /// if it is the only one marked since, else every grey object; then, while this marker
    /// shades objects in the span, passes over it again. Passes alternate downwards and
    /// upwards, so a pass finds the objects shaded ahead of it: children allocated before
    /// their parents (binary-trees, lists) take one pass, children allocated after them two.
    fn scan_entry(&mut self, a: usize) {
        // SAFETY: `a` is a marked object (its mark queued the entry); spans are not freed
        // while marking runs.
        let s = unsafe { &*Span::of(a) };
        debug_assert_eq!(self.cur_span, 0);
        self.cur_span = s as *const Span as usize;
        self.self_marked = false;
        let one = spanq::take(s);
        if one {
            let i = s.index_of(a);
            if spanq::take_one(s, i) {
                (self.cur_word, self.down) = (i / 64, true);
                self.trace_obj(s, a);
            }
        }
        if !one || self.self_marked {
            self.passes(s);
        }
        while spanq::finish(s) {
            self.passes(s);
        }
        self.cur_span = 0;
    }

    /// Passes over the span being scanned until one shades nothing behind it.
    fn passes(&mut self, s: &Span) {
        let mut down = true;
        loop {
            (self.rescan, self.down) = (false, down);
            if down {
                for w in (0..s.nwords).rev() {
                    self.scan_word(s, w);
                }
            } else {
                for w in 0..s.nwords {
                    self.scan_word(s, w);
                }
            }
            if !self.rescan {
                return;
            }
            down = !down;
        }
    }

    /// Traces the grey objects of mark word `w` of the span being scanned (which this marker
    /// owns: nobody else scans it now), in the pass's direction, until the word has none.
    #[inline]
    fn scan_word(&mut self, s: &Span, w: usize) {
        self.cur_word = w;
        let mut claimed = 0u64;
        loop {
            let mut g = spanq::grey(s, w) & !claimed;
            if g == 0 {
                break;
            }
            claimed |= g;
            while g != 0 {
                let b = if self.down {
                    63 - g.leading_zeros() as usize
                } else {
                    g.trailing_zeros() as usize
                };
                g &= !(1 << b);
                self.trace_obj(s, s.addr_of(w * 64 + b));
            }
        }
        if claimed != 0 {
            spanq::set_scanned(s, w, claimed);
        }
    }

    /// Drains the private stack and span queue alone (check mode, mark termination).
    fn drain(&mut self) {
        while let Some(e) = self.pop() {
            self.process(e);
        }
    }

    /// Drains the private stack, sharing with other markers as they ask, and (the collector)
    /// holding to its CPU share.
    pub(crate) fn drain_shared(&mut self, mut throttle: Option<&mut super::worker::Throttle>) {
        let (mut share_at, mut flush_at) = (self.traced + 64, self.traced + 1024);
        while let Some(e) = self.pop() {
            self.process(e);
            if self.traced >= share_at {
                share_at = self.traced + 64;
                self.maybe_share();
                if self.traced >= flush_at {
                    flush_at = self.traced + 1024;
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
    Marker::new(Mode::Mark, true)
}

/// A whole mark from the roots with the world stopped (`gctrace=2`'s repeated collection):
/// every mark bit must be clear (the cycle's sweep finished). Returns the bytes marked.
pub(crate) fn stw_mark(h: &HeapInner) -> u64 {
    let mut m = Marker::new(Mode::Mark, false);
    m.scan_roots(h);
    m.marked_bytes
}

/// The checkmark re-traversal: panics if a reachable object is unmarked; clears `check`.
pub(crate) fn checkmark(h: &HeapInner) {
    let mut m = Marker::new(Mode::Check, false);
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
