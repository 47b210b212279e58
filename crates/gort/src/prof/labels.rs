//! Profiler labels (Go's `pprof.Do` / `pprof.Labels`): key-value pairs attached to the CPU
//! samples a goroutine takes while running inside [`with_labels`].
//!
//! The signal handler must not allocate or lock, so a label set is interned once into a
//! global table (never freed; programs use a handful of distinct sets) and the handler reads
//! only a small number: the label-set id in the running goroutine's record (`CurG::labels`,
//! through the thread's current-goroutine record, `rt/current.rs`), or the thread's own id for
//! code running outside goroutines. Labels belong to the goroutine: another goroutine that
//! runs on the same thread while the owner is parked inside `with_labels` is not charged with
//! the owner's labels, and the owner keeps them when it resumes. `go` copies the creator's id
//! into the new goroutine (Go's inheritance).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Set = Arc<Vec<(String, String)>>;

#[derive(Default)]
struct Interned {
    sets: Vec<Set>,
    ids: HashMap<Vec<(String, String)>, u32>,
}

static INTERNED: Mutex<Option<Interned>> = Mutex::new(None);

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

/// The label-set id of whatever runs on this thread. Async-signal-safe: two relaxed loads
/// from const thread-local records without destructors.
pub(crate) fn current_id() -> u32 {
    crate::rt::current::labels()
}

/// The labels in effect for the calling goroutine (Go's `pprof.Label` lookups).
pub fn labels() -> Vec<(String, String)> {
    resolve(current_id()).to_vec()
}

/// Runs `f` with `labels` added to the calling goroutine's profiler labels (a key already set
/// takes the new value), like Go's `pprof.Do`. CPU samples taken while `f` runs carry them.
///
/// Goroutines started inside `f` inherit the labels, as in Go.
pub fn with_labels<R>(labels: &[(&str, &str)], f: impl FnOnce() -> R) -> R {
    let mut set: Vec<(String, String)> = resolve(current_id()).to_vec();
    for &(k, v) in labels {
        match set.iter_mut().find(|(key, _)| key == k) {
            Some(e) => e.1 = v.to_string(),
            None => set.push((k.to_string(), v.to_string())),
        }
    }
    set.sort();
    let id = intern(set);
    // A goroutine stays on its thread (no migration), so the record swapped here is the one
    // restored on the way out, however often `f` parks.
    struct Restore(u32);
    impl Drop for Restore {
        fn drop(&mut self) {
            crate::rt::current::swap_labels(self.0);
        }
    }
    let _restore = Restore(crate::rt::current::swap_labels(id));
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
