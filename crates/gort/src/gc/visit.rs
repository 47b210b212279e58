//! The `Trace` trait: how the collector (and the rooting passes) find the GC handles inside a
//! value, and its implementations for std types.
//!
//! A `Trace` impl visits every [`Gc`](super::Gc) handle and [`GcCell`](super::GcCell) the value
//! holds *directly* (not through another `Gc`). The same method serves three passes: marking,
//! unrooting (when the value moves into the heap) and rooting (when a `GcCell` in the heap is
//! borrowed mutably). `#[derive(Trace)]` writes it; `#[gc(skip)]` leaves out a field that holds
//! no handles (a skipped field that does hold handles keeps them rooted: a leak, never a
//! dangling pointer).

use super::handle::RawHandle;

/// Which pass is visiting.
#[doc(hidden)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Pass {
    /// Marking or check-marking (the world is stopped).
    Mark,
    /// The value moved into the heap: its handles stop being roots.
    Unroot,
    /// A heap `GcCell` is borrowed mutably: its contents become roots while the borrow lasts.
    Root,
}

mod sealed {
    pub trait Sealed {}
}

/// A pass over the handles of a value; implemented only inside gort.
pub trait Visitor: sealed::Sealed {
    #[doc(hidden)]
    fn pass(&self) -> Pass;
    /// Marking: read the handle.
    #[doc(hidden)]
    fn visit(&mut self, h: &RawHandle);
    /// Rooting or unrooting: flip the handle's flag (exclusive access).
    #[doc(hidden)]
    fn visit_mut(&mut self, h: &mut RawHandle);
}

/// Values the GC heap can hold: they report every GC handle they contain.
///
/// # Safety
///
/// `trace` and `trace_mut` must visit (call `trace` / `trace_mut` on) the same fields: every
/// `Gc`, `GcCell` or other `Trace` field that can contain a handle, exactly once, and nothing
/// else (skipping a field is allowed and only leaks what it holds): in particular not a handle that is not
/// part of `self`. It must not allocate on the GC heap, block, or run user code. The type must
/// not implement `Drop` in a way that dereferences a `Gc` (a dead object's handles may point to
/// objects freed in the same cycle); `#[derive(Trace)]` forbids `Drop` on the type altogether.
/// Prefer the derive, which upholds all of this.
///
/// # Implementations for std types
///
/// | type | what is visited |
/// |---|---|
/// | numbers, `bool`, `char`, `String`, `&'static str`, `Duration`, `Instant`, atomics | nothing (no handles) |
/// | `Option`, `Box`, `Vec`, `VecDeque`, arrays, tuples (up to 12) | every element |
/// | `HashMap`, `BTreeMap` | every value; keys are not visited (they stay rooted: a leak, never a dangling pointer) |
/// | `HashSet`, `BTreeSet` | every element: rooting rebuilds the set (a set gives no `&mut` to its elements), running the elements' `Hash`/`Eq`/`Ord` |
/// | `Arc<T>` | nothing: its contents stay rooted (see below) |
///
/// An `Arc<T>` may be shared: a clone can be made from `&Arc` (so from inside the heap) and
/// kept anywhere, and Rust code holding it must see rooted handles. So its contents are never
/// unrooted: any `T: 'static` can be stored, and a `Gc` inside keeps its object (and what it
/// reaches) alive while the `Arc` lives; a cycle through an `Arc` is never collected. Use
/// `Gc<T>` itself for shared, traced data.
///
/// A type that is not `Trace` cannot go on the heap; the compiler says how to fix it:
///
/// ```compile_fail,E0277
/// struct Config { name: String }      // no #[derive(Trace)]
/// let _g = gort::Gc::new(Config { name: "x".into() });
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be stored on gort's GC heap: it does not implement `Trace`",
    label = "`{Self}` is not `Trace`",
    note = "add `#[derive(gort::gc::Trace)]` to the type; mark a field that holds no `Gc` handles \
            (a lock, a channel, a type from another crate) with `#[gc(skip)]` to leave it out"
)]
pub unsafe trait Trace: 'static {
    /// Visits the handles directly inside `self` (marking).
    fn trace<V: Visitor>(&self, v: &mut V);
    /// Visits them with exclusive access (rooting and unrooting).
    fn trace_mut<V: Visitor>(&mut self, v: &mut V);
    /// Whether dropping a dead object of this type must run code. `false` lets the sweeper
    /// free it with bitmap operations only. A wrong `false` leaks, it is never unsound.
    const NEEDS_DROP: bool = std::mem::needs_drop::<Self>();
}

impl<T: super::handle::GcMarker> sealed::Sealed for T {}

macro_rules! leaf {
    ($($t:ty),*) => {$(
        // SAFETY: holds no GC handles.
        unsafe impl Trace for $t {
            #[inline]
            fn trace<V: Visitor>(&self, _: &mut V) {}
            #[inline]
            fn trace_mut<V: Visitor>(&mut self, _: &mut V) {}
        }
    )*};
}
leaf!(
    (),
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    String,
    &'static str,
    std::time::Duration,
    std::time::Instant,
    std::sync::atomic::AtomicBool,
    std::sync::atomic::AtomicI8,
    std::sync::atomic::AtomicI16,
    std::sync::atomic::AtomicI32,
    std::sync::atomic::AtomicI64,
    std::sync::atomic::AtomicIsize,
    std::sync::atomic::AtomicU8,
    std::sync::atomic::AtomicU16,
    std::sync::atomic::AtomicU32,
    std::sync::atomic::AtomicU64,
    std::sync::atomic::AtomicUsize
);

// SAFETY: a raw pointer is not a GC handle (a `Gc` turned into a pointer with `Gc::as_ptr`
// keeps nothing alive, as documented there); nothing to visit.
unsafe impl<T: 'static> Trace for std::sync::atomic::AtomicPtr<T> {
    #[inline]
    fn trace<V: Visitor>(&self, _: &mut V) {}
    #[inline]
    fn trace_mut<V: Visitor>(&mut self, _: &mut V) {}
}

// SAFETY: visits nothing, in both methods, which the contract allows (a skipped field leaks
// what it holds, never dangles). It must: the contents may be shared with clones outside the
// heap (and `Arc::clone(&field)` makes one from inside it at any time), whose holders deref
// the handles in `T` as ordinary rooted handles; unrooting them through a unique `Arc` would
// leave such a clone with edges of a heap object that may die first. Never unrooted, the
// handles in `T` keep their root counts, so their targets outlive the `Arc`.
unsafe impl<T: ?Sized + 'static> Trace for std::sync::Arc<T> {
    #[inline]
    fn trace<V: Visitor>(&self, _: &mut V) {}
    #[inline]
    fn trace_mut<V: Visitor>(&mut self, _: &mut V) {}
}

// SAFETY: visits the contents, if any.
unsafe impl<T: Trace> Trace for Option<T> {
    #[inline]
    fn trace<V: Visitor>(&self, v: &mut V) {
        if let Some(x) = self {
            x.trace(v)
        }
    }
    #[inline]
    fn trace_mut<V: Visitor>(&mut self, v: &mut V) {
        if let Some(x) = self {
            x.trace_mut(v)
        }
    }
    const NEEDS_DROP: bool = T::NEEDS_DROP;
}

// SAFETY: visits the contents.
unsafe impl<T: Trace> Trace for Box<T> {
    fn trace<V: Visitor>(&self, v: &mut V) {
        (**self).trace(v)
    }
    fn trace_mut<V: Visitor>(&mut self, v: &mut V) {
        (**self).trace_mut(v)
    }
}

/// `Trace` for a collection by iterating its elements (`$iter`/`$iter_mut` name the by-ref
/// iterators: `iter`/`iter_mut` for sequences, `values`/`values_mut` for maps).
macro_rules! trace_collection {
    ($why:literal, [$($g:tt)*] $ty:ty, $iter:ident, $iter_mut:ident) => {
        #[doc = $why]
        // SAFETY: visits every element (see the doc line above for what is not visited).
        unsafe impl<$($g)*> Trace for $ty {
            fn trace<V: Visitor>(&self, v: &mut V) {
                for x in self.$iter() {
                    x.trace(v)
                }
            }
            fn trace_mut<V: Visitor>(&mut self, v: &mut V) {
                for x in self.$iter_mut() {
                    x.trace_mut(v)
                }
            }
        }
    };
}

trace_collection!("Visits every element.", [T: Trace] Vec<T>, iter, iter_mut);
trace_collection!(
    "Visits every element.",
    [T: Trace] std::collections::VecDeque<T>,
    iter,
    iter_mut
);
trace_collection!(
    "Visits every value. Keys are not visited (a key holding handles keeps them rooted: a \
     leak, never a dangling pointer), because a map gives no `&mut` access to its keys.",
    [K: 'static, T: Trace, S: 'static] std::collections::HashMap<K, T, S>,
    values,
    values_mut
);
trace_collection!(
    "As for `HashMap`: values visited, keys not.",
    [K: 'static, T: Trace] std::collections::BTreeMap<K, T>,
    values,
    values_mut
);

/// Aborts the process if dropped while unwinding: rebuilding a set during a rooting pass calls
/// the elements' `Hash`/`Eq`/`Ord`, and a panic out of a pass (say inside `Gc::new`, whose
/// slot is allocated but not yet written) cannot be recovered from (DESIGN.md: a throw).
struct AbortOnUnwind(&'static str);

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        super::gctrace::gc_eprintln!(
            "fatal error: gort gc: {} panicked while rooting a set",
            self.0
        );
        std::process::abort();
    }
}

// SAFETY: visits every element, once, in both methods. `trace` iterates. `trace_mut` needs
// `&mut` to each element, which a set does not give (changing an element could change its
// hash): it moves them all out (`drain`, which keeps the table's capacity), visits each, and
// inserts them back. Flipping a handle's rooted flag changes no `Hash` or `Eq` (a `Gc` hashes
// and compares its object's address, without the flag), so the same elements go back; should
// a broken `Eq` make two of them equal, the one dropped is a handle in the state the pass just
// gave it (unrooted: nothing to do; rooted: its count is released, re-entrantly). The pass
// runs inside a guard, where user code must not allocate on the GC heap: the elements'
// `Hash`/`Eq` (derived ones never do) and `S`'s hasher are the only other code run; a panic
// from them aborts the process (`AbortOnUnwind`) instead of unwinding out of the pass. The
// collector marks a set only while no pass runs on it: a set on the heap is only reachable
// mutably through a `GcCell` borrow, which markers skip (cell.rs).
unsafe impl<T, S> Trace for std::collections::HashSet<T, S>
where
    T: Trace + Eq + std::hash::Hash,
    S: std::hash::BuildHasher + 'static,
{
    fn trace<V: Visitor>(&self, v: &mut V) {
        for x in self {
            x.trace(v)
        }
    }
    fn trace_mut<V: Visitor>(&mut self, v: &mut V) {
        if self.is_empty() {
            return;
        }
        let abort = AbortOnUnwind("a HashSet element's Hash or Eq");
        let mut items: Vec<T> = self.drain().collect();
        for x in &mut items {
            x.trace_mut(v)
        }
        self.extend(items);
        std::mem::forget(abort);
    }
}

// SAFETY: as for `HashSet`: visits every element, once, in both methods; `trace_mut` takes the
// elements out in order, visits each, and rebuilds the set from them (a `Gc` orders by its
// object's address, without the flag, so the order and the elements are unchanged). Its
// elements' `Ord` is the only other code run; a panic from it aborts.
unsafe impl<T: Trace + Ord> Trace for std::collections::BTreeSet<T> {
    fn trace<V: Visitor>(&self, v: &mut V) {
        for x in self {
            x.trace(v)
        }
    }
    fn trace_mut<V: Visitor>(&mut self, v: &mut V) {
        if self.is_empty() {
            return;
        }
        let abort = AbortOnUnwind("a BTreeSet element's Ord");
        *self = std::mem::take(self)
            .into_iter()
            .map(|mut x| {
                x.trace_mut(v);
                x
            })
            .collect();
        std::mem::forget(abort);
    }
}

// SAFETY: visits every element.
unsafe impl<T: Trace, const N: usize> Trace for [T; N] {
    fn trace<V: Visitor>(&self, v: &mut V) {
        for x in self {
            x.trace(v)
        }
    }
    fn trace_mut<V: Visitor>(&mut self, v: &mut V) {
        for x in self {
            x.trace_mut(v)
        }
    }
    const NEEDS_DROP: bool = T::NEEDS_DROP;
}

macro_rules! tuple {
    ($($n:tt $t:ident),*) => {
        // SAFETY: visits every field.
        unsafe impl<$($t: Trace),*> Trace for ($($t,)*) {
            fn trace<VV: Visitor>(&self, v: &mut VV) {
                $(self.$n.trace(v);)*
            }
            fn trace_mut<VV: Visitor>(&mut self, v: &mut VV) {
                $(self.$n.trace_mut(v);)*
            }
            const NEEDS_DROP: bool = false $(|| $t::NEEDS_DROP)*;
        }
    };
}
tuple!(0 A);
tuple!(0 A, 1 B);
tuple!(0 A, 1 B, 2 C);
tuple!(0 A, 1 B, 2 C, 3 D);
tuple!(0 A, 1 B, 2 C, 3 D, 4 E);
tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F);
tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G);
tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H);
tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I);
tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J);
tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K);
tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L);
