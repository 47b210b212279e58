//! `Pool<T>`: Go's sync.Pool, a cache of reusable values with one slot per P.
//!
//! Each slot is a small spin-locked stack. The current slot is chosen per OS thread: gort
//! binds each P to one M (thread) for life, so a per-thread index (assigned round-robin on a
//! thread's first use, i.e. a perfect hash of the thread id) maps each P to its own slot
//! without asking the scheduler. `get` looks in its own slot first, then steals from the
//! others, then calls `new`. A pool is emptied by each GC cycle, as Go's (lazily: the first
//! `get` or `put` after a cycle drops what the pool held; Go keeps a one-cycle victim cache,
//! gort does not).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use crate::rt::spinlock::SpinLock;

#[repr(align(128))]
struct Slot<T> {
    items: SpinLock<Vec<T>>,
}

type NewFn<T> = Box<dyn Fn() -> T + Send + Sync>;

/// A set of temporary values that may be reused (Go's sync.Pool).
///
/// ```
/// let pool = gort::sync::Pool::new(|| Vec::<u8>::with_capacity(1024));
/// let mut buf = pool.get();
/// buf.clear();
/// pool.put(buf);
/// ```
pub struct Pool<T> {
    slots: Box<[Slot<T>]>,
    new: Option<NewFn<T>>,
    /// GC cycles seen: when `gort::gc::num_gc()` moves past it, the pool is cleared.
    epoch: AtomicU64,
}

impl<T> std::fmt::Debug for Pool<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pool {{ slots: {} }}", self.slots.len())
    }
}

fn thread_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static IDX: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    IDX.with(|i| {
        if i.get() == usize::MAX {
            i.set(NEXT.fetch_add(1, Relaxed));
        }
        i.get()
    })
}

fn nslots() -> usize {
    if crate::rt::sched::park::in_goroutine() {
        crate::gomaxprocs()
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

impl<T> Pool<T> {
    /// A pool whose `get` calls `new` when empty.
    pub fn new(new: impl Fn() -> T + Send + Sync + 'static) -> Self {
        Pool {
            slots: Self::make_slots(),
            new: Some(Box::new(new)),
            epoch: AtomicU64::new(crate::gc::num_gc()),
        }
    }

    /// A pool without a constructor: use [`try_get`](Self::try_get).
    pub fn empty() -> Self {
        Pool {
            slots: Self::make_slots(),
            new: None,
            epoch: AtomicU64::new(crate::gc::num_gc()),
        }
    }

    fn make_slots() -> Box<[Slot<T>]> {
        (0..nslots().max(1))
            .map(|_| Slot {
                items: SpinLock::new(Vec::new()),
            })
            .collect()
    }

    fn home(&self) -> usize {
        let n = crate::gc::num_gc();
        if self.epoch.load(Relaxed) != n && self.epoch.swap(n, Relaxed) != n {
            for s in self.slots.iter() {
                let old = std::mem::take(&mut *s.items.lock());
                drop(old);
            }
        }
        thread_index() % self.slots.len()
    }

    /// A cached value, if any (own slot first, then the others).
    pub fn try_get(&self) -> Option<T> {
        crate::rt::loom::preempt_point();
        let h = self.home();
        let n = self.slots.len();
        (0..n).find_map(|i| self.slots[(h + i) % n].items.lock().pop())
    }

    /// A cached value, or a new one.
    ///
    /// # Panics
    /// If the pool is empty and has no constructor.
    pub fn get(&self) -> T {
        match self.try_get() {
            Some(v) => v,
            None => (self
                .new
                .as_ref()
                .expect("sync: Pool::get on an empty pool without new"))(),
        }
    }

    /// Returns a value to the pool.
    pub fn put(&self, v: T) {
        crate::rt::loom::preempt_point();
        self.slots[self.home()].items.lock().push(v);
    }
}
