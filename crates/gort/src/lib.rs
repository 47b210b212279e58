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
pub mod metrics;
pub mod net;
pub mod prof;
pub(crate) mod rt;
pub mod sync;
pub mod synctest;
pub mod testing;
pub mod time;
pub mod trace;

pub use alloc::{read_mem_stats, MemStats};
pub use gc::{gc, AtomicGc, Gc, GcCell, Trace, Weak};
pub use gort_macros::main;
pub use rt::sched::{
    block_forever, blocking, go, goid, gomaxprocs, is_thread_locked, lock_os_thread, num_goroutine,
    park, try_go, unlock_os_thread, yield_now, Builder, Error, GoBuilder, GoroutineLocal,
    JoinHandle, Placement, Runtime, SpawnError, Unparker, WaitReason, DEFAULT_STACK_SIZE,
};
pub use rt::stack::{mappings_per_stack, max_map_count, StackError, StackErrorKind};

#[doc(hidden)]
pub mod __private {
    //! Support for `#[gort::main]`; not a public API.

    /// The arguments of `#[gort::main(gomaxprocs = N, stack_size = BYTES)]`.
    #[derive(Debug, Default, Clone, Copy)]
    pub struct MainArgs {
        /// `gomaxprocs = N` (else `GOMAXPROCS`, else the CPUs available).
        pub gomaxprocs: Option<usize>,
        /// `stack_size = BYTES` (else `GORT_STACK_SIZE`, else [`crate::DEFAULT_STACK_SIZE`]).
        pub stack_size: Option<usize>,
    }

    /// Runs `f` as the main goroutine of a runtime built from the environment. On a
    /// configuration error or a deadlock, prints Go's message and exits with status 2.
    pub fn run_main<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        run_main_with(MainArgs::default(), f)
    }

    /// [`run_main`] with the attribute's arguments, which win over the environment (as a
    /// call of `runtime.GOMAXPROCS(n)` in a Go program's main does).
    pub fn run_main_with<T: Send + 'static>(
        args: MainArgs,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        let fail = |e: &dyn std::fmt::Display| -> ! {
            eprintln!("gort: {e}");
            std::process::exit(2);
        };
        let mut b = crate::Builder::new();
        if let Some(n) = args.gomaxprocs {
            b = b.gomaxprocs(n);
        }
        let stack = match args.stack_size {
            Some(n) => Some(n),
            None => crate::env::stack_size_from_env().unwrap_or_else(|e| fail(&e)),
        };
        if let Some(n) = stack {
            b = b.stack_size(n);
        }
        let rt = b.build().unwrap_or_else(|e| fail(&e));
        // GORT_CPUPROFILE, GORT_MEMPROFILE, GORT_TRACE: the playbook on any program.
        let session = crate::prof::EnvSession::start();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.try_block_on(f)));
        session.finish(); // also when main panicked or deadlocked
        match r {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}
