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
    std::time::Instant
);

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
