//! Attributing CPU samples to bottleneck classes.
//!
//! Each sample is charged to one class: walking its stack from the root
//! towards the leaf, the first frame that matches a class pattern wins.
//! Root-first matters: `sync.(*Mutex).Lock → lockSlow → … → futex` is a
//! lock problem even though the leaf is a futex, and `mallocgc →
//! gcAssistAlloc → scanobject` is GC work *caused by allocation*. Samples
//! with no match are user code. Patterns cover Go's runtime names and
//! gort's Rust paths (`gort::gc::…`), so the same doctor reads both.

use crate::pprof::graph::Stacks;
use std::collections::BTreeMap;

/// A bottleneck class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    Alloc,
    Gc,
    Lock,
    Syscall,
    Poller,
    Sched,
    Chan,
    User,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::Alloc => "allocation",
            Class::Gc => "garbage collection",
            Class::Lock => "lock contention",
            Class::Syscall => "system calls",
            Class::Poller => "network poller",
            Class::Sched => "scheduler",
            Class::Chan => "channels",
            Class::User => "user code",
        }
    }
}

const PATTERNS: &[(Class, &[&str])] = &[
    (
        Class::Alloc,
        &[
            "runtime.mallocgc",
            "runtime.newobject",
            "runtime.newarray",
            "runtime.makeslice",
            "runtime.growslice",
            "runtime.makemap",
            "runtime.rawstring",
            "runtime.rawbyteslice",
            "runtime.concatstring",
            "runtime.slicebytetostring",
            "runtime.convT",
            "runtime.memclrNoHeapPointers",
            "runtime.(*mcache)",
            "runtime.(*mcentral)",
            "runtime.(*mheap).alloc",
            "gort::alloc::",
            // Rust's global allocator path and glibc malloc (gort programs).
            "alloc::alloc::",
            "alloc::raw_vec::",
            "<alloc::raw_vec::",
            "__rust_alloc",
            "__rust_dealloc",
            "__rust_realloc",
            "__rdl_",
            "_int_malloc",
            "_int_free",
            "_int_realloc",
            "malloc_consolidate",
            "__GI___libc_malloc",
            "__GI___libc_free",
            "__GI___libc_realloc",
            "__libc_malloc",
            "__libc_free",
            "__libc_realloc",
            "__libc_calloc",
            "tcache_",
            "cfree",
        ],
    ),
    (
        Class::Gc,
        &[
            "runtime.gcBgMarkWorker",
            "runtime.gcDrain",
            "runtime.scanobject",
            "runtime.markroot",
            "runtime.gcAssistAlloc",
            "runtime.greyobject",
            "runtime.bgsweep",
            "runtime.sweepone",
            "runtime.(*mspan).sweep",
            "runtime.gcStart",
            "runtime.GC",
            "runtime.gcMarkTermination",
            "runtime.wbBufFlush",
            "runtime.gcWriteBarrier",
            "runtime.bulkBarrierPreWrite",
            "runtime.scanstack",
            "gort::gc::",
        ],
    ),
    (
        Class::Lock,
        &[
            "sync.(*Mutex).lockSlow",
            "sync.(*Mutex).unlockSlow",
            "sync.(*RWMutex)",
            "sync.runtime_Semacquire",
            "sync.runtime_SemacquireMutex",
            "runtime.semacquire",
            "runtime.semrelease",
            "runtime.lock2",
            "runtime.unlock2",
            "runtime.lockWithRank",
            "runtime.futex",
            "gort::sync::",
            "gort::rt::parking::",
            "gort::rt::spinlock::",
        ],
    ),
    (
        Class::Syscall,
        &[
            "syscall.Syscall",
            "syscall.RawSyscall",
            "syscall.syscall",
            "runtime/internal/syscall.",
            "internal/runtime/syscall.",
            "runtime.entersyscall",
            "runtime.exitsyscall",
            "gort::sys::",
        ],
    ),
    (
        Class::Poller,
        &[
            "runtime.netpoll",
            "runtime.epollwait",
            "internal/poll.runtime_poll",
            "gort::rt::netpoll::",
        ],
    ),
    (
        Class::Sched,
        &[
            "runtime.schedule",
            "runtime.findrunnable",
            "runtime.findRunnable",
            "runtime.park_m",
            "runtime.gosched_m",
            "runtime.goschedImpl",
            "runtime.mcall",
            "runtime.stealWork",
            "runtime.runqsteal",
            "runtime.runqgrab",
            "runtime.wakep",
            "runtime.startm",
            "runtime.stopm",
            "runtime.notesleep",
            "runtime.newproc",
            "runtime.ready",
            "runtime.goready",
            "gort::rt::sched::",
            "gort::rt::timer::",
        ],
    ),
    (
        Class::Chan,
        &[
            "runtime.chansend",
            "runtime.chanrecv",
            "runtime.selectgo",
            "runtime.closechan",
            "gort::chan::",
        ],
    ),
];

/// glibc's allocator entry points, matched exactly (a prefix would catch user functions).
const ALLOC_EXACT: &[&str] = &["malloc", "free", "realloc", "calloc", "posix_memalign"];

/// Frames that only carry a goroutine's body to user code (the coroutine entry of gort's
/// scheduler, the task trampoline): transparent, so that a goroutine's samples are charged by
/// what it runs, not to the scheduler that started it.
const TRANSPARENT: &[&str] = &[
    "gort::rt::sched::task::",
    "gort::rt::sched::worker::Worker::start::{{closure}}",
    "<gort::rt::sched::worker::Worker>::start::{{closure}}",
    "corosensei::",
];

/// libc's system-call wrappers, by their plain names (`__libc_send`, `__GI___libc_write` and
/// `__send` reduce to these): a sample whose leaf is one of them is system-call time even
/// when no runtime frame above says so, which is the usual case, since glibc has no frame
/// pointers and the walk stops at the wrapper.
const SYSCALL_LEAVES: &[&str] = &[
    "send",
    "recv",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "sendmmsg",
    "recvmmsg",
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "preadv",
    "pwritev",
    "accept",
    "accept4",
    "connect",
    "syscall",
    "nanosleep",
    "clock_nanosleep",
    "openat",
    "close",
    "fsync",
    "fdatasync",
    "ioctl",
    "poll",
    "ppoll",
    "select",
    "pselect6",
];

/// The class of a sample's leaf frame by itself (libc's wrappers): system calls, the poller
/// (`epoll_wait`) or a lock (`futex`); `None` for anything else.
pub fn leaf_class(name: &str) -> Option<Class> {
    let mut n = name.split('@').next().unwrap_or(name);
    for p in ["__GI_", "__libc_", "__", "libc_"] {
        n = n.strip_prefix(p).unwrap_or(n);
    }
    n = n.strip_suffix("_nocancel").unwrap_or(n);
    match n {
        "epoll_wait" | "epoll_pwait" | "epoll_pwait2" => Some(Class::Poller),
        "futex" | "futex_wait" | "lll_lock_wait" | "lll_lock_wait_private" => Some(Class::Lock),
        _ if SYSCALL_LEAVES.contains(&n) => Some(Class::Syscall),
        _ => None,
    }
}

/// The class of one function name, if any.
pub fn class_of(name: &str) -> Option<Class> {
    if TRANSPARENT
        .iter()
        .any(|p| name.starts_with(p) || name.contains(p))
    {
        return None;
    }
    if ALLOC_EXACT.contains(&name) {
        return Some(Class::Alloc);
    }
    for (class, pats) in PATTERNS {
        let hit = |p: &&str| name.starts_with(p) || (p.starts_with("gort::") && name.contains(p));
        if pats.iter().any(hit) {
            return Some(*class);
        }
    }
    None
}

/// Shares per class and the top functions that drove each.
#[derive(Debug, Clone, Default)]
pub struct Breakdown {
    pub total: i64,
    pub by_class: BTreeMap<Class, i64>,
    /// Per class: the matched function names with their values.
    pub by_func: BTreeMap<Class, BTreeMap<String, i64>>,
    /// Value of samples whose stack contains a `fmt.` frame and that
    /// are charged to allocation.
    pub fmt_alloc: i64,
}

impl Breakdown {
    pub fn share(&self, c: Class) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        100.0 * *self.by_class.get(&c).unwrap_or(&0) as f64 / self.total as f64
    }

    /// Top matched functions of a class, largest first.
    pub fn top(&self, c: Class, n: usize) -> Vec<(String, i64)> {
        let mut v: Vec<(String, i64)> = self
            .by_func
            .get(&c)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }
}

/// Charges every sample to a class.
pub fn classify(st: &Stacks) -> Breakdown {
    let mut b = Breakdown::default();
    for (stack, v) in st.iter() {
        let v = v.saturating_abs();
        b.total = b.total.saturating_add(v);
        let mut class = Class::User;
        let mut culprit = stack.leaf().map(|f| f.name.to_string()).unwrap_or_default();
        for f in stack.frames().rev() {
            if let Some(c) = class_of(&f.name) {
                class = c;
                culprit = f.name.to_string();
                break;
            }
        }
        // No runtime frame matched: the leaf may still be a libc syscall wrapper (a server
        // bound by one `send` per line shows as "user code" otherwise).
        if class == Class::User {
            if let Some(c) = stack.leaf().and_then(|f| leaf_class(&f.name)) {
                class = c;
            }
        }
        if class == Class::Alloc
            && stack.frames().any(|f| {
                f.name.starts_with("fmt.")
                    || f.name.starts_with("alloc::fmt::format")
                    || f.name.contains("::to_string")
            })
        {
            b.fmt_alloc = b.fmt_alloc.saturating_add(v);
        }
        let e = b.by_class.entry(class).or_default();
        *e = e.saturating_add(v);
        let e = b
            .by_func
            .entry(class)
            .or_default()
            .entry(culprit)
            .or_default();
        *e = e.saturating_add(v);
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libc_syscall_leaves_are_system_calls() {
        for n in [
            "__libc_send",
            "__GI___libc_write",
            "__send",
            "recv",
            "writev",
            "read@plt",
        ] {
            assert_eq!(leaf_class(n), Some(Class::Syscall), "{n}");
        }
        assert_eq!(leaf_class("epoll_wait"), Some(Class::Poller));
        assert_eq!(leaf_class("__GI___lll_lock_wait"), Some(Class::Lock));
        for n in ["sender::run", "my_read", "main", "readme"] {
            assert_eq!(leaf_class(n), None, "{n}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(class_of("runtime.mallocgc"), Some(Class::Alloc));
        assert_eq!(class_of("_int_malloc"), Some(Class::Alloc));
        assert_eq!(class_of("malloc"), Some(Class::Alloc));
        assert_eq!(class_of("malloc_user_thing"), None);
        assert_eq!(
            class_of("<alloc::raw_vec::RawVecInner>::grow_amortized"),
            Some(Class::Alloc)
        );
        assert_eq!(
            class_of("gort::rt::sched::task::Task<F,T>::run_erased"),
            None
        );
        assert_eq!(
            class_of("gort::rt::sched::worker::Worker::find_runnable"),
            Some(Class::Sched)
        );
        assert_eq!(class_of("sync.(*Mutex).lockSlow"), Some(Class::Lock));
        assert_eq!(class_of("gort::gc::mark::drain"), Some(Class::Gc));
        assert_eq!(
            class_of("runtime/internal/syscall.Syscall6"),
            Some(Class::Syscall)
        );
        assert_eq!(class_of("main.work"), None);
    }
}
