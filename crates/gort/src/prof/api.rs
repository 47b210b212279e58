//! The Go-shaped entry points: `StartCPUProfile`/`StopCPUProfile`, `WriteHeapProfile`,
//! `Lookup(name).WriteTo(w, debug)`.

use std::io::{self, Write};
use std::time::Duration;

use super::profile::Profile;
use super::{contention, cpu, goroutine, heap_profile, stall};

/// Runs `f` where deep stacks are fine: symbolization (DWARF parsing) and gzip use far more
/// stack than a goroutine's 256 KiB default, so from a goroutine `f` runs on the blocking
/// pool (which also keeps the goroutine's P free meanwhile). Its allocations are not sampled
/// for the heap profile.
pub(crate) fn off_goroutine<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let f = move || crate::alloc::sample::without_sampling(f);
    if crate::rt::sched::park::in_goroutine() {
        crate::blocking(f)
    } else {
        f()
    }
}

/// Gzipped protobuf bytes of `p`, encoded off the goroutine stack.
pub(crate) fn encoded(p: Profile) -> io::Result<Vec<u8>> {
    off_goroutine(move || {
        let mut v = Vec::new();
        p.write_to(&mut v)?;
        Ok(v)
    })
}

/// Starts a CPU profile at 100 Hz (Go's `pprof.StartCPUProfile`); the profile is written to
/// `w` by [`stop_cpu_profile`]. Fails with "cpu profiling already in use" if one runs.
///
/// Stacks are complete only in code built with frame pointers
/// (`-C force-frame-pointers=yes`, see the README).
pub fn start_cpu_profile(w: impl Write + Send + 'static) -> io::Result<()> {
    cpu::start(Some(Box::new(w)), cpu::DEFAULT_CPU_HZ)
}

/// [`start_cpu_profile`] at `hz` samples per CPU-second of each thread.
pub fn start_cpu_profile_with_rate(w: impl Write + Send + 'static, hz: u64) -> io::Result<()> {
    cpu::start(Some(Box::new(w)), hz)
}

/// Stops the CPU profile and writes it (Go's `pprof.StopCPUProfile`); returns the profile,
/// or `None` if none was running.
pub fn stop_cpu_profile() -> io::Result<Option<Profile>> {
    off_goroutine(cpu::stop)
}

/// Profiles the CPU for `d` and returns the profile (what `/debug/pprof/profile` serves).
/// Sleeps the calling goroutine (or thread, outside goroutines).
pub fn cpu_profile_for(d: Duration) -> io::Result<Profile> {
    cpu::start(None, cpu::DEFAULT_CPU_HZ)?;
    if crate::rt::sched::park::in_goroutine() {
        crate::time::sleep(d);
    } else {
        std::thread::sleep(d);
    }
    off_goroutine(cpu::stop)?.ok_or_else(|| io::Error::other("cpu profile stopped by someone else"))
}

/// Writes the heap profile (Go's `pprof.WriteHeapProfile`, the "heap" profile at debug 0).
pub fn write_heap_profile(mut w: impl Write) -> io::Result<()> {
    super::buildcheck::warn_once();
    w.write_all(&encoded(off_goroutine(|| {
        heap_profile::build("inuse_space")
    }))?)
}

/// The names [`lookup`] knows, as Go's `pprof.Profiles` lists them.
pub fn profile_names() -> &'static [&'static str] {
    &[
        "allocs",
        "block",
        "goroutine",
        "goroutineleak",
        "heap",
        "mutex",
        "stall",
    ]
}

/// A named profile (Go's `*pprof.Profile`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lookup {
    name: &'static str,
}

/// The profile called `name`: "goroutine", "goroutineleak", "heap", "allocs", "mutex",
/// "block" (Go's `pprof.Lookup`) or "stall" (gort's).
///
/// "goroutineleak" (Go 1.26's) holds the goroutines that can never wake: parked on a channel
/// whose other side has no handle left (a receive with every `Sender` dropped, a send with
/// every `Receiver` dropped, a `select` whose every arm is such). Dropping handles does not
/// close a gort channel, so these are exact, not guesses; its `debug=2` output is the full
/// goroutine dump, the leaked ones marked `(leaked)`:
///
/// ```
/// gort::Builder::new().gomaxprocs(1).build().unwrap().block_on(|| {
///     let (tx, rx) = gort::chan::bounded::<u32>(0);
///     gort::go(move || { let _ = rx.recv(); }); // waits for a value
///     gort::time::sleep(std::time::Duration::from_millis(10));
///     drop(tx); // ...that can now never come: only close() would wake it
///     let leaks = gort::prof::lookup("goroutineleak").unwrap();
///     let mut text = Vec::new();
///     leaks.write_to(&mut text, 1).unwrap();
///     assert!(String::from_utf8(text).unwrap().starts_with("goroutineleak profile: total 1"));
/// });
/// ```
///
/// "stall" (gort's own) holds the stall episodes reported in the process: a goroutine that
/// kept its P's thread for `GODEBUG=stalltrace` milliseconds (default 100) while other
/// goroutines waited for that P (a std mutex, a raw blocking call, a loop that never calls
/// into the runtime). Samples are counted per (kind, culprit location, creation site), with
/// sample types `stalls` (count) and `stalled` (nanoseconds); the stack is
/// `gort.stall(<kind>)` (`cpu`, `futex wait`, `syscall`, `other`), the culprit's frame and
/// `gort.go` at the goroutine's creation site. `debug=1` text begins
/// `stall profile: total N`:
///
/// ```
/// let mut text = Vec::new();
/// gort::prof::lookup("stall").unwrap().write_to(&mut text, 1).unwrap();
/// assert!(String::from_utf8(text).unwrap().starts_with("stall profile: total "));
/// ```
pub fn lookup(name: &str) -> Option<Lookup> {
    profile_names()
        .iter()
        .find(|&&n| n == name)
        .map(|&name| Lookup { name })
}

impl Lookup {
    /// The profile's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Builds the profile now.
    pub fn build(&self) -> Profile {
        let name = self.name;
        if name == "goroutine" {
            return goroutine::build(); // reads the caller's runtime; no symbolization
        }
        if name == "goroutineleak" {
            return goroutine::build_leak();
        }
        off_goroutine(move || match name {
            "heap" => heap_profile::build("inuse_space"),
            "allocs" => heap_profile::build("alloc_space"),
            "mutex" => contention::build_mutex(),
            "stall" => stall::build(),
            _ => contention::build_block(),
        })
    }

    /// Writes the profile as Go's `WriteTo(w, debug)` does: debug 0 the gzipped protobuf,
    /// 1 legacy text with symbolized frames, and for "goroutine" and "goroutineleak" 2 the
    /// full goroutine dump ("stall": its text at any non-zero debug).
    pub fn write_to(&self, mut w: impl Write, debug: u32) -> io::Result<()> {
        match (self.name, debug) {
            (_, 0) => w.write_all(&encoded(self.build())?),
            ("goroutine", 1) => goroutine::write_text(w),
            ("goroutineleak", 1) => goroutine::write_leak_text(w),
            ("goroutine" | "goroutineleak", _) => {
                w.write_all(crate::rt::sched::traceback::goroutine_dump().as_bytes())
            }
            ("stall", _) => {
                let p = self.build();
                let mut v = Vec::new();
                stall::write_text(&p, &mut v)?;
                w.write_all(&v)
            }
            (name, _) => {
                let p = self.build();
                let text = off_goroutine(move || {
                    let mut v = Vec::new();
                    p.write_text(name, &mut v).map(|_| v)
                })?;
                w.write_all(&text)
            }
        }
    }
}
