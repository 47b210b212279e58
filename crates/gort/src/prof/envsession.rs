//! The playbook on any gort program: `GORT_CPUPROFILE`, `GORT_MEMPROFILE` and `GORT_TRACE`.
//!
//! A `#[gort::main]` program (or any program that calls [`EnvSession::start`] and
//! [`EnvSession::finish`]) profiles itself when these are set, as `go test -cpuprofile` does
//! for a Go package, so `gort doctor -- ./target/release/prog` works on a plain program:
//! * `GORT_CPUPROFILE=FILE`: a CPU profile from the start of `main` to its end;
//! * `GORT_MEMPROFILE=FILE`: the heap profile at the end of `main`;
//! * `GORT_TRACE=FILE`: an execution trace from start to end.
//!
//! The files are written when `main` returns (also when it ends in a deadlock or a panic
//! that `#[gort::main]` reports), not when the program calls `std::process::exit` itself. A
//! file that cannot be created is reported on stderr, once, and the program runs on.

use std::fs::File;

/// What was started from the environment; [`finish`](EnvSession::finish) writes it.
#[derive(Debug, Default)]
pub struct EnvSession {
    cpu: bool,
    mem: Option<String>,
    trace: bool,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl EnvSession {
    /// Starts what the environment asks for.
    pub fn start() -> EnvSession {
        let mut s = EnvSession::default();
        if let Some(path) = var("GORT_CPUPROFILE") {
            match File::create(&path).map(super::start_cpu_profile) {
                Ok(Ok(())) => s.cpu = true,
                Ok(Err(e)) | Err(e) => eprintln!("gort: GORT_CPUPROFILE={path}: {e}"),
            }
        }
        if let Some(path) = var("GORT_TRACE") {
            match File::create(&path) {
                Ok(f) => match crate::trace::start(f) {
                    Ok(()) => s.trace = true,
                    Err(e) => eprintln!("gort: GORT_TRACE={path}: {e}"),
                },
                Err(e) => eprintln!("gort: GORT_TRACE={path}: {e}"),
            }
        }
        s.mem = var("GORT_MEMPROFILE");
        s
    }

    /// Stops and writes what [`start`](EnvSession::start) began, and the heap profile.
    pub fn finish(self) {
        if self.cpu {
            if let Err(e) = super::stop_cpu_profile() {
                eprintln!("gort: GORT_CPUPROFILE: {e}");
            }
        }
        if self.trace {
            if let Err(e) = crate::trace::stop() {
                eprintln!("gort: GORT_TRACE: {e}");
            }
        }
        if let Some(path) = self.mem {
            let r = File::create(&path).and_then(super::write_heap_profile);
            if let Err(e) = r {
                eprintln!("gort: GORT_MEMPROFILE={path}: {e}");
            }
        }
    }
}
