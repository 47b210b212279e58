//! Goroutine-local storage: [`GoroutineLocal`] and [`goroutine_local!`](crate::goroutine_local).
//!
//! # The problem
//!
//! `thread_local!` is per OS thread, and the goroutines of one P share its thread: a value
//! set by one goroutine is seen by every other goroutine of that P after a park, and a
//! `RefCell` in a thread-local held across a park is "already borrowed" for the next
//! goroutine that touches it. Per-request context (a request id, a tracing span, a buffer)
//! wants a slot per goroutine.
//!
//! # How
//!
//! Each key gets a process-wide index on first use. Each goroutine record holds a vector of
//! boxed values indexed by key, created lazily by the key's initialiser on the goroutine's
//! first access and dropped when the goroutine's body has returned, on its own stack and
//! thread (after its result went to its `JoinHandle`). Outside goroutines (plain threads) a
//! key falls back to one value per thread, as `thread_local!` would. An access is the
//! current-goroutine load, a bounds check and a type check: a few nanoseconds (measured by
//! `BenchmarkGoroutineLocal` in `benches/runtime.rs`).
//!
//! # Access rules
//!
//! `G::locals` is touched only by the goroutine itself (its own code on its own stack, which
//! never changes thread), like `G::locked`. A `&T` handed to `with` stays valid while the
//! closure runs: values are boxed (the vector may grow under a nested `with` of another key,
//! but a box never moves) and removed only after the goroutine's body returned. A goroutine
//! that never finishes (its runtime shut down while it was parked) leaks its values rather
//! than dropping them on another thread, as its stack is leaked.

use std::any::Any;
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use super::park::current;

/// The values of one goroutine (or one plain thread), indexed by key.
pub(crate) type Locals = Vec<Option<Box<dyn Any>>>;

/// Key indices handed out so far.
static NEXT_KEY: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Values of keys used outside goroutines, per plain thread.
    static THREAD_LOCALS: RefCell<Locals> = const { RefCell::new(Vec::new()) };
}

/// A key for goroutine-local values of type `T`: each goroutine sees its own value, made by
/// the key's initialiser on its first access and dropped when the goroutine ends. Declare one
/// with [`goroutine_local!`](crate::goroutine_local).
///
/// ```
/// use std::cell::Cell;
/// gort::goroutine_local!(static REQUEST_ID: Cell<u64> = Cell::new(0));
///
/// let rt = gort::Builder::new().gomaxprocs(1).build().unwrap();
/// rt.block_on(|| {
///     let hs: Vec<_> = (1..=3u64)
///         .map(|id| {
///             gort::go(move || {
///                 REQUEST_ID.with(|r| r.set(id));
///                 gort::yield_now(); // the other goroutines of this P run and set theirs
///                 REQUEST_ID.with(|r| r.get())
///             })
///         })
///         .collect();
///     let seen: Vec<u64> = hs.into_iter().map(|h| h.join().unwrap()).collect();
///     assert_eq!(seen, [1, 2, 3]);
/// });
/// ```
pub struct GoroutineLocal<T: 'static> {
    init: fn() -> T,
    /// 1 + the key's index, 0 until first use.
    key: AtomicUsize,
}

impl<T: 'static> GoroutineLocal<T> {
    /// A key whose values start as `init()`. Use [`goroutine_local!`](crate::goroutine_local).
    pub const fn new(init: fn() -> T) -> GoroutineLocal<T> {
        GoroutineLocal {
            init,
            key: AtomicUsize::new(0),
        }
    }

    fn index(&self) -> usize {
        let k = self.key.load(Relaxed);
        if k != 0 {
            return k - 1;
        }
        let fresh = NEXT_KEY.fetch_add(1, Relaxed) + 1;
        match self.key.compare_exchange(0, fresh, Relaxed, Relaxed) {
            Ok(_) => fresh - 1,
            Err(won) => won - 1, // another thread numbered it first; `fresh` stays unused
        }
    }

    /// Calls `f` with this goroutine's value (made by the initialiser on first access).
    /// Outside goroutines, with the calling thread's value.
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        let i = self.index();
        let v = match current() {
            Some((_, g)) => {
                let locals = g.locals.get();
                // SAFETY: we are this goroutine (`current`), the only party that touches its
                // locals (module access rules); each borrow below ends before any user code
                // (the initialiser, a displaced value's drop) runs.
                self.get_or_init(i, |op| op(unsafe { &mut *locals }))
            }
            None => self.get_or_init(i, |op| THREAD_LOCALS.with(|t| op(&mut t.borrow_mut()))),
        };
        // SAFETY: `v` points into a box owned by this goroutine's (or thread's) locals, which
        // is neither moved nor dropped before the goroutine's body returns (module access
        // rules; a thread's values live until the thread exits), so it outlives `f`.
        f(unsafe { &*v })
    }

    /// The value of key `i`, made by the initialiser if absent. `locals` runs an operation on
    /// the vector; the initialiser runs between two such operations, with no borrow held, so
    /// it may use other keys (or this one: the first value stored wins).
    fn get_or_init(
        &self,
        i: usize,
        locals: impl Fn(&mut dyn FnMut(&mut Locals) -> Option<*const T>) -> Option<*const T>,
    ) -> *const T {
        let get = |l: &mut Locals| {
            l.get(i)
                .and_then(|b| b.as_ref())
                .map(|b| b.downcast_ref::<T>().expect("a key holds one type") as *const T)
        };
        if let Some(v) = locals(&mut { get }) {
            return v;
        }
        let mut fresh: Option<Box<dyn Any>> = Some(Box::new((self.init)()));
        let v = locals(&mut |l: &mut Locals| {
            if let Some(v) = get(l) {
                return Some(v); // a nested access stored one first: keep it, drop ours below
            }
            if l.len() <= i {
                l.resize_with(i + 1, || None);
            }
            let b = l[i].insert(fresh.take().expect("inserted once"));
            Some(b.downcast_ref::<T>().expect("a key holds one type") as *const T)
        });
        drop(fresh); // outside the borrow: a value's drop may use goroutine locals
        v.expect("just stored")
    }
}

/// Declares [`GoroutineLocal`] keys, like `thread_local!`:
/// `gort::goroutine_local!(static NAME: Type = init_expr);`
#[macro_export]
macro_rules! goroutine_local {
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr $(;)?) => {
        $(#[$attr])*
        $vis static $name: $crate::GoroutineLocal<$t> = $crate::GoroutineLocal::new(|| $init);
    };
}
