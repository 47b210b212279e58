//! Runtime settings read from the environment: `GOMAXPROCS`, `GODEBUG`, `GOGC`, `GOMEMLIMIT`
//! and gort's `GORT_STACK_SIZE` (the goroutine stack size of `#[gort::main]` programs).
//!
//! Go silently ignores a malformed `GOMAXPROCS`; gort refuses it with an error that names the
//! variable, the value and what was expected, because a silent default hides a misconfigured
//! deployment. So for every variable here, including a value that is not UTF-8. `GODEBUG` is
//! shared with real Go programs (it carries keys such as `http2client=0` that mean nothing to
//! gort), so it is split as Go's `parsegodebug` splits it (comma-separated fields, never
//! trimmed; fields without `=` skipped; keys matched exactly, so `gctrace = 1` names the key
//! `gctrace `, which Go and gort ignore; later fields override earlier ones) and unknown keys
//! are ignored, but a known key with a bad value (which Go would ignore) is an error.
//!
//! The default GOMAXPROCS (neither `GOMAXPROCS` nor
//! [`Builder::gomaxprocs`](crate::Builder::gomaxprocs) set) is Go 1.25's container-aware one:
//! see [`cgroup`]. [`effective`] reports every setting as a runtime built now would see it,
//! with where each came from (`gort env` prints it).

use std::fmt;

pub mod cgroup;

/// A setting from the environment (or a builder call) that gort cannot accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable or setting, e.g. `GOMAXPROCS` or `GODEBUG=schedtrace`.
    pub name: String,
    /// The value that was given.
    pub value: String,
    /// What was expected instead.
    pub expected: &'static str,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {}={:?}: expected {}",
            self.name, self.value, self.expected
        )
    }
}

impl std::error::Error for ConfigError {}

/// Parses a `GOMAXPROCS` value: a positive integer (surrounding blanks allowed).
pub fn parse_gomaxprocs(value: &str) -> Result<usize, ConfigError> {
    let err = || ConfigError {
        name: "GOMAXPROCS".into(),
        value: value.into(),
        expected: "a positive integer such as 4",
    };
    match value.trim().parse::<usize>() {
        Ok(0) | Err(_) => Err(err()),
        Ok(n) if n > MAX_PROCS => Err(ConfigError {
            expected: "at most 1024",
            ..err()
        }),
        Ok(n) => Ok(n),
    }
}

/// Largest accepted GOMAXPROCS (Go allows more, but beyond this gort's per-P arrays are waste).
pub const MAX_PROCS: usize = 1024;

/// `GOMAXPROCS` from the environment: `Ok(None)` when unset or empty.
pub fn gomaxprocs_from_env() -> Result<Option<usize>, ConfigError> {
    match env_var("GOMAXPROCS", "a positive integer such as 4")? {
        Some(v) if v.trim().is_empty() => Ok(None),
        Some(v) => parse_gomaxprocs(&v).map(Some),
        None => Ok(None),
    }
}

/// The number of CPUs this process may run on (its affinity mask), at least 1.
pub fn ncpu() -> usize {
    cgroup::affinity_cpus()
}

/// Where the GOMAXPROCS of a runtime came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GomaxprocsSource {
    /// [`Builder::gomaxprocs`](crate::Builder::gomaxprocs) (or `#[gort::main(gomaxprocs = N)]`).
    Builder,
    /// The `GOMAXPROCS` environment variable.
    Env,
    /// The CPU cgroup's limit (quota/period rounded up, at least 2), below the affinity mask's CPUs.
    Cgroup,
    /// The CPUs of the affinity mask.
    Cpus,
}

impl GomaxprocsSource {
    /// A short name: `builder`, `env`, `cgroup` or `cpus`.
    pub fn as_str(self) -> &'static str {
        match self {
            GomaxprocsSource::Builder => "builder",
            GomaxprocsSource::Env => "env",
            GomaxprocsSource::Cgroup => "cgroup",
            GomaxprocsSource::Cpus => "cpus",
        }
    }
}

/// The default GOMAXPROCS (Go 1.25's `defaultGOMAXPROCS`): the affinity mask's CPUs, lowered
/// to the cgroup limit unless `GODEBUG=containermaxprocs=0`. See [`cgroup`].
pub fn default_gomaxprocs(godebug: &GoDebug) -> (usize, GomaxprocsSource) {
    let cpus = ncpu().min(MAX_PROCS);
    if !godebug.containermaxprocs {
        return (cpus, GomaxprocsSource::Cpus);
    }
    let n = cgroup::adjust(cpus, cgroup::cpu_limit());
    if n < cpus {
        (n, GomaxprocsSource::Cgroup)
    } else {
        (cpus, GomaxprocsSource::Cpus)
    }
}

/// GOMAXPROCS as [`Builder::build`](crate::Builder::build) decides it: `explicit` (the
/// builder's) first, then the `GOMAXPROCS` variable, then [`default_gomaxprocs`].
pub fn resolve_gomaxprocs(
    explicit: Option<usize>,
    godebug: &GoDebug,
) -> Result<(usize, GomaxprocsSource), ConfigError> {
    if let Some(n) = explicit {
        return Ok((parse_gomaxprocs(&n.to_string())?, GomaxprocsSource::Builder));
    }
    Ok(match gomaxprocs_from_env()? {
        Some(n) => (n, GomaxprocsSource::Env),
        None => default_gomaxprocs(godebug),
    })
}

/// The GODEBUG keys that configure the collector. The GC heap is one per process while the
/// scheduler is one per [`Runtime`](crate::Runtime), so these are process-wide settings: the
/// environment's value is read once (at the first use of the heap), and a
/// [`Builder::godebug`](crate::Builder::godebug) string that names one of them sets it for the
/// whole process, as the matching knob (`gc::set_torture`, `gc::set_checkmark`) would: the
/// runtime built last wins. Keys the string does not name keep their process-wide value.
/// docs/DESIGN.md has the full table.
pub(crate) const GC_GODEBUG_KEYS: [&str; 4] =
    ["gctrace", "gccheckmark", "gctorture", "allocfreetrace"];

/// The GC keys `Builder::godebug` strings named, oldest first, not yet applied. The core only
/// records them (it does not call into the `gc` package, which is above it); the heap applies
/// them at its next use (`gc::init`, at every allocation and collection), in order, after the
/// environment's values.
static GC_REQUESTS: std::sync::Mutex<Vec<(GoDebug, Vec<&'static str>)>> =
    std::sync::Mutex::new(Vec::new());
/// Requests recorded so far ([`request_gc_godebug`]); the heap compares it with the count it
/// applied, one relaxed load per allocation.
pub(crate) static GC_REQUESTS_GEN: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(0);

/// Records the GC keys a runtime's `Builder::godebug` string names (`named`, a subset of
/// [`GC_GODEBUG_KEYS`]) with their values in `d`, for the heap to apply. An
/// `allocfreetrace=FILE` that cannot be created is refused here, at build, as a bad value is.
pub(crate) fn request_gc_godebug(d: &GoDebug, named: &[&'static str]) -> Result<(), ConfigError> {
    if named.is_empty() {
        return Ok(());
    }
    if let (true, AllocFreeTrace::File(path)) =
        (named.contains(&"allocfreetrace"), &d.allocfreetrace)
    {
        if let Err(e) = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
        {
            return Err(ConfigError {
                name: "GODEBUG=allocfreetrace".into(),
                value: format!("{path} ({e})"),
                expected: "0, 1 or the path of a file that can be created",
            });
        }
    }
    GC_REQUESTS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((d.clone(), named.to_vec()));
    GC_REQUESTS_GEN.fetch_add(1, std::sync::atomic::Ordering::Release);
    Ok(())
}

/// Takes the recorded requests (for the heap, which applies them in order).
pub(crate) fn take_gc_godebug_requests() -> Vec<(GoDebug, Vec<&'static str>)> {
    std::mem::take(&mut *GC_REQUESTS.lock().unwrap_or_else(|e| e.into_inner()))
}

/// The GODEBUG settings gort understands. Defaults are Go's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoDebug {
    /// `schedtrace=X`: print a scheduler summary line every X ms (0 = off).
    pub schedtrace_ms: u64,
    /// `scheddetail=1`: with schedtrace, add one line per P, M and G.
    pub scheddetail: bool,
    /// `gctrace=N`: 1 prints one line per GC cycle; 2 also repeats each collection (a second,
    /// stop-the-world mark and sweep inside mark termination, as Go documents); 0 is off.
    pub gctrace: u32,
    /// `gccheckmark=1`: verify concurrent marking with a stop-the-world re-mark.
    pub gccheckmark: bool,
    /// `gctorture=N` (gort only): collect every N allocations on the GC heap (0 = off).
    pub gctorture: u64,
    /// `schedstress=1` (gort only): every call into the runtime (spawn, park, unpark, join)
    /// also yields, shaking out ordering assumptions. A torture mode for tests.
    pub schedstress: bool,
    /// `stalltrace=N` (gort only): report a goroutine that has blocked its P's thread for N
    /// ms (who, where, how many goroutines wait; once per stall). `None`: 100; 0: off.
    pub stalltrace_ms: Option<u64>,
    /// `stalldump=N` (gort only): past N ms, repeat the report with every goroutine's stack.
    /// `None`: 1000; 0: never.
    pub stalldump_ms: Option<u64>,
    /// `containermaxprocs=0` (Go 1.25): the default GOMAXPROCS ignores the CPU cgroup limit.
    pub containermaxprocs: bool,
    /// `updatemaxprocs` (Go 1.25): parsed, but gort's P count is fixed when a runtime is built,
    /// so the limit is read at build only (see [`cgroup`]).
    pub updatemaxprocs: bool,
    /// Keys gort does not know (Go's, such as `http2client`), in order: ignored.
    pub ignored: Vec<String>,
    /// `allocfreetrace=1` (Go removed it in 1.22; gort keeps it): a record per GC-heap
    /// allocation and free, in Go's format, on stderr; `allocfreetrace=FILE` writes them to
    /// FILE instead (created or truncated); 0 is off.
    pub allocfreetrace: AllocFreeTrace,
    /// `tracebackancestors=N`: goroutine dumps (and deadlock reports) show, for each goroutine,
    /// where up to N of its ancestors were created (Go's `[originating from goroutine M]:`);
    /// 0 is off.
    pub tracebackancestors: u32,
    /// `decoratemappings=1` (Go 1.25's default; `0` turns it off): name gort's anonymous
    /// mappings (`[anon: gort goroutine stack]`, `[anon: gort gc span]` in /proc/PID/maps).
    pub decoratemappings: bool,
    /// `interpose=1` (gort only, the default; `0` turns it off): libc's sleep calls made by
    /// std and crates from a goroutine park it instead of blocking its P's thread
    /// (`rt/interpose/`). Per runtime.
    pub interpose: bool,
}

/// Where `GODEBUG=allocfreetrace` sends its records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AllocFreeTrace {
    /// `allocfreetrace=0` or unset.
    #[default]
    Off,
    /// `allocfreetrace=1`.
    Stderr,
    /// `allocfreetrace=FILE` (any other value): the path.
    File(String),
}

impl Default for GoDebug {
    fn default() -> Self {
        GoDebug {
            schedtrace_ms: 0,
            scheddetail: false,
            gctrace: 0,
            gccheckmark: false,
            gctorture: 0,
            schedstress: false,
            allocfreetrace: AllocFreeTrace::Off,
            tracebackancestors: 0,
            decoratemappings: true,
            interpose: true,
            stalltrace_ms: None,
            stalldump_ms: None,
            containermaxprocs: true,
            updatemaxprocs: true,
            ignored: Vec::new(),
        }
    }
}

/// The GODEBUG keys gort understands, in the order `gort env` prints them.
pub const GODEBUG_KEYS: &[&str] = &[
    "schedtrace",
    "scheddetail",
    "gctrace",
    "gccheckmark",
    "gctorture",
    "schedstress",
    "stalltrace",
    "stalldump",
    "allocfreetrace",
    "tracebackancestors",
    "decoratemappings",
    "interpose",
    "containermaxprocs",
    "updatemaxprocs",
];

impl GoDebug {
    /// The value of a known key as GODEBUG would spell it (`None` for unknown keys).
    pub fn value(&self, key: &str) -> Option<String> {
        let b = |v: bool| u8::from(v).to_string();
        Some(match key {
            "schedtrace" => self.schedtrace_ms.to_string(),
            "scheddetail" => b(self.scheddetail),
            "gctrace" => self.gctrace.to_string(),
            "gccheckmark" => b(self.gccheckmark),
            "gctorture" => self.gctorture.to_string(),
            "schedstress" => b(self.schedstress),
            "stalltrace" => self.stalltrace_ms.unwrap_or(100).to_string(),
            "stalldump" => self.stalldump_ms.unwrap_or(1000).to_string(),
            "allocfreetrace" => match &self.allocfreetrace {
                AllocFreeTrace::Off => "0".to_string(),
                AllocFreeTrace::Stderr => "1".to_string(),
                AllocFreeTrace::File(f) => f.clone(),
            },
            "tracebackancestors" => self.tracebackancestors.to_string(),
            "decoratemappings" => b(self.decoratemappings),
            "interpose" => b(self.interpose),
            "containermaxprocs" => b(self.containermaxprocs),
            "updatemaxprocs" => b(self.updatemaxprocs),
            _ => return None,
        })
    }

    /// Parses a GODEBUG string: comma-separated `key=value` pairs, split as Go splits them
    /// (module docs: no trimming, exact keys, fields without `=` skipped). Unknown keys are
    /// ignored (GODEBUG is shared with Go programs); known keys with bad values are errors.
    pub fn parse(s: &str) -> Result<GoDebug, ConfigError> {
        let mut d = GoDebug::default();
        for field in s.split(',') {
            let Some((key, value)) = field.split_once('=') else {
                continue;
            };
            let bad = |expected| ConfigError {
                name: format!("GODEBUG={key}"),
                value: value.to_string(),
                expected,
            };
            match key {
                "schedtrace" => {
                    d.schedtrace_ms = value
                        .parse()
                        .map_err(|_| bad("a period in milliseconds such as 1000"))?
                }
                "scheddetail" => d.scheddetail = parse_flag(value).ok_or_else(|| bad("0 or 1"))?,
                "gctrace" => d.gctrace = value.parse().map_err(|_| bad("0, 1 or 2"))?,
                "gccheckmark" => d.gccheckmark = parse_flag(value).ok_or_else(|| bad("0 or 1"))?,
                "gctorture" => {
                    d.gctorture = value
                        .parse()
                        .map_err(|_| bad("an allocation count such as 100 (0 = off)"))?
                }
                "schedstress" => d.schedstress = parse_flag(value).ok_or_else(|| bad("0 or 1"))?,
                "stalltrace" => {
                    d.stalltrace_ms = Some(
                        value
                            .parse()
                            .map_err(|_| bad("a duration in milliseconds such as 100 (0 = off)"))?,
                    )
                }
                "stalldump" => {
                    d.stalldump_ms =
                        Some(value.parse().map_err(|_| {
                            bad("a duration in milliseconds such as 1000 (0 = off)")
                        })?)
                }
                "containermaxprocs" => {
                    d.containermaxprocs = parse_flag(value).ok_or_else(|| bad("0 or 1"))?
                }
                "updatemaxprocs" => {
                    d.updatemaxprocs = parse_flag(value).ok_or_else(|| bad("0 or 1"))?
                }
                "decoratemappings" => {
                    d.decoratemappings = parse_flag(value).ok_or_else(|| bad("0 or 1"))?
                }
                "interpose" => d.interpose = parse_flag(value).ok_or_else(|| bad("0 or 1"))?,
                "tracebackancestors" => {
                    d.tracebackancestors = value
                        .parse()
                        .map_err(|_| bad("a number of ancestors such as 5 (0 = off)"))?
                }
                "allocfreetrace" => {
                    d.allocfreetrace = match value {
                        "0" => AllocFreeTrace::Off,
                        "1" => AllocFreeTrace::Stderr,
                        "" => return Err(bad("0, 1 or a file name")),
                        path => AllocFreeTrace::File(path.into()),
                    }
                }
                _ => {
                    if !d.ignored.iter().any(|k| k == key) {
                        d.ignored.push(key.to_string());
                    }
                }
            }
        }
        Ok(d)
    }

    /// GODEBUG from the environment (empty when unset; an error when not UTF-8).
    pub fn from_env() -> Result<GoDebug, ConfigError> {
        match env_var("GODEBUG", "comma-separated key=value settings in UTF-8")? {
            Some(v) => GoDebug::parse(&v),
            None => Ok(GoDebug::default()),
        }
    }
}

/// An environment variable: `Ok(None)` when unset, an error naming it (with `expected`) when
/// its value is not UTF-8.
fn env_var(name: &str, expected: &'static str) -> Result<Option<String>, ConfigError> {
    match std::env::var(name) {
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(v)) => Err(ConfigError {
            name: name.into(),
            value: v.to_string_lossy().into_owned(),
            expected,
        }),
    }
}

const GOGC_EXPECTED: &str = "a percentage such as 100, or off";
const GOMEMLIMIT_EXPECTED: &str =
    "a byte count such as 512MiB (suffixes B, KiB, MiB, GiB, TiB), or off";

/// Parses `GOGC`: a percentage (`100`), or `off` / a negative number to turn the GOGC goal
/// off. Returns -1 for off.
pub fn parse_gogc(value: &str) -> Result<i64, ConfigError> {
    let v = value.trim();
    if v == "off" {
        return Ok(-1);
    }
    match v.parse::<i64>() {
        Ok(n) if n < 0 => Ok(-1),
        Ok(n) => Ok(n),
        Err(_) => Err(ConfigError {
            name: "GOGC".into(),
            value: value.into(),
            expected: GOGC_EXPECTED,
        }),
    }
}

/// Parses `GOMEMLIMIT`: a byte count with an optional suffix B, KiB, MiB, GiB or TiB (Go's
/// syntax), or `off` (no limit, `i64::MAX`).
pub fn parse_gomemlimit(value: &str) -> Result<u64, ConfigError> {
    let v = value.trim();
    let err = || ConfigError {
        name: "GOMEMLIMIT".into(),
        value: value.into(),
        expected: GOMEMLIMIT_EXPECTED,
    };
    if v == "off" {
        return Ok(i64::MAX as u64);
    }
    let digits = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, suffix) = v.split_at(digits);
    let shift = match suffix {
        "" | "B" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        "TiB" => 40,
        _ => return Err(err()),
    };
    let n: u64 = num.parse().map_err(|_| err())?;
    n.checked_shl(shift)
        .filter(|&b| b >> shift == n && b <= i64::MAX as u64)
        .ok_or_else(err)
}

/// `GOGC` from the environment (`Ok(None)` when unset or empty).
pub fn gogc_from_env() -> Result<Option<i64>, ConfigError> {
    match env_var("GOGC", GOGC_EXPECTED)? {
        Some(v) if v.trim().is_empty() => Ok(None),
        Some(v) => parse_gogc(&v).map(Some),
        None => Ok(None),
    }
}

/// `GOMEMLIMIT` from the environment (`Ok(None)` when unset or empty).
pub fn gomemlimit_from_env() -> Result<Option<u64>, ConfigError> {
    match env_var("GOMEMLIMIT", GOMEMLIMIT_EXPECTED)? {
        Some(v) if v.trim().is_empty() => Ok(None),
        Some(v) => parse_gomemlimit(&v).map(Some),
        None => Ok(None),
    }
}

/// Smallest goroutine stack gort accepts (`Builder::stack_size` refuses less).
pub const MIN_STACK_SIZE: usize = 16 * 1024;

/// Largest goroutine stack `GORT_STACK_SIZE` accepts: Go's maximum (`runtime/debug.
/// SetMaxStack`'s default on 64-bit systems, 1 GB), as a reservation per goroutine.
pub const MAX_STACK_SIZE: usize = 1 << 30;

/// Parses `GORT_STACK_SIZE`: a byte count with an optional suffix B, KiB, MiB or GiB (the
/// syntax of `GOMEMLIMIT`), from 16KiB to 1GiB.
pub fn parse_stack_size(value: &str) -> Result<usize, ConfigError> {
    let err = |expected| ConfigError {
        name: "GORT_STACK_SIZE".into(),
        value: value.into(),
        expected,
    };
    const SYNTAX: &str = "a byte count such as 1MiB or 262144 (suffixes B, KiB, MiB, GiB)";
    let v = value.trim();
    if v.ends_with("TiB") || v == "off" {
        return Err(err(SYNTAX));
    }
    let n = parse_gomemlimit(v).map_err(|_| err(SYNTAX))?;
    match usize::try_from(n) {
        Ok(n) if n < MIN_STACK_SIZE => Err(err("at least 16KiB")),
        Ok(n) if n <= MAX_STACK_SIZE => Ok(n),
        _ => Err(err("at most 1GiB (Go's maximum goroutine stack)")),
    }
}

/// `GORT_STACK_SIZE` from the environment (`Ok(None)` when unset or empty).
pub fn stack_size_from_env() -> Result<Option<usize>, ConfigError> {
    match std::env::var("GORT_STACK_SIZE") {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => parse_stack_size(&v).map(Some),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(v)) => Err(ConfigError {
            name: "GORT_STACK_SIZE".into(),
            value: v.to_string_lossy().into_owned(),
            expected: "a byte count such as 1MiB or 262144 (suffixes B, KiB, MiB, GiB)",
        }),
    }
}

/// Every setting as a runtime built now (by `Builder::new().build()`, or a `#[gort::main]`
/// program without arguments) would take it, with its source. `gort env` prints this.
#[derive(Debug, Clone, PartialEq)]
pub struct Effective {
    /// The number of Ps.
    pub gomaxprocs: usize,
    /// Where `gomaxprocs` came from (never [`GomaxprocsSource::Builder`] here).
    pub gomaxprocs_source: GomaxprocsSource,
    /// The CPUs of the affinity mask.
    pub cpus: usize,
    /// The CPU cgroup's limit in CPUs (quota/period), `None` for none or when
    /// `GODEBUG=containermaxprocs=0`.
    pub cgroup_limit: Option<f64>,
    /// `GOGC` (-1 for off), and whether it came from the environment.
    pub gogc: (i64, bool),
    /// `GOMEMLIMIT` in bytes (`i64::MAX` for off), and whether it came from the environment.
    pub gomemlimit: (u64, bool),
    /// The goroutine stack size of a `#[gort::main]` program, and whether it came from
    /// `GORT_STACK_SIZE` (else [`crate::DEFAULT_STACK_SIZE`]).
    pub stack_size: (usize, bool),
    /// GODEBUG as gort parses it (unknown keys in [`GoDebug::ignored`]).
    pub godebug: GoDebug,
}

/// The settings from the environment, decided as [`Builder::build`](crate::Builder::build)
/// decides them (same functions); the first bad value is an error.
pub fn effective() -> Result<Effective, ConfigError> {
    let godebug = GoDebug::from_env()?;
    let (gomaxprocs, gomaxprocs_source) = resolve_gomaxprocs(None, &godebug)?;
    let gogc = gogc_from_env()?;
    let gomemlimit = gomemlimit_from_env()?;
    let stack = stack_size_from_env()?;
    Ok(Effective {
        gomaxprocs,
        gomaxprocs_source,
        cpus: ncpu(),
        cgroup_limit: if godebug.containermaxprocs {
            cgroup::cpu_limit()
        } else {
            None
        },
        gogc: (gogc.unwrap_or(100), gogc.is_some()),
        gomemlimit: (gomemlimit.unwrap_or(i64::MAX as u64), gomemlimit.is_some()),
        stack_size: (stack.unwrap_or(crate::DEFAULT_STACK_SIZE), stack.is_some()),
        godebug,
    })
}

fn parse_flag(v: &str) -> Option<bool> {
    match v {
        "0" => Some(false),
        "1" => Some(true),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_size_values() {
        assert_eq!(parse_stack_size("262144"), Ok(256 << 10));
        assert_eq!(parse_stack_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_stack_size(" 64KiB "), Ok(64 << 10));
        assert_eq!(parse_stack_size("16384B"), Ok(16384));
        assert_eq!(parse_stack_size("1GiB"), Ok(1 << 30));
        for (bad, says) in [
            ("big", "expected a byte count such as 1MiB"),
            ("1 MiB", "expected a byte count"),
            ("1MB", "expected a byte count"),
            ("-1", "expected a byte count"),
            ("off", "expected a byte count"),
            ("1TiB", "expected a byte count"),
            ("4KiB", "expected at least 16KiB"),
            ("0", "expected at least 16KiB"),
            ("2GiB", "expected at most 1GiB"),
            ("99999999999999999999", "expected a byte count"),
        ] {
            let e = parse_stack_size(bad).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("invalid GORT_STACK_SIZE={bad:?}: ")) && e.contains(says),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn gomaxprocs_values() {
        assert_eq!(parse_gomaxprocs("4"), Ok(4));
        assert_eq!(parse_gomaxprocs(" 2 "), Ok(2));
        for bad in ["0", "-1", "two", "", "1.5", "99999"] {
            let e = parse_gomaxprocs(bad).unwrap_err();
            assert!(e.to_string().starts_with("invalid GOMAXPROCS="), "{e}");
        }
        assert_eq!(
            parse_gomaxprocs("abc").unwrap_err().to_string(),
            "invalid GOMAXPROCS=\"abc\": expected a positive integer such as 4"
        );
    }

    #[test]
    fn godebug_values() {
        let d = GoDebug::parse("schedtrace=100,scheddetail=1,http2client=0").unwrap();
        assert_eq!(d.schedtrace_ms, 100);
        assert!(d.scheddetail);
        assert_eq!(d.gctrace, 0);
        assert_eq!(GoDebug::parse("gctrace=2").unwrap().gctrace, 2);
        let e = GoDebug::parse("gctrace=yes").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid GODEBUG=gctrace=\"yes\": expected 0, 1 or 2"
        );
        assert!(GoDebug::parse("schedtrace=-5").is_err());
        assert_eq!(GoDebug::parse("").unwrap(), GoDebug::default());
        assert_eq!(GoDebug::parse("gctorture=50").unwrap().gctorture, 50);
        assert!(GoDebug::parse("gctorture=x").is_err());
        let d = GoDebug::parse("containermaxprocs=0,updatemaxprocs=0,http2client=0,x=1").unwrap();
        assert!(!d.containermaxprocs && !d.updatemaxprocs);
        assert_eq!(d.ignored, ["http2client", "x"]);
        assert!(GoDebug::default().containermaxprocs && GoDebug::default().updatemaxprocs);
        assert!(GoDebug::parse("containermaxprocs=2").is_err());
        for k in GODEBUG_KEYS {
            assert!(GoDebug::default().value(k).is_some(), "{k}");
        }
        let t = |v: &str| GoDebug::parse(v).map(|d| d.allocfreetrace);
        assert_eq!(t("allocfreetrace=1"), Ok(AllocFreeTrace::Stderr));
        assert_eq!(t("allocfreetrace=0"), Ok(AllocFreeTrace::Off));
        assert_eq!(
            t("allocfreetrace=/tmp/af.txt"),
            Ok(AllocFreeTrace::File("/tmp/af.txt".into()))
        );
        assert!(t("allocfreetrace=").is_err());
        assert_eq!(
            GoDebug::parse("tracebackancestors=3")
                .unwrap()
                .tracebackancestors,
            3
        );
        assert!(GoDebug::parse("tracebackancestors=x").is_err());
        assert!(GoDebug::default().decoratemappings);
        assert!(
            !GoDebug::parse("decoratemappings=0")
                .unwrap()
                .decoratemappings
        );
    }

    /// As Go's `parsegodebug` (runtime/runtime1.go): fields split at commas and never trimmed,
    /// fields without `=` skipped, keys matched exactly (so `gctrace = 1` is the key `gctrace `,
    /// which Go ignores), later fields override earlier ones. Checked against Go 1.26:
    /// `GODEBUG="gctrace = 1" go run ./cmd/binarytrees` (and the other spellings below) prints
    /// no gctrace line. gort's deviation: a known key with a value Go would ignore is an error.
    #[test]
    fn godebug_is_split_as_go_splits_it() {
        for ignored in [
            "gctrace = 1",
            " gctrace=1",
            "gctrace =1",
            "http2client=0, gctrace=1",
            "gctrace",
            "gctrace=1,gctrace=0",
            "GCTRACE=1",
        ] {
            let mut d = GoDebug::parse(ignored).unwrap();
            d.ignored.clear();
            assert_eq!(d, GoDebug::default(), "{ignored:?}");
        }
        assert_eq!(
            GoDebug::parse("http2client=0,gctrace=1").unwrap().gctrace,
            1
        );
        assert_eq!(GoDebug::parse("gctrace=0,gctrace=1").unwrap().gctrace, 1);
        assert_eq!(GoDebug::parse(",,gctrace=1,").unwrap().gctrace, 1);
        for bad in ["gctrace=1 ", "gctrace= 1", "gctrace=", "schedtrace= 100"] {
            let e = GoDebug::parse(bad).unwrap_err();
            assert!(
                e.to_string().starts_with("invalid GODEBUG="),
                "{bad:?}: {e}"
            );
        }
        assert_eq!(
            GoDebug::parse("gctrace=1 ").unwrap_err().to_string(),
            "invalid GODEBUG=gctrace=\"1 \": expected 0, 1 or 2"
        );
    }

    #[test]
    fn gogc_and_gomemlimit_values() {
        assert_eq!(parse_gogc("100"), Ok(100));
        assert_eq!(parse_gogc("off"), Ok(-1));
        assert_eq!(parse_gogc("-5"), Ok(-1));
        assert_eq!(
            parse_gogc("lots").unwrap_err().to_string(),
            "invalid GOGC=\"lots\": expected a percentage such as 100, or off"
        );
        assert_eq!(parse_gomemlimit("512MiB"), Ok(512 << 20));
        assert_eq!(parse_gomemlimit("1GiB"), Ok(1 << 30));
        assert_eq!(parse_gomemlimit("4096"), Ok(4096));
        assert_eq!(parse_gomemlimit("10B"), Ok(10));
        assert_eq!(parse_gomemlimit("2TiB"), Ok(2 << 40));
        assert_eq!(parse_gomemlimit("off"), Ok(i64::MAX as u64));
        for bad in ["", "12MB", "1.5GiB", "-1", "MiB", "99999999999TiB"] {
            let e = parse_gomemlimit(bad).unwrap_err();
            assert!(e.to_string().starts_with("invalid GOMEMLIMIT="), "{e}");
        }
    }
}
