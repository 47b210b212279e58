//! The `#[global_allocator]` wrapper: forwards to an inner allocator and reports to the counters.

use std::alloc::{GlobalAlloc, Layout, System};

use super::{counters, profile};

/// A [`GlobalAlloc`] that counts every allocation and free per thread and samples allocations
/// for the heap profile, then forwards to `A` (the system allocator by default).
///
/// ```no_run
/// #[global_allocator]
/// static A: gort::alloc::CountingAlloc = gort::alloc::CountingAlloc::system();
/// ```
///
/// `realloc` counts as one free of the old block and one allocation of the new one, as Go's
/// `append` allocates a new array (`Mallocs` and `Frees` both grow by one).
pub struct CountingAlloc<A: GlobalAlloc = System> {
    inner: A,
}

impl CountingAlloc<System> {
    /// A counting wrapper around [`System`].
    pub const fn system() -> Self {
        CountingAlloc { inner: System }
    }
}

impl<A: GlobalAlloc> CountingAlloc<A> {
    /// A counting wrapper around `inner`.
    pub const fn new(inner: A) -> Self {
        CountingAlloc { inner }
    }
}

// SAFETY: every method forwards to `inner` with the caller's arguments unchanged, so `inner`'s
// guarantees are ours; the accounting around the calls never allocates through `self` except
// in the guarded registration and first-sample paths (see the module invariants).
unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAlloc<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract (non-zero size).
        let p = unsafe { self.inner.alloc(layout) };
        if !p.is_null() {
            counters::on_alloc(p, layout.size());
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { self.inner.alloc_zeroed(layout) };
        if !p.is_null() {
            counters::on_alloc(p, layout.size());
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Forget the sample before the address can be handed out again.
        counters::on_free(ptr, layout.size());
        // SAFETY: the caller guarantees `ptr` came from this allocator with `layout`.
        unsafe { self.inner.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // The old address may be reused as soon as `realloc` returns: forget its sample first.
        // If `realloc` fails the block stays live but its sample is lost (counted as freed in
        // the profile only); the counters below are updated only on success.
        profile::forget(ptr);
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        let p = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            counters::on_free_counted_only(layout.size());
            counters::on_alloc(p, new_size);
        }
        p
    }
}
