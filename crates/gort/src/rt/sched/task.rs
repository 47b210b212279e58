//! A goroutine's body (the user's closure) and its result packet, stored inside its G record.
//!
//! # Why inside the G
//!
//! Spawning used to allocate the closure and its result packet in an `Arc` of their own. The
//! spawning P allocates it and, once the goroutine has been stolen, another P frees it: a
//! producer/consumer pattern that glibc's per-thread caches handle badly (the freeing thread's
//! tcache fills, the allocating thread's empties, both fall into `_int_malloc`/`_int_free` on
//! a shared arena). `perf` showed 25% of the 2-P Spawn benchmark there. G records already
//! travel back to a P's free list (`Local::gfree`, refilled from the global list in batches,
//! as Go's gfree lists do), so the task lives in a fixed inline slot of the record and costs
//! no allocation of its own. A task larger than [`INLINE_BYTES`] (a closure capturing big
//! values by move) falls back to a `Box`.
//!
//! # Layout and type erasure
//!
//! [`Task<F, T>`] is `repr(C)` with its [`Packet<T>`] first, so a pointer to the task is a
//! pointer to its packet whatever `F` is; the `JoinHandle<T>` keeps that pointer and a
//! reference to the G, which keeps the slot alive and unmoved (an `Arc`'s contents never
//! move, and the slot is only rewritten through `Arc::get_mut`, impossible while the handle's
//! reference exists). A `&'static` [`TaskVTable`] per `(F, T)` and storage kind runs, fails
//! and drops the task without knowing its type.
//!
//! # Access rules (extending the G's field access rules)
//!
//! * `install` and `clear`: with `&mut TaskCell`, i.e. a unique G (a new record, a recycled
//!   one from a free list, or one being dropped).
//! * `run` / `fail`: once, by the M that starts the G (on the goroutine's stack for `run`).
//!   They take the closure out of its `UnsafeCell<Option<F>>`; nobody else touches it.
//! * the packet: shared between the goroutine and its `JoinHandle`, synchronised by its
//!   `state` atomic (see [`Packet`]).

use std::cell::UnsafeCell;
use std::mem::{align_of, size_of, MaybeUninit};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::AtomicU8;
use std::sync::atomic::Ordering::{AcqRel, Acquire};

use super::park::Unparker;

/// Bytes of the inline slot; tasks up to this size (and 16-byte alignment) need no allocation.
/// A closure capturing a few handles plus a result of a few words fits.
pub(crate) const INLINE_BYTES: usize = 128;

pub(crate) const EMPTY: u8 = 0;
pub(crate) const WAITING: u8 = 1;
pub(crate) const DONE: u8 = 2;
/// The `JoinHandle` was dropped: the goroutine drops its result instead of storing it.
pub(crate) const DETACHED: u8 = 3;

/// Where a goroutine's result meets its joiner.
///
/// `state` moves `EMPTY -> WAITING -> DONE` (a joiner waits), `EMPTY -> DONE` (finished
/// first), `EMPTY | DONE -> DETACHED` (the handle is dropped). `result` is written by the
/// goroutine before it publishes `DONE` (`AcqRel` swap) and read by the handle only after it
/// observed `DONE` (`Acquire`); `waiter` is written by the joiner before it publishes `WAITING`
/// and read by the goroutine only after its swap observed `WAITING`.
pub(crate) struct Packet<T> {
    pub(crate) state: AtomicU8,
    result: UnsafeCell<Option<std::thread::Result<T>>>,
    waiter: UnsafeCell<Option<Unparker>>,
}

impl<T> Packet<T> {
    fn new() -> Self {
        Packet {
            state: AtomicU8::new(EMPTY),
            result: UnsafeCell::new(None),
            waiter: UnsafeCell::new(None),
        }
    }

    /// The goroutine's side: publishes its result (or drops it if nobody will join).
    fn complete(&self, r: std::thread::Result<T>) {
        if self.state.load(Acquire) == DETACHED {
            drop(r);
            return;
        }
        // SAFETY: only the goroutine writes `result`, once, before publishing DONE; the
        // handle reads it only after observing DONE.
        unsafe { *self.result.get() = Some(r) };
        match self.state.swap(DONE, AcqRel) {
            WAITING => {
                // SAFETY: the joiner wrote `waiter` before publishing WAITING, which we observed.
                if let Some(w) = unsafe { (*self.waiter.get()).take() } {
                    w.unpark();
                }
            }
            DETACHED => {
                // The handle went away between our load and our swap and will not read it.
                // SAFETY: the handle saw EMPTY when it detached, so it never touches `result`.
                drop(unsafe { (*self.result.get()).take() });
            }
            _ => {}
        }
    }

    /// The joiner's side, before waiting: records who to wake and publishes `WAITING`.
    /// Returns false if the goroutine finished first.
    ///
    /// # Safety
    /// Called by the single joiner (the `JoinHandle`'s owner), at most once.
    pub(crate) unsafe fn set_waiter(&self, w: Unparker) -> bool {
        // SAFETY: state is not WAITING yet, so the goroutine does not read `waiter`; only the
        // single joiner writes it (caller's contract).
        unsafe { *self.waiter.get() = Some(w) };
        self.state
            .compare_exchange(EMPTY, WAITING, AcqRel, Acquire)
            .is_ok()
    }

    /// Takes the result.
    ///
    /// # Safety
    /// The caller is the handle and has observed `DONE` with `Acquire`.
    pub(crate) unsafe fn take_result(&self) -> Option<std::thread::Result<T>> {
        // SAFETY: after DONE the goroutine no longer touches `result` (caller's contract).
        unsafe { (*self.result.get()).take() }
    }

    /// The handle's drop: nobody will join; a result already there is dropped now, a later
    /// one by the goroutine.
    ///
    /// # Safety
    /// Called once, by the handle, which no longer uses the packet afterwards.
    pub(crate) unsafe fn detach(&self) {
        if self.state.swap(DETACHED, AcqRel) == DONE {
            // SAFETY: DONE observed (AcqRel): the goroutine is done with `result`.
            drop(unsafe { self.take_result() });
        }
    }
}

/// The closure until the goroutine starts, and the packet its result goes to.
#[repr(C)]
pub(crate) struct Task<F, T> {
    /// First (`repr(C)`): a `*const Task<F, T>` is a `*const Packet<T>` for any `F`.
    packet: Packet<T>,
    f: UnsafeCell<Option<F>>,
}

impl<F, T> Task<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    pub(crate) fn new(f: F) -> Self {
        Task {
            packet: Packet::new(),
            f: UnsafeCell::new(Some(f)),
        }
    }

    const INLINE: TaskVTable = TaskVTable {
        task: Self::inline_task,
        run: Self::run_erased,
        fail: Self::fail_erased,
        drop: Self::drop_inline,
    };

    const BOXED: TaskVTable = TaskVTable {
        task: Self::boxed_task,
        run: Self::run_erased,
        fail: Self::fail_erased,
        drop: Self::drop_boxed,
    };

    /// # Safety
    /// `slot` is a slot holding an inline task (no requirement beyond that: it only returns it).
    unsafe fn inline_task(slot: *mut u8) -> *mut u8 {
        slot
    }

    /// # Safety
    /// `slot` is a slot holding a boxed task's pointer.
    unsafe fn boxed_task(slot: *mut u8) -> *mut u8 {
        // SAFETY: `install` wrote the `Box::into_raw` pointer into the (aligned) slot.
        unsafe { *slot.cast::<*mut u8>() }
    }

    /// # Safety
    /// `slot` holds an initialised inline `Task<F, T>`, dropped only here and only once.
    unsafe fn drop_inline(slot: *mut u8) {
        // SAFETY: caller's contract.
        unsafe { std::ptr::drop_in_place(slot.cast::<Self>()) }
    }

    /// # Safety
    /// `slot` holds the pointer of a boxed `Task<F, T>`, dropped only here and only once.
    unsafe fn drop_boxed(slot: *mut u8) {
        // SAFETY: the pointer came from `Box::into_raw` (caller's contract).
        unsafe { drop(Box::from_raw(*slot.cast::<*mut Self>())) }
    }

    /// # Safety
    /// `task` points at a live `Task<F, T>`; called once, by the goroutine.
    unsafe fn run_erased(task: *mut u8) {
        // SAFETY: caller's contract.
        let task = unsafe { &*task.cast::<Self>() };
        // SAFETY: run once, by the goroutine itself (access rules).
        let f = unsafe { (*task.f.get()).take() }.expect("a goroutine body runs once");
        let r = catch_unwind(AssertUnwindSafe(f));
        task.packet.complete(r);
    }

    /// # Safety
    /// As `run_erased`, by the M that failed to start the goroutine.
    unsafe fn fail_erased(task: *mut u8, msg: String) {
        // SAFETY: caller's contract.
        let task = unsafe { &*task.cast::<Self>() };
        // SAFETY: the starting M is the only party touching `f` (access rules).
        drop(unsafe { (*task.f.get()).take() });
        task.packet.complete(Err(Box::new(msg)));
    }
}

/// Type-erased operations on a stored task. Each takes the slot's address (`task`, `drop`)
/// or the task's address (`run`, `fail`).
///
/// # Safety (of calling the functions)
/// The table is the one `TaskCell::install` stored for the slot's current contents (so the
/// pointers name a `Task<F, T>` of the table's types); `run` or `fail` is called once, by the
/// goroutine or the M that starts it; `drop` once, with exclusive access (`TaskCell::clear`).
pub(crate) struct TaskVTable {
    task: unsafe fn(*mut u8) -> *mut u8,
    run: unsafe fn(*mut u8),
    fail: unsafe fn(*mut u8, String),
    drop: unsafe fn(*mut u8),
}

#[repr(C, align(16))]
struct Slot([MaybeUninit<u8>; INLINE_BYTES]);

/// The task storage of a G record.
pub(crate) struct TaskCell {
    slot: UnsafeCell<Slot>,
    /// `Some` while the slot holds a task (inline or a box pointer).
    vt: Option<&'static TaskVTable>,
}

impl TaskCell {
    pub(crate) const fn new() -> Self {
        TaskCell {
            slot: UnsafeCell::new(Slot([MaybeUninit::uninit(); INLINE_BYTES])),
            vt: None,
        }
    }

    /// Stores `task`, dropping any previous one.
    pub(crate) fn install<F, T>(&mut self, task: Task<F, T>)
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.clear();
        let slot = self.slot.get_mut().0.as_mut_ptr();
        if size_of::<Task<F, T>>() <= INLINE_BYTES && align_of::<Task<F, T>>() <= 16 {
            // SAFETY: the slot is INLINE_BYTES long and 16-aligned, which covers the task's
            // size and alignment (just checked), and we hold it exclusively (`&mut self`).
            unsafe { slot.cast::<Task<F, T>>().write(task) };
            self.vt = Some(&Task::<F, T>::INLINE);
        } else {
            let b = Box::into_raw(Box::new(task));
            // SAFETY: a pointer fits the (aligned) slot; exclusive as above.
            unsafe { slot.cast::<*mut Task<F, T>>().write(b) };
            self.vt = Some(&Task::<F, T>::BOXED);
        }
    }

    /// Drops the stored task, if any.
    pub(crate) fn clear(&mut self) {
        if let Some(vt) = self.vt.take() {
            let slot = self.slot.get_mut().0.as_mut_ptr().cast::<u8>();
            // SAFETY: `vt` matches what `install` wrote into the slot, and taking `vt` first
            // makes this the only drop of it.
            unsafe { (vt.drop)(slot) };
        }
    }

    fn task_ptr(&self) -> Option<(&'static TaskVTable, *mut u8)> {
        let vt = self.vt?;
        // SAFETY: `vt.task` reads the slot that `install` wrote for this very vtable.
        Some((vt, unsafe { (vt.task)(self.slot.get().cast::<u8>()) }))
    }

    /// The packet of the stored task, for its `JoinHandle`.
    ///
    /// # Safety
    /// `T` is the result type of the installed task.
    pub(crate) unsafe fn packet<T>(&self) -> *const Packet<T> {
        let (_, task) = self.task_ptr().expect("a task is installed");
        // `Task` is repr(C) with the packet first.
        task.cast::<Packet<T>>()
    }

    /// Runs the task's closure and publishes its result.
    ///
    /// # Safety
    /// Called once, by the goroutine, on its own stack (access rules).
    pub(crate) unsafe fn run(&self) {
        let (vt, task) = self.task_ptr().expect("an unstarted goroutine has a task");
        // SAFETY: caller's contract; `task` points at the live task.
        unsafe { (vt.run)(task) }
    }

    /// Publishes `msg` as the panic payload of a goroutine that could not start.
    ///
    /// # Safety
    /// Called once, by the M that dequeued the goroutine for its first run, instead of `run`.
    pub(crate) unsafe fn fail(&self, msg: String) {
        let (vt, task) = self.task_ptr().expect("an unstarted goroutine has a task");
        // SAFETY: caller's contract; `task` points at the live task.
        unsafe { (vt.fail)(task, msg) }
    }
}

impl Drop for TaskCell {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn inline_and_boxed_tasks_run_and_drop_once() {
        let marker = Arc::new(());
        let mut cell = TaskCell::new();
        let m = marker.clone();
        cell.install(Task::new(move || {
            let _keep = &m;
            7u32
        }));
        assert_eq!(Arc::strong_count(&marker), 2);
        // SAFETY: single-threaded test: we play the goroutine and the joiner.
        unsafe {
            let p = &*cell.packet::<u32>();
            cell.run();
            assert_eq!(p.state.load(Acquire), DONE);
            assert_eq!(p.take_result().unwrap().unwrap(), 7);
        }
        assert_eq!(
            Arc::strong_count(&marker),
            1,
            "the closure is dropped after running"
        );

        let big = [1u64; 64]; // 512 bytes: boxed
        let m = marker.clone();
        cell.install(Task::new(move || {
            let _keep = &m;
            big.iter().sum::<u64>()
        }));
        // SAFETY: as above.
        unsafe {
            let p = &*cell.packet::<u64>();
            cell.run();
            assert_eq!(p.take_result().unwrap().unwrap(), 64);
        }
        let m = marker.clone();
        cell.install(Task::new(move || drop(m)));
        assert_eq!(Arc::strong_count(&marker), 2);
        cell.clear();
        assert_eq!(
            Arc::strong_count(&marker),
            1,
            "an unrun closure is dropped by clear"
        );
    }

    #[test]
    fn detached_result_is_dropped_by_whoever_comes_last() {
        let marker = Arc::new(());
        let mut cell = TaskCell::new();
        let m = marker.clone();
        cell.install(Task::new(move || m));
        // SAFETY: single-threaded test.
        unsafe {
            let p = &*cell.packet::<Arc<()>>();
            cell.run();
            assert_eq!(Arc::strong_count(&marker), 2, "the result holds the Arc");
            p.detach();
        }
        assert_eq!(
            Arc::strong_count(&marker),
            1,
            "detach after DONE drops the result"
        );

        let m = marker.clone();
        cell.install(Task::new(move || m));
        // SAFETY: single-threaded test.
        unsafe {
            let p = &*cell.packet::<Arc<()>>();
            p.detach();
            cell.run();
        }
        assert_eq!(
            Arc::strong_count(&marker),
            1,
            "a detached goroutine drops its result"
        );
    }
}
