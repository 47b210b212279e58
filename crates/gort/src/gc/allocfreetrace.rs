//! `GODEBUG=allocfreetrace=1`: a record per GC-heap allocation and per free, in the format of
//! Go's `tracealloc` and `tracefree` (runtime/mprof.go up to Go 1.21; Go 1.22 removed the
//! setting, gort keeps it for memory debugging):
//!
//! ```text
//! tracealloc(0x7f3a5c210030, 0x30, myprog::Node)
//! goroutine 1 [running]:
//! myprog::build(...)
//!     src/main.rs:12
//! myprog::main(...)
//!     src/main.rs:30
//!
//! tracefree(0x7f3a5c210030, 0x30)
//! goroutine 0 [running]:
//! myprog::main(...)
//!     src/main.rs:31
//!
//! ```
//!
//! The address, the slot's size (its size class, as Go printed the rounded size) in hex, the
//! type (`std::any::type_name`), then the stack of the goroutine (`goroutine 0` off
//! goroutines: Go's g0) that allocated, or that freed: the sweeper, which is the collecting
//! thread or an allocating one. Stacks come from the frame-pointer walker (`alloc/fpwalk.rs`),
//! symbolized at once (the binary's DWARF, cached per address) and trimmed of gort's own
//! frames, at most [`FRAMES`] of them. `allocfreetrace=FILE` writes the records to FILE.
//!
//! Off, it costs one relaxed load per allocation and one per swept span. On, each record takes
//! a lock and a write: a debugging mode, as it was in Go.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Mutex;

use crate::alloc::fpwalk;
use crate::env::AllocFreeTrace;

/// On when `GODEBUG=allocfreetrace` names a destination.
pub(crate) static ON: AtomicBool = AtomicBool::new(false);

/// Frames printed per record (after gort's own).
pub(crate) const FRAMES: usize = 6;

struct Sink {
    /// None: stderr.
    file: Option<std::fs::File>,
    /// Symbolized return addresses: `(function, file:line)` lines per address.
    names: HashMap<usize, Vec<(String, String)>>,
}

static SINK: Mutex<Option<Sink>> = Mutex::new(None);

/// Applies the setting (once, from `gc::init`). A file that cannot be created is an error, as
/// a bad GODEBUG value is.
pub(crate) fn configure(to: &AllocFreeTrace) {
    let file = match to {
        AllocFreeTrace::Off => return,
        AllocFreeTrace::Stderr => None,
        AllocFreeTrace::File(path) => match std::fs::File::create(path) {
            Ok(f) => Some(f),
            Err(e) => panic!("gort: GODEBUG=allocfreetrace={path}: {e}"),
        },
    };
    *SINK.lock().unwrap_or_else(|e| e.into_inner()) = Some(Sink {
        file,
        names: HashMap::new(),
    });
    ON.store(true, Relaxed);
}

/// Records an allocation of the object at `addr` (`size`: its slot) of type `type_name`.
#[cold]
#[inline(never)]
pub(crate) fn alloc(addr: usize, size: usize, type_name: &str) {
    record(format_args!(
        "tracealloc({addr:#x}, {size:#x}, {type_name})"
    ));
}

/// Records the free of the slot at `addr` of `size` bytes (by a sweep).
#[cold]
#[inline(never)]
pub(crate) fn free(addr: usize, size: usize) {
    record(format_args!("tracefree({addr:#x}, {size:#x})"));
}

fn record(head: std::fmt::Arguments<'_>) {
    let mut pcs = [0usize; fpwalk::MAX_DEPTH];
    let n = fpwalk::capture(&mut pcs);
    let mut guard = SINK.lock().unwrap_or_else(|e| e.into_inner());
    let Some(sink) = guard.as_mut() else {
        return;
    };
    let mut out = format!(
        "{head}\ngoroutine {} [running]:\n",
        crate::rt::current::goid()
    );
    for &pc in &pcs[..n] {
        // A return address: its call instruction is the byte before.
        sink.names
            .entry(pc)
            .or_insert_with(|| symbolize(pc.saturating_sub(1)));
    }
    let frames: Vec<&(String, String)> = pcs[..n].iter().flat_map(|pc| &sink.names[pc]).collect();
    // Gort's own frames at the leaf end (this module, the allocation or sweep path, and
    // `gort::gc()` for a free by the collecting thread).
    let own = frames
        .iter()
        .take(16)
        .rposition(|(f, _)| is_gort_gc(f))
        .map_or(0, |i| i + 1);
    for (function, at) in frames[own..].iter().take(FRAMES) {
        out.push_str(function);
        out.push_str("(...)\n\t");
        out.push_str(at);
        out.push('\n');
    }
    out.push('\n');
    let _ = match &mut sink.file {
        Some(f) => f.write_all(out.as_bytes()),
        None => std::io::stderr().lock().write_all(out.as_bytes()),
    };
}

fn is_gort_gc(function: &str) -> bool {
    let f = function.trim_start_matches('<');
    f.starts_with("gort::gc::") || f.starts_with("gort::alloc::")
}

/// `(function, file:line)` for each (inlined) frame at `addr`.
fn symbolize(addr: usize) -> Vec<(String, String)> {
    let mut lines = Vec::new();
    backtrace::resolve(addr as *mut std::ffi::c_void, |sym| {
        let function = match sym.name() {
            Some(n) => format!("{n:#}"),
            None => format!("{addr:#x}"),
        };
        let at = match (sym.filename(), sym.lineno()) {
            (Some(f), Some(l)) => format!("{}:{l}", f.display()),
            _ => "?".into(),
        };
        lines.push((function, at));
    });
    if lines.is_empty() {
        lines.push((format!("{addr:#x}"), "?".into()));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gort_frames_are_recognised() {
        assert!(is_gort_gc("gort::gc::handle::Gc<T>::new"));
        assert!(is_gort_gc("<gort::gc::handle::Gc<T>>::new"));
        assert!(is_gort_gc("gort::alloc::fpwalk::capture"));
        assert!(!is_gort_gc("myprog::main"));
        assert!(!is_gort_gc("gort::rt::sched::spawn::go"));
    }

    #[test]
    fn symbolize_names_this_function() {
        let mut pcs = [0usize; fpwalk::MAX_DEPTH];
        let n = fpwalk::capture(&mut pcs);
        assert!(n > 0, "no frames (built without frame pointers?)");
        let names: Vec<_> = pcs[..n].iter().flat_map(|&pc| symbolize(pc - 1)).collect();
        assert!(
            names
                .iter()
                .any(|(f, _)| f.contains("symbolize_names_this_function")),
            "{names:?}"
        );
    }
}
