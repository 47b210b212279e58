//! The write barrier, on only while marking runs concurrently (`MARKING`).
//!
//! gort marks *snapshot-at-the-beginning*: everything reachable when marking starts (STW1) is
//! marked, and everything allocated during marking is allocated black. That covers every
//! object a mutator can reach at the end, because a handle can only be obtained from an object
//! that is reachable (there is no way to resurrect an unreachable object). What can break the
//! snapshot is a mutator removing the last path to an object before the marker walked it, so the
//! barrier shades (marks grey) the target of every handle whose root count changes while
//! marking runs:
//!
//! * dropping or unrooting a rooted handle (a root disappears; Go's stack shading),
//! * the root pass of `GcCell::borrow_mut` (the cell's old contents may be overwritten: the
//!   deletion half of Go's hybrid barrier; the insertion half is not needed because anything
//!   stored is a rooted handle, already reachable or new),
//! * `clone` (not needed by the argument above; kept because it costs one bit test).
//!
//! Shading sets the mark bit atomically; the thread that set it pushes the object on its own
//! grey buffer (in its `Cache`), handed to the marker in batches and at mark termination.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use super::mutator::Mutator;
use super::span::Span;

/// Marking is running concurrently: the barrier is on, allocation is black.
pub(crate) static MARKING: AtomicBool = AtomicBool::new(false);
const BATCH: usize = 32;

/// Shades the object at `addr` if marking is on. Inside a guard, on `m`'s thread.
#[inline(always)]
pub(crate) fn shade(m: &Mutator, addr: usize) {
    if MARKING.load(Relaxed) {
        shade_slow(m, addr)
    }
}

#[cold]
#[inline(never)]
fn shade_slow(m: &Mutator, addr: usize) {
    // SAFETY: `addr` is the target of a live handle (rc > 0 or reachable), so its span is
    // mapped; nothing is freed while marking runs.
    let s = unsafe { &*Span::of(addr) };
    if s.mark_atomic(s.index_of(addr)) {
        // SAFETY: inside a guard on the owner thread (caller).
        let c = unsafe { m.cache() };
        c.marked_bytes += s.elemsize as u64;
        c.grey.push(addr);
        if c.grey.len() >= BATCH {
            super::work::push(std::mem::take(&mut c.grey));
        }
    }
}
