//! Why a goroutine stack could not be mapped, in words a user can act on.
//!
//! `mmap` and `mprotect` report two very different situations with the same `ENOMEM`: the
//! machine (or `ulimit -v`) is out of memory, or the process has hit `vm.max_map_count`, the
//! kernel's cap on mappings per process. The second is by far the likelier for a program that
//! spawns many goroutines (each stack needs [`mappings_per_stack`] mappings), and it has a one-line
//! fix. We tell them apart by the process's mapping count, estimated in `headroom.rs` (a
//! baseline counted from `/proc/self/maps` at most once a second, plus gort's own stacks),
//! compared with `/proc/sys/vm/max_map_count`.

use std::fmt;
use std::io::{self, Read};

/// How close (in mappings) to `vm.max_map_count` the process must be for an `ENOMEM` to be
/// blamed on the map count. Other threads map and unmap concurrently between the failed call
/// and our count (a stack pool trimming on another P unmaps hundreds at once), so the slack is
/// the larger of 64 and 1/16 of the limit.
pub(crate) const MAP_COUNT_SLACK: usize = 64;

/// The value we suggest for `vm.max_map_count` when the current one is below it.
const SUGGESTED_MAX_MAP_COUNT: usize = 1 << 20;

/// The number of kernel mappings (VMAs) one goroutine stack uses: its `PROT_NONE` guard page and
/// its read-write part, which the kernel cannot merge because their protections differ.
pub fn mappings_per_stack() -> usize {
    2
}

/// The kernel's limit on mappings per process (`/proc/sys/vm/max_map_count`), or `None` where
/// it cannot be read (not Linux, `/proc` not mounted).
pub fn max_map_count() -> Option<usize> {
    let s = std::fs::read_to_string("/proc/sys/vm/max_map_count").ok()?;
    s.trim().parse().ok()
}

/// The number of mappings this process has now: the lines of `/proc/self/maps`. Reads through a
/// fixed buffer so it works even when memory is short.
pub(crate) fn current_map_count() -> Option<usize> {
    let mut f = std::fs::File::open("/proc/self/maps").ok()?;
    let mut buf = [0u8; 4096];
    let mut lines = 0;
    loop {
        match f.read(&mut buf) {
            Ok(0) => return Some(lines),
            Ok(n) => lines += buf[..n].iter().filter(|&&b| b == b'\n').count(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

/// What went wrong, as far as we could tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackErrorKind {
    /// The process is at (or within a few mappings of) `vm.max_map_count`.
    MapCountLimit {
        /// Mappings the process had when the error was examined.
        mappings: usize,
        /// The value of `vm.max_map_count`.
        max: usize,
    },
    /// `ENOMEM` with the map count nowhere near its limit: out of memory or address space.
    OutOfMemory,
    /// The requested size is zero after rounding, overflows, or exceeds the 1 GiB maximum
    /// (`gort::Builder::build` refuses such sizes first).
    InvalidSize,
    /// Any other error from the kernel.
    Os,
}

/// A goroutine stack could not be created.
#[derive(Debug)]
pub struct StackError {
    kind: StackErrorKind,
    /// The call that failed: "mmap" or "mprotect".
    op: &'static str,
    /// The usable size that was asked for.
    size: usize,
    /// The OS error, when there was one.
    os: Option<io::Error>,
}

impl StackError {
    /// Builds the error for a failed system call, reading `errno` now. Must be called right after
    /// the failing call, before anything else can overwrite `errno`.
    pub(crate) fn last_os_error(op: &'static str, size: usize) -> StackError {
        let os = io::Error::last_os_error();
        let kind = if os.raw_os_error() == Some(libc::ENOMEM) {
            let est = super::headroom::estimated_mappings();
            classify_enomem(est.map(|e| e.0), est.map(|e| e.1))
        } else {
            StackErrorKind::Os
        };
        StackError {
            kind,
            op,
            size,
            os: Some(os),
        }
    }

    /// The error for a spawn refused because the stacks of the goroutines spawned so far (started
    /// or not) would use the mappings `vm.max_map_count` allows (found without a system call):
    /// `mappings` counts the stacks reserved for goroutines that have not started yet.
    pub(crate) fn map_count_limit(mappings: usize, max: usize, size: usize) -> StackError {
        StackError {
            kind: StackErrorKind::MapCountLimit { mappings, max },
            op: "headroom check",
            size,
            os: None,
        }
    }

    pub(crate) fn invalid_size(size: usize) -> StackError {
        StackError {
            kind: StackErrorKind::InvalidSize,
            op: "size check",
            size,
            os: None,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> StackErrorKind {
        self.kind
    }

    /// True when raising `vm.max_map_count` is the fix.
    pub fn is_map_count_limit(&self) -> bool {
        matches!(self.kind, StackErrorKind::MapCountLimit { .. })
    }

    /// The raw `errno`, when a system call failed.
    pub fn raw_os_error(&self) -> Option<i32> {
        self.os.as_ref().and_then(io::Error::raw_os_error)
    }
}

/// Decides whether an `ENOMEM` is the map-count limit, from the mapping count and the limit.
fn classify_enomem(mappings: Option<usize>, max: Option<usize>) -> StackErrorKind {
    match (mappings, max) {
        (Some(mappings), Some(max)) if mappings + super::headroom::slack(max) >= max => {
            StackErrorKind::MapCountLimit { mappings, max }
        }
        _ => StackErrorKind::OutOfMemory,
    }
}

/// The message for the map-count case. Kept separate so it can be tested with made-up numbers.
fn map_count_message(mappings: usize, max: usize) -> String {
    let suggested = SUGGESTED_MAX_MAP_COUNT.max(max.saturating_mul(2));
    format!(
        "cannot map goroutine stack: the process has {mappings} memory mappings and \
         vm.max_map_count is {max} (each goroutine stack needs {per}); raise it with: \
         sudo sysctl -w vm.max_map_count={suggested}",
        per = mappings_per_stack(),
    )
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            StackErrorKind::MapCountLimit { mappings, max } => {
                f.write_str(&map_count_message(mappings, max))
            }
            StackErrorKind::OutOfMemory => write!(
                f,
                "cannot map goroutine stack of {} KiB: out of memory ({} failed: {}); the system \
                 is out of memory or the address-space limit (ulimit -v) is reached",
                self.size / 1024,
                self.op,
                OsText(&self.os),
            ),
            StackErrorKind::InvalidSize => write!(
                f,
                "invalid goroutine stack size {} bytes (expected {})",
                self.size,
                super::STACK_SIZE_EXPECTED,
            ),
            StackErrorKind::Os => write!(
                f,
                "cannot map goroutine stack of {} KiB: {} failed: {}",
                self.size / 1024,
                self.op,
                OsText(&self.os),
            ),
        }
    }
}

struct OsText<'a>(&'a Option<io::Error>);

impl fmt::Display for OsText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(e) => write!(f, "{e}"),
            None => f.write_str("unknown error"),
        }
    }
}

impl std::error::Error for StackError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.os.as_ref().map(|e| e as _)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_count_message_names_the_sysctl_and_the_fix() {
        let msg = map_count_message(65519, 65530);
        assert_eq!(
            msg,
            "cannot map goroutine stack: the process has 65519 memory mappings and \
             vm.max_map_count is 65530 (each goroutine stack needs 2); raise it with: \
             sudo sysctl -w vm.max_map_count=1048576"
        );
        // Already at the suggested value: suggest doubling it.
        assert!(map_count_message(1 << 20, 1 << 20).ends_with("vm.max_map_count=2097152"));
    }

    #[test]
    fn enomem_is_blamed_on_the_map_count_only_near_the_limit() {
        assert_eq!(
            classify_enomem(Some(65519), Some(65530)),
            StackErrorKind::MapCountLimit {
                mappings: 65519,
                max: 65530
            }
        );
        assert_eq!(
            classify_enomem(Some(1000), Some(65530)),
            StackErrorKind::OutOfMemory
        );
        assert_eq!(
            classify_enomem(None, Some(65530)),
            StackErrorKind::OutOfMemory
        );
        assert_eq!(
            classify_enomem(Some(65530), None),
            StackErrorKind::OutOfMemory
        );

        let e = StackError {
            kind: classify_enomem(Some(65500), Some(65530)),
            op: "mmap",
            size: 65536,
            os: Some(io::Error::from_raw_os_error(libc::ENOMEM)),
        };
        assert!(e.is_map_count_limit());
        let text = e.to_string();
        assert!(text.contains("vm.max_map_count is 65530"), "{text}");
        assert!(text.contains("65500 memory mappings"), "{text}");
        assert!(text.contains("sudo sysctl -w vm.max_map_count="), "{text}");
    }

    #[test]
    fn out_of_memory_message_has_the_errno_text() {
        let e = StackError {
            kind: StackErrorKind::OutOfMemory,
            op: "mmap",
            size: 64 * 1024,
            os: Some(io::Error::from_raw_os_error(libc::ENOMEM)),
        };
        let text = e.to_string();
        assert!(text.contains("64 KiB"), "{text}");
        assert!(text.contains("out of memory"), "{text}");
        assert!(text.contains("os error 12"), "{text}");
        assert!(!text.contains("max_map_count"), "{text}");
        assert_eq!(e.raw_os_error(), Some(libc::ENOMEM));
        assert!(std::error::Error::source(&e).is_some());
    }

    /// A real ENOMEM from the kernel, far from the map-count limit: in a child process whose
    /// address space is capped (RLIMIT_AS), a 1 GiB stack cannot be mapped, and the error must
    /// say out of memory, not blame vm.max_map_count.
    #[test]
    fn real_enomem_under_rlimit_as_is_out_of_memory() {
        use std::os::unix::process::ExitStatusExt;
        const CHILD_ENV: &str = "GORT_STACK_ENOMEM_CHILD";
        if std::env::var_os(CHILD_ENV).is_some() {
            // The test binary already uses far less than 1 GiB of address space beyond what it
            // has; allow 256 MiB more than now.
            let now: usize = std::fs::read_to_string("/proc/self/statm")
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .parse::<usize>()
                .unwrap()
                * super::super::page_size();
            let cap = (now + (256 << 20)) as libc::rlim_t;
            let lim = libc::rlimit {
                rlim_cur: cap,
                rlim_max: cap,
            };
            // SAFETY: setrlimit reads a valid rlimit; this child exists to run under it.
            assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) }, 0);
            let err = super::super::GoStack::new(super::super::MAX_STACK_SIZE).unwrap_err();
            println!("CHILD-ERROR: {err}");
            assert_eq!(err.kind(), StackErrorKind::OutOfMemory, "{err}");
            assert_eq!(err.raw_os_error(), Some(libc::ENOMEM));
            return;
        }
        let module = module_path!().split_once("::").unwrap().1;
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                &format!("{module}::real_enomem_under_rlimit_as_is_out_of_memory"),
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "child failed: {:?} {stdout} {}",
            out.status.signal(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout
                .contains("CHILD-ERROR: cannot map goroutine stack of 1048576 KiB: out of memory"),
            "{stdout}"
        );
    }

    #[test]
    fn limits_are_readable_here() {
        // /proc is mounted on the machines this project runs on.
        let max = max_map_count().expect("vm.max_map_count readable");
        let now = current_map_count().expect("/proc/self/maps readable");
        assert!(now > 0 && max > 0);
        assert_eq!(mappings_per_stack(), 2);
    }
}
