//! A P's local run queue: Go's lock-free ring of 256 goroutines.
//!
//! The owner pushes at `tail` (a plain store: only the owner writes it) and pops at `head`
//! with a CAS; thieves take half of the ring with one CAS on `head`. Slots are `AtomicPtr`s so a
//! thief's speculative read of a slot that the owner is overwriting is not a data race; a
//! thief owns what it read only once its CAS on `head` succeeds, and a stale read makes that CAS
//! fail. Only goroutines that have not started live here (they are the only ones that may move
//! between Ms): started, runnable goroutines wait in their home P's pinned queue instead.
//!
//! Orderings: the owner's `tail` store is `Release` after writing the slot, paired with the
//! thief's `Acquire` load of `tail`; `head` CASes are `AcqRel` so that the owner, before reusing
//! a slot, has seen every thief's read of it completed (the thief's CAS happens after its read).

use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use std::sync::Arc;

// Atomics through the model-checking shim (std's, or shuttle's under `--cfg gort_model`).
use super::g::{GRef, G};
use crate::rt::loom::{AtomicPtr, AtomicU32};

/// Ring capacity (Go's 256; 4 under loom-style small models is not needed here).
pub(crate) const CAP: u32 = 256;

pub(crate) struct RunQueue {
    head: AtomicU32,
    tail: AtomicU32,
    buf: Box<[AtomicPtr<G>]>,
}

impl RunQueue {
    pub(crate) fn new() -> RunQueue {
        RunQueue {
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            buf: (0..CAP)
                .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                .collect(),
        }
    }

    fn slot(&self, i: u32) -> &AtomicPtr<G> {
        &self.buf[(i % CAP) as usize]
    }

    /// Number of queued goroutines (a racy snapshot for anyone but the owner).
    pub(crate) fn len(&self) -> usize {
        let h = self.head.load(Acquire);
        let t = self.tail.load(Acquire);
        t.wrapping_sub(h).min(CAP) as usize
    }

    /// Count of goroutines ever taken (by the owner or thieves): a thief that sees it
    /// unchanged over a while knows the owner is not draining the ring.
    pub(crate) fn taken(&self) -> u32 {
        self.head.load(Acquire)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Owner only: pushes `g`; when the ring is full returns `Err` with `g` and half of the
    /// ring (the caller moves them to the global queue, as Go's runqputslow does).
    pub(crate) fn push(&self, g: GRef) -> Result<(), Vec<GRef>> {
        let t = self.tail.load(Relaxed);
        let h = self.head.load(Acquire);
        if t.wrapping_sub(h) < CAP {
            self.slot(t).store(Arc::into_raw(g) as *mut G, Relaxed);
            self.tail.store(t.wrapping_add(1), Release);
            return Ok(());
        }
        // Full: grab half of it with one CAS so thieves see a consistent head.
        let n = CAP / 2;
        let batch: Vec<*mut G> = (0..n)
            .map(|i| self.slot(h.wrapping_add(i)).load(Relaxed))
            .collect();
        if self
            .head
            .compare_exchange(h, h.wrapping_add(n), AcqRel, Acquire)
            .is_err()
        {
            // A thief took some: there is room now.
            return self.push(g);
        }
        let mut out: Vec<GRef> = batch
            .into_iter()
            // SAFETY: our CAS on head made us the owner of these slots' references, each
            // created by Arc::into_raw in push.
            .map(|p| unsafe { Arc::from_raw(p) })
            .collect();
        out.push(g);
        Err(out)
    }

    /// Owner only: takes the goroutine at the head.
    pub(crate) fn pop(&self) -> Option<GRef> {
        let mut h = self.head.load(Acquire);
        loop {
            let t = self.tail.load(Relaxed);
            if t == h {
                return None;
            }
            let p = self.slot(h).load(Relaxed);
            match self
                .head
                .compare_exchange_weak(h, h.wrapping_add(1), AcqRel, Acquire)
            {
                // SAFETY: the CAS made us the owner of the reference stored by push.
                Ok(_) => return Some(unsafe { Arc::from_raw(p) }),
                Err(cur) => h = cur,
            }
        }
    }

    /// Thief: moves half of `self` into `dst` (which the caller owns and which must be empty)
    /// and returns one goroutine to run. Go's runqsteal/runqgrab.
    pub(crate) fn steal_into(&self, dst: &RunQueue) -> Option<GRef> {
        loop {
            let h = self.head.load(Acquire);
            let t = self.tail.load(Acquire);
            let n = t.wrapping_sub(h);
            if n == 0 {
                return None;
            }
            if n > CAP {
                // Inconsistent snapshot (head moved past our tail read): retry.
                continue;
            }
            let n = n - n / 2;
            let mut batch = [std::ptr::null_mut::<G>(); (CAP / 2) as usize];
            for (i, b) in batch.iter_mut().enumerate().take(n as usize) {
                *b = self.slot(h.wrapping_add(i as u32)).load(Relaxed);
            }
            if self
                .head
                .compare_exchange(h, h.wrapping_add(n), AcqRel, Acquire)
                .is_err()
            {
                continue;
            }
            // SAFETY: the successful CAS transferred ownership of these references to us.
            let first = unsafe { Arc::from_raw(batch[0]) };
            let dt = dst.tail.load(Relaxed);
            for (i, p) in batch.iter().enumerate().take(n as usize).skip(1) {
                dst.slot(dt.wrapping_add(i as u32 - 1)).store(*p, Relaxed);
            }
            dst.tail.store(dt.wrapping_add(n - 1), Release);
            return Some(first);
        }
    }
}

impl Drop for RunQueue {
    fn drop(&mut self) {
        while let Some(g) = self.pop() {
            drop(g);
        }
    }
}
