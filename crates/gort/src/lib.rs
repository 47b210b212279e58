//! gort: the Go runtime, in Rust.
//!
//! Goroutines on an M:P:G work-stealing scheduler, parked (not threads) when they block, with
//! Go's diagnostics (`GODEBUG=schedtrace`, goroutine dumps). See `docs/DESIGN.md` for the
//! architecture and the soundness argument.
//!
//! ```
//! let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
//! let sum = rt.block_on(|| {
//!     let hs: Vec<_> = (0..100u64).map(|i| gort::go(move || i * i)).collect();
//!     hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
//! });
//! assert_eq!(sum, 328_350);
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

// Lets `#[derive(Trace)]` (which names `::gort`) work inside this crate's own tests.
extern crate self as gort;

pub mod alloc;
pub mod chan;
pub mod debug;
pub mod env;
pub mod fs;
pub mod gc;
pub mod net;
pub mod prof;
pub(crate) mod rt;
pub mod sync;
pub mod testing;
pub mod time;
pub mod trace;

pub use alloc::{read_mem_stats, MemStats};
pub use gc::{gc, AtomicGc, Gc, GcCell, Trace, Weak};
pub use gort_macros::main;
pub use rt::sched::{
    block_forever, blocking, go, goid, gomaxprocs, is_thread_locked, lock_os_thread, num_goroutine,
    park, try_go, unlock_os_thread, yield_now, Builder, Error, GoBuilder, JoinHandle, Placement,
    Runtime, SpawnError, Unparker, WaitReason, DEFAULT_STACK_SIZE,
};
pub use rt::stack::{mappings_per_stack, max_map_count, StackError, StackErrorKind};

#[doc(hidden)]
pub mod __private {
    //! Support for `#[gort::main]`; not a public API.

    /// Runs `f` as the main goroutine of a runtime built from the environment. On a
    /// configuration error or a deadlock, prints Go's message and exits with status 2.
    pub fn run_main<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let rt = match crate::Builder::new().build() {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("gort: {e}");
                std::process::exit(2);
            }
        };
        match rt.try_block_on(f) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        }
    }
}
