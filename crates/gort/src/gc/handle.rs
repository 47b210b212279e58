//! `Gc<T>`: a handle to an object on the GC heap, rooted while it lives outside the heap.
//!
//! The rooting design (rust-gc's, made thread-safe; argued in docs/DESIGN.md, "GC heap"):
//!
//! * Every object has a root count (`rc`, beside its span). A handle is *rooted* (a flag in the
//!   handle's low bit) when it lives anywhere outside the GC heap: stack, `Vec`, `Box`, statics,
//!   other goroutines. Creating a rooted handle (`Gc::new`, `clone`) counts `+1`, dropping one
//!   `-1`, in the thread's root cache (rootcache.rs): no shared atomic unless two live objects
//!   meet in one of its slots; the collector adds the caches to `rc` when it stops the world.
//! * When a value moves into the heap (`Gc::new(value)`), the unroot pass (`Trace`) clears the
//!   flag of every handle it contains and decrements their targets' `rc`: those handles are now
//!   *edges*, found by tracing. A handle inside the heap can only be reached through `&`, and
//!   cloning it yields a new rooted handle; the only way to move a handle out of the heap is
//!   through `GcCell::borrow_mut`, whose contents are rooted while borrowed.
//! * The collector's roots are the objects with `rc > 0`. Every handle that Rust code owns is
//!   rooted, so its target and everything reachable from it is marked: no reachable object is
//!   freed.
//!
//! Every root-count change or change of a handle's flag happens inside a mutator guard, so the
//! collector (which stops the world, then flushes the root caches) sees a consistent graph.

use std::marker::PhantomData;
use std::num::NonZeroUsize;
use std::sync::atomic::Ordering::Relaxed;

use super::barrier::shade;
use super::mutator::{with_guard, Mutator};
use super::visit::{Pass, Trace, Visitor};

const ROOTED: usize = 1;

/// Per-type information the collector reads from an object's span (objects have no header:
/// every object in a span has the span's type, span.rs).
///
/// # Safety (of calling the functions)
/// The `usize` is the address of a live object in a span whose `vt` is this very table (so it
/// is a `T` of the table's `T`); `trace` runs while the world is stopped or under the marking
/// protocol, `drop` once, on a dead object nobody can reach.
pub(crate) struct VTable {
    /// Marks the object's children. See the struct's safety section.
    pub trace: unsafe fn(usize, &mut super::mark::Marker),
    /// Drops the value in place. See the struct's safety section.
    pub drop: unsafe fn(usize),
    /// `std::any::type_name` of the value, for error messages.
    pub name: fn() -> &'static str,
}

impl VTable {
    /// The type of spans that never hold objects (unit tests of the span layout).
    #[allow(dead_code)]
    pub(crate) const NONE: &'static VTable = &VTable {
        trace: |_, _| unreachable!("gort gc: tracing an untyped span"),
        drop: |_| unreachable!("gort gc: dropping from an untyped span"),
        name: || "<untyped>",
    };
}

/// The type-erased part of a handle; what visitors see. The object's address, with the
/// rooted flag in bit 0. Non-zero, so `Option<Gc<T>>` is one word. It is written only with
/// exclusive access (`&mut`: the unroot and root passes), inside guards.
#[doc(hidden)]
pub struct RawHandle {
    word: NonZeroUsize,
}

impl RawHandle {
    /// Address of the object.
    #[inline]
    pub(crate) fn addr(&self) -> usize {
        self.word.get() & !ROOTED
    }

    #[inline]
    fn rooted(&self) -> bool {
        self.word.get() & ROOTED != 0
    }

    #[inline]
    fn new_rooted(addr: usize) -> RawHandle {
        RawHandle {
            word: NonZeroUsize::new(addr | ROOTED).unwrap(),
        }
    }

    /// The object's `rc` (tests: between pauses it is not the root count, rootcache.rs).
    #[cfg(test)]
    pub(crate) fn rc(&self) -> &std::sync::atomic::AtomicU32 {
        let a = self.addr();
        // SAFETY: a handle always points at a live object (the rooting invariant), whose
        // span header lives at the 64 KiB boundary below it.
        let s = unsafe { &*super::span::Span::of(a) };
        s.rc(s.index_of(a))
    }

    /// Unroot pass: the handle moved into the heap. Called inside a guard on `m`'s thread.
    pub(crate) fn unroot(&mut self, m: &Mutator) {
        assert!(self.rooted(), "gort gc: unrooting a handle twice");
        count(m, self.addr(), -1);
        self.word = NonZeroUsize::new(self.addr()).unwrap();
    }

    /// Root pass: a heap cell's contents are borrowed mutably. Called inside a guard on `m`'s
    /// thread.
    pub(crate) fn root(&mut self, m: &Mutator) {
        assert!(!self.rooted(), "gort gc: rooting a handle twice");
        count(m, self.addr(), 1);
        self.word = NonZeroUsize::new(self.addr() | ROOTED).unwrap();
    }
}

/// A root-count change of the live object at `addr`: shaded if a mark runs (the barrier),
/// counted in this thread's root cache (rootcache.rs). Inside a guard on `m`'s thread.
#[inline(always)]
pub(crate) fn count(m: &Mutator, addr: usize, d: isize) {
    shade(m, addr);
    // SAFETY: inside a guard on the owner thread (caller), and no other reference to the
    // cache is live here (`shade` returned).
    unsafe { m.cache() }.roots.add(addr, d);
}

impl RawHandle {}

/// Implemented by gort's own visitors (seals [`Visitor`]).
pub(crate) trait GcMarker {}

/// A handle to a `T` on the GC heap (Go's pointer): `Clone` copies the handle, not the value.
///
/// `T` is shared and immutable; mutate through [`GcCell`](super::GcCell) fields (their writes
/// are the write barrier) or through atomics and locks in `#[gc(skip)]` fields.
///
/// `Gc<T>` is `Send` and `Sync` when `T` is `Send + Sync` (like `Arc<T>`).
pub struct Gc<T: Trace> {
    raw: RawHandle,
    _t: PhantomData<*const T>,
}

// SAFETY: a Gc gives shared access to T from any thread that holds it (needs T: Sync) and the
// object may be dropped by whichever thread collects (needs T: Send); rc and the flag are atomic.
unsafe impl<T: Trace + Send + Sync> Send for Gc<T> {}
// SAFETY: as above.
unsafe impl<T: Trace + Send + Sync> Sync for Gc<T> {}

/// `VTable::trace` for `T`.
///
/// # Safety
/// `addr` is a live `T` (see `VTable`).
unsafe fn trace_box<T: Trace>(addr: usize, m: &mut super::mark::Marker) {
    // SAFETY: `addr` is a marked object of type T (its span's type named this function),
    // alive while marking runs (nothing is freed then).
    let b = unsafe { &*(addr as *const T) };
    b.trace(m)
}

/// `VTable::drop` for `T`.
///
/// # Safety
/// `addr` is a dead, unreachable `T`, dropped only here and only once (see `VTable`).
unsafe fn drop_box<T: Trace>(addr: usize) {
    // SAFETY: `addr` is a dead object of type T that nobody can reach; it is dropped once
    // (the collector moved it to the `fin` state exactly once).
    unsafe { std::ptr::drop_in_place(addr as *mut T) }
}

struct Vt<T>(PhantomData<T>);
impl<T: Trace> Vt<T> {
    const CLASS: Option<usize> =
        super::sizeclass::class_for(std::mem::size_of::<T>(), std::mem::align_of::<T>());
    const VT: VTable = VTable {
        trace: trace_box::<T>,
        drop: drop_box::<T>,
        name: std::any::type_name::<T>,
    };
}

pub(crate) struct Unroot<'a>(pub &'a Mutator);
impl GcMarker for Unroot<'_> {}
impl Visitor for Unroot<'_> {
    fn pass(&self) -> Pass {
        Pass::Unroot
    }
    fn visit(&mut self, _: &RawHandle) {
        unreachable!("rooting passes use trace_mut")
    }
    #[inline]
    fn visit_mut(&mut self, h: &mut RawHandle) {
        h.unroot(self.0)
    }
}

pub(crate) struct Root<'a>(pub &'a Mutator);
impl GcMarker for Root<'_> {}
impl Visitor for Root<'_> {
    fn pass(&self) -> Pass {
        Pass::Root
    }
    fn visit(&mut self, _: &RawHandle) {
        unreachable!("rooting passes use trace_mut")
    }
    #[inline]
    fn visit_mut(&mut self, h: &mut RawHandle) {
        h.root(self.0)
    }
}
pub(crate) use Unroot as UnrootPass;

impl<T: Trace + Send> Gc<T> {
    /// Moves `value` onto the GC heap (may first run a collection, as Go's `new` may assist).
    pub fn new(value: T) -> Gc<T> {
        super::mutator::preempt_point();
        super::collect::maybe_collect(std::mem::size_of::<T>());
        let g = with_guard(|m| {
            let size = std::mem::size_of::<T>();
            let align = std::mem::align_of::<T>();
            // SAFETY: inside a guard with this thread's record; the slot's span is typed with
            // T's table, and a T is written below, inside this guard.
            let addr = unsafe {
                super::alloc::alloc(m, Vt::<T>::CLASS, size, align, T::NEEDS_DROP, &Vt::<T>::VT)
            };
            let p = addr as *mut T;
            let mut value = value;
            value.trace_mut(&mut Unroot(m));
            // SAFETY: `alloc` returned a fresh slot of at least `size` bytes, aligned.
            unsafe { p.write(value) };
            // The new handle's count (the slot's `rc` is 0, alloc.rs). Not `count`: the
            // object is new (black if a mark runs), there is nothing to shade.
            // SAFETY: inside the guard on this thread; no other reference to the cache.
            unsafe { m.cache() }.roots.add(addr, 1);
            Gc {
                raw: RawHandle::new_rooted(addr),
                _t: PhantomData,
            }
        });
        if super::allocfreetrace::ON.load(Relaxed) {
            let addr = g.raw.addr();
            // SAFETY: `g` roots the object, so its span stays mapped; a span's slot size is
            // fixed while it holds objects.
            let size = unsafe { (*super::span::Span::of(addr)).elemsize };
            super::allocfreetrace::alloc(addr, size, std::any::type_name::<T>());
        }
        g
    }
}

impl<T: Trace> Gc<T> {
    /// Whether two handles point at the same object.
    pub fn ptr_eq(a: &Gc<T>, b: &Gc<T>) -> bool {
        a.raw.addr() == b.raw.addr()
    }

    /// The object's address (stable: the collector never moves objects).
    pub fn as_ptr(this: &Gc<T>) -> *const T {
        this.raw.addr() as *const T
    }
}

/// For weak handles (`weak.rs`).
impl<T: Trace> Gc<T> {
    /// The handle's raw part (object address, root count).
    #[inline]
    pub(crate) fn raw(this: &Gc<T>) -> &RawHandle {
        &this.raw
    }

    /// A rooted handle to the object at `addr`.
    ///
    /// # Safety
    /// Called inside a guard; `addr` is a live object of type `T` (not freed, not in the `fin`
    /// state); the caller counts the new handle in its root count (`rc += 1`) in the same
    /// guard, before anything can drop the handle.
    #[inline]
    pub(crate) unsafe fn from_rooted_addr(addr: usize) -> Gc<T> {
        Gc {
            raw: RawHandle::new_rooted(addr),
            _t: PhantomData,
        }
    }
}

impl<T: Trace> std::ops::Deref for Gc<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the object is alive: this handle is rooted, or it is inside an object that
        // the caller reached through a rooted handle and borrows (the rooting invariant); the
        // collector never writes a live object's value.
        unsafe { &*(self.raw.addr() as *const T) }
    }
}

impl<T: Trace> Clone for Gc<T> {
    // Always inlined, as its fast path is a few instructions once inside the caller (the
    // slow paths are out of line): an `Arc` clone's cost without its shared atomic.
    #[inline(always)]
    fn clone(&self) -> Gc<T> {
        super::mutator::preempt_point();
        let addr = self.raw.addr();
        count_here(addr, 1);
        Gc {
            raw: RawHandle::new_rooted(addr),
            _t: PhantomData,
        }
    }
}

impl<T: Trace> Drop for Gc<T> {
    #[inline(always)]
    fn drop(&mut self) {
        // An unrooted handle is an edge inside a (dead, being dropped) object: nothing to do,
        // and its target must not be touched (it may be freed already).
        if self.raw.rooted() {
            let addr = self.raw.addr();
            count_here(addr, -1);
        }
    }
}

// SAFETY: visits its one handle.
unsafe impl<T: Trace> Trace for Gc<T> {
    #[inline]
    fn trace<V: Visitor>(&self, v: &mut V) {
        v.visit(&self.raw)
    }
    #[inline]
    fn trace_mut<V: Visitor>(&mut self, v: &mut V) {
        v.visit_mut(&mut self.raw)
    }
    const NEEDS_DROP: bool = false;
}

impl<T: Trace + std::fmt::Debug> std::fmt::Debug for Gc<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

/// Pointer identity, as Go's `==` on pointers: two handles are equal when they point at the
/// same object (compare the values with `*a == *b`). With `Hash` and `Ord` by address, a
/// `Gc<T>` is a key of `HashSet`/`HashMap`/`BTreeMap` (a visited set over a graph) for any `T`;
/// addresses are stable (the collector never moves objects) but differ between runs.
///
/// ```
/// let a = gort::Gc::new(1u32);
/// let b = gort::Gc::new(1u32);
/// assert!(a == a.clone() && a != b && *a == *b);
/// let seen: std::collections::HashSet<_> = [a.clone(), a.clone(), b].into_iter().collect();
/// assert_eq!(seen.len(), 2);
/// ```
impl<T: Trace> PartialEq for Gc<T> {
    #[inline]
    fn eq(&self, o: &Gc<T>) -> bool {
        Gc::ptr_eq(self, o)
    }
}

impl<T: Trace> Eq for Gc<T> {}

/// The object's address (without the handle's rooted flag, which differs between a handle and
/// its clone).
impl<T: Trace> std::hash::Hash for Gc<T> {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.raw.addr().hash(h)
    }
}

/// By address: a total order consistent with `==`, stable for the objects' lives.
impl<T: Trace> PartialOrd for Gc<T> {
    #[inline]
    fn partial_cmp(&self, o: &Gc<T>) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl<T: Trace> Ord for Gc<T> {
    #[inline]
    fn cmp(&self, o: &Gc<T>) -> std::cmp::Ordering {
        self.raw.addr().cmp(&o.raw.addr())
    }
}

/// For `AtomicGc` (`atomic.rs`), which stores a handle's word in an `AtomicUsize`.
/// A root-count change of the live object at `addr` by this thread, outside any guard:
/// `mutator::count_fast`, else a guard around `count`.
#[inline(always)]
fn count_here(addr: usize, d: isize) {
    if !super::mutator::count_fast(addr, d) {
        count_slow(addr, d)
    }
}

#[cold]
#[inline(never)]
fn count_slow(addr: usize, d: isize) {
    with_guard(|m| count(m, addr, d))
}

impl RawHandle {
    /// The handle's word: the object's address, with the rooted flag in bit 0.
    #[inline]
    pub(crate) fn word(&self) -> usize {
        self.word.get()
    }

    /// A view of a handle word (rooted or not). Building one changes no root count; the caller
    /// keeps the word's meaning (a word read from a live field names an allocated object).
    #[inline]
    pub(crate) fn from_word(word: NonZeroUsize) -> RawHandle {
        RawHandle { word }
    }
}

/// For `AtomicGc` (`atomic.rs`): moving a rooted handle into and out of a word.
impl<T: Trace> Gc<T> {
    /// The handle's word (rooted), without dropping the handle: its count in `rc` moves to
    /// whoever keeps the word.
    #[inline]
    pub(crate) fn into_word(this: Gc<T>) -> usize {
        let w = this.raw.word();
        std::mem::forget(this);
        w
    }

    /// Takes back a rooted handle from its word.
    ///
    /// # Safety
    /// `word` came from `into_word` of a `Gc<T>` (so the object is a `T`) and its count in
    /// `rc` is still held (the handle was not dropped or unrooted since): this returns that
    /// ownership. Needs no guard (no count changes).
    #[inline]
    pub(crate) unsafe fn from_word(word: usize) -> Gc<T> {
        debug_assert!(word & ROOTED != 0 && word != ROOTED);
        Gc {
            raw: RawHandle::from_word(NonZeroUsize::new(word).unwrap()),
            _t: PhantomData,
        }
    }
}
