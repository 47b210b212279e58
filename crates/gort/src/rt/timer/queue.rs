//! A 4-ary min-heap of timer entries (Go's `timers` heap in `time.go`).
//!
//! A 4-ary heap is shallower than a binary one (log4 n levels), so `push`, the common
//! operation, touches fewer cache lines; `pop` compares four children per level but they sit
//! side by side in memory. Entries are never removed from the middle: a stopped or reset timer
//! leaves a stale entry (its sequence number no longer matches the timer's) that is dropped
//! when it reaches the top, or in bulk by [`TimerHeap::clean`] once stale entries may make up
//! half the heap.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Release};
use std::sync::{Arc, Mutex};

use super::record::TimerInner;

/// One arming of a timer: valid while `t`'s sequence number is still `seq`.
pub(crate) struct Entry {
    pub(crate) when: u64,
    pub(crate) seq: u64,
    pub(crate) t: Arc<TimerInner>,
}

/// The heap proper (no locking).
#[derive(Default)]
pub(crate) struct Heap {
    v: Vec<Entry>,
    /// Length after the last clean: the next clean happens when the heap doubles past it.
    cleaned_len: usize,
}

impl Heap {
    /// Earliest `when`, or `u64::MAX` when empty.
    pub(crate) fn next_when(&self) -> u64 {
        self.v.first().map_or(u64::MAX, |e| e.when)
    }

    pub(crate) fn push(&mut self, e: Entry) {
        self.v.push(e);
        self.sift_up(self.v.len() - 1);
        if self.v.len() >= 64 && self.v.len() >= 2 * self.cleaned_len {
            self.clean();
        }
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: u64) -> Option<Entry> {
        if self.v.first()?.when > now {
            return None;
        }
        let last = self.v.pop()?;
        if self.v.is_empty() {
            return Some(last);
        }
        let top = std::mem::replace(&mut self.v[0], last);
        self.sift_down(0);
        Some(top)
    }

    /// Drops stale entries (timers stopped or reset since) and rebuilds the heap: O(n), run
    /// when the heap has doubled since the last clean, so amortised O(1) per push.
    pub(crate) fn clean(&mut self) {
        self.v.retain(|e| e.t.is_armed_as(e.seq));
        for i in (0..self.v.len()).rev() {
            self.sift_down(i);
        }
        self.cleaned_len = self.v.len().max(32);
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 4;
            if self.v[parent].when <= self.v[i].when {
                break;
            }
            self.v.swap(parent, i);
            i = parent;
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.v.len();
        loop {
            let first = 4 * i + 1;
            if first >= n {
                return;
            }
            let mut min = first;
            for c in first + 1..(first + 4).min(n) {
                if self.v[c].when < self.v[min].when {
                    min = c;
                }
            }
            if self.v[i].when <= self.v[min].when {
                return;
            }
            self.v.swap(i, min);
            i = min;
        }
    }
}

/// A heap with its lock and a published earliest deadline, so the scheduler can check "is a
/// timer due?" with one atomic load. Per P (`P::timers`) and one global for plain threads.
///
/// `next` is written only under `heap`'s lock (Release) and read without it (Acquire); a
/// reader may see a value that is a little stale, which costs at most one extra lock.
#[derive(Default)]
pub(crate) struct TimerHeap {
    pub(crate) heap: Mutex<Heap>,
    next: AtomicU64,
}

impl TimerHeap {
    pub(crate) fn new() -> TimerHeap {
        TimerHeap {
            heap: Mutex::new(Heap::default()),
            next: AtomicU64::new(u64::MAX),
        }
    }

    /// Earliest deadline (monotonic ns, see `clock`), `u64::MAX` if none.
    pub(crate) fn next_when(&self) -> u64 {
        self.next.load(Acquire)
    }

    pub(crate) fn push(&self, e: Entry) {
        let mut h = self.heap.lock().unwrap();
        h.push(e);
        self.next.store(h.next_when(), Release);
    }

    pub(crate) fn pop_due(&self, now: u64) -> Option<Entry> {
        let mut h = self.heap.lock().unwrap();
        let e = h.pop_due(now);
        self.next.store(h.next_when(), Release);
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rt::sched::park::Unparker;
    use crate::rt::timer::Kind;

    fn entry(when: u64) -> Entry {
        Entry {
            when,
            seq: 0,
            t: TimerInner::new(Kind::Wake(Unparker::current())),
        }
    }

    #[test]
    fn pops_in_deadline_order_and_only_when_due() {
        let mut h = Heap::default();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut whens = Vec::new();
        for _ in 0..1000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            whens.push(x % 10_000);
            h.v.push(entry(x % 10_000)); // bypass push's clean: these timers are not armed
            let i = h.v.len() - 1;
            h.sift_up(i);
        }
        whens.sort_unstable();
        assert!(h.pop_due(whens[0].wrapping_sub(1)).is_none() || whens[0] == 0);
        let popped: Vec<u64> = std::iter::from_fn(|| h.pop_due(u64::MAX).map(|e| e.when)).collect();
        assert_eq!(popped, whens);
        assert_eq!(h.next_when(), u64::MAX);
    }

    #[test]
    fn clean_drops_stale_entries() {
        let mut h = Heap::default();
        for w in 0..100 {
            h.push(entry(w)); // never armed: stale from the start
        }
        h.clean();
        assert_eq!(h.v.len(), 0);
    }
}
