//! Profiler labels (Go's `pprof.Do` / `pprof.Labels`): key-value pairs attached to the CPU
//! samples a goroutine takes while running inside [`with_labels`].
//!
//! The signal handler must not allocate or lock, so a label set is interned once into a
//! global table (never freed; programs use a handful of distinct sets) and the handler reads
//! only a small number: the thread's slot `(owner goroutine, set id)`, two relaxed atomics in
//! a const-initialised thread-local. The slot counts only while its owner is the goroutine
//! running on the thread, so another goroutine that runs on the same thread while the owner is
//! parked inside `with_labels` is not charged with the owner's labels. On leaving, the slot is
//! restored only if it still holds this call's entry.
//!
//! A goroutine's label set also lives in its G record (`G::labels`): `with_labels` sets it,
//! `go` copies the creator's into the new goroutine (Go's inheritance), and the scheduler
//! puts it back in the thread's slot at every switch-in ([`switch_in`]), so a goroutine that
//! parks inside `with_labels` and resumes after another labelled goroutine ran on the thread
//! keeps its labels.

use std::collections::HashMap;
use std::sync::atomic::{
    compiler_fence, AtomicU32, AtomicU64,
    Ordering::{Relaxed, SeqCst},
};
use std::sync::{Arc, Mutex};

type Set = Arc<Vec<(String, String)>>;

#[derive(Default)]
struct Interned {
    sets: Vec<Set>,
    ids: HashMap<Vec<(String, String)>, u32>,
}

static INTERNED: Mutex<Option<Interned>> = Mutex::new(None);

struct Slot {
    owner: AtomicU64,
    id: AtomicU32,
}

thread_local! {
    // Const-initialised, no Drop: readable from the SIGPROF handler.
    static SLOT: Slot = const { Slot { owner: AtomicU64::new(0), id: AtomicU32::new(0) } };
}

/// Owner value while the slot is being rewritten: matches no goroutine (ids are below 2^63).
const REWRITING: u64 = u64::MAX;

/// Sets the slot to `(owner, id)` so that a signal handler interrupting this thread sees the
/// old pair, no owner, or the new pair, never a mix: the owner is invalidated first and set
/// last, with compiler fences between (the reader runs on this same thread, so ordering
/// against the compiler is all that is needed).
fn set_slot(s: &Slot, owner: u64, id: u32) {
    s.owner.store(REWRITING, Relaxed);
    compiler_fence(SeqCst);
    s.id.store(id, Relaxed);
    compiler_fence(SeqCst);
    s.owner.store(owner, Relaxed);
}

fn intern(set: Vec<(String, String)>) -> u32 {
    let mut g = INTERNED.lock().unwrap_or_else(|e| e.into_inner());
    let t = g.get_or_insert_with(Interned::default);
    if let Some(&id) = t.ids.get(&set) {
        return id;
    }
    t.sets.push(Arc::new(set.clone()));
    let id = t.sets.len() as u32;
    t.ids.insert(set, id);
    id
}

/// The label set with id `id` (1-based; 0 is the empty set).
pub(crate) fn resolve(id: u32) -> Set {
    if id == 0 {
        return Arc::default();
    }
    let g = INTERNED.lock().unwrap_or_else(|e| e.into_inner());
    g.as_ref()
        .and_then(|t| t.sets.get(id as usize - 1).cloned())
        .unwrap_or_default()
}

/// The label-set id of goroutine `goid` on this thread, 0 if none. Async-signal-safe: two
/// relaxed loads from a const thread-local without a destructor.
pub(crate) fn current_id(goid: u64) -> u32 {
    SLOT.try_with(|s| {
        // The handler runs between two instructions of the thread's code, so it sees the
        // slot as `set_slot` left it at one of its steps.
        if s.owner.load(Relaxed) != goid {
            return 0;
        }
        compiler_fence(SeqCst);
        s.id.load(Relaxed)
    })
    .unwrap_or(0)
}

/// The scheduler, about to resume goroutine `goid` whose label set is `id`: makes the slot
/// name it. One relaxed load and a branch for unlabelled goroutines (the slot's owner check
/// already keeps another goroutine's labels off them).
#[inline]
pub(crate) fn switch_in(goid: u64, id: u32) {
    if id != 0 {
        let _ = SLOT.try_with(|s| set_slot(s, goid, id));
    }
}

/// The labels in effect for the calling goroutine (Go's `pprof.Label` lookups).
pub fn labels() -> Vec<(String, String)> {
    resolve(current_id(crate::goid())).to_vec()
}

/// Runs `f` with `labels` added to the calling goroutine's profiler labels (a key already set
/// takes the new value), like Go's `pprof.Do`. CPU samples taken while `f` runs carry them.
///
/// Goroutines started inside `f` inherit the labels, as in Go.
pub fn with_labels<R>(labels: &[(&str, &str)], f: impl FnOnce() -> R) -> R {
    let goid = crate::goid();
    let mut set: Vec<(String, String)> = resolve(current_id(goid)).to_vec();
    for &(k, v) in labels {
        match set.iter_mut().find(|(key, _)| key == k) {
            Some(e) => e.1 = v.to_string(),
            None => set.push((k.to_string(), v.to_string())),
        }
    }
    set.sort();
    let id = intern(set);
    // The goroutine's own record (its children inherit it; the scheduler restores the slot
    // from it at every switch-in).
    let g_prev = crate::sched::park::current().map(|(_, g)| g.labels.swap(id, Relaxed));
    let prev = SLOT.with(|s| {
        let prev = (s.owner.load(Relaxed), s.id.load(Relaxed));
        set_slot(s, goid, id);
        prev
    });
    struct Restore {
        goid: u64,
        id: u32,
        prev: (u64, u32),
        g_prev: Option<u32>,
    }
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(l) = self.g_prev {
                if let Some((_, g)) = crate::sched::park::current() {
                    g.labels.store(l, Relaxed);
                }
                // The slot is this goroutine's: put its previous set back.
                let _ = SLOT.try_with(|s| set_slot(s, self.goid, l));
                return;
            }
            let _ = SLOT.try_with(|s| {
                if s.owner.load(Relaxed) == self.goid && s.id.load(Relaxed) == self.id {
                    set_slot(s, self.prev.0, self.prev.1);
                }
            });
        }
    }
    let _restore = Restore {
        goid,
        id,
        prev,
        g_prev,
    };
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_nest_and_restore() {
        assert!(labels().is_empty());
        with_labels(&[("a", "1")], || {
            assert_eq!(labels(), vec![("a".into(), "1".into())]);
            with_labels(&[("b", "2"), ("a", "3")], || {
                assert_eq!(
                    labels(),
                    vec![("a".into(), "3".into()), ("b".into(), "2".into())]
                );
            });
            assert_eq!(labels(), vec![("a".into(), "1".into())]);
        });
        assert!(labels().is_empty());
    }
}
