//! `gort env`: the runtime settings a gort program started now would get, and why (Go's
//! `go env GOMAXPROCS` habit). It calls the library's own decision ([`gort::env::effective`],
//! the functions `Builder::build` uses), so the command and the runtime cannot disagree.
//!
//! `gort env` prints every setting as `NAME='value'` with a `# why` comment (a file `sh` can
//! source); `gort env NAME...` prints just the values, one per line, and an empty line for a
//! name it does not know (as `go env` does). A bad value in the environment is one line on
//! stderr and exit status 2, as a `#[gort::main]` program would stop.

use gort::env::{Effective, GomaxprocsSource, GODEBUG_KEYS};

/// The names `gort env` knows, in the order it prints them.
pub const NAMES: &[&str] = &[
    "GOMAXPROCS",
    "GOGC",
    "GOMEMLIMIT",
    "GODEBUG",
    "GORT_STACK_SIZE",
];

/// Runs `gort env [NAME...]`: the output, or the error line and exit code 2.
pub fn run(names: &[String]) -> Result<String, (String, i32)> {
    let e = gort::env::effective().map_err(|e| (format!("gort: {e}"), 2))?;
    let mut out = String::new();
    if names.is_empty() {
        for name in NAMES {
            let (value, why) = entry(&e, name).expect("a known name");
            out.push_str(&format!("{name}='{value}' # {why}\n"));
        }
    } else {
        for name in names {
            if let Some((value, _)) = entry(&e, name) {
                out.push_str(&value);
            }
            out.push('\n');
        }
    }
    Ok(out)
}

/// The value of `name` and why it is what it is.
fn entry(e: &Effective, name: &str) -> Option<(String, String)> {
    let from = |env: bool| {
        if env {
            "from the environment"
        } else {
            "default"
        }
    };
    Some(match name {
        "GOMAXPROCS" => {
            let cgroup = match e.cgroup_limit {
                Some(l) => format!("cgroup CPU limit {l}"),
                None if !e.godebug.containermaxprocs => {
                    "cgroup ignored (GODEBUG=containermaxprocs=0)".into()
                }
                None => "no cgroup CPU limit".into(),
            };
            let why = match e.gomaxprocs_source {
                GomaxprocsSource::Env => "from the environment".to_string(),
                GomaxprocsSource::Builder => "from the program".to_string(),
                GomaxprocsSource::Cgroup => format!(
                    "cgroup: {cgroup}, rounded up (at least 2), below {} CPUs",
                    e.cpus
                ),
                GomaxprocsSource::Cpus => {
                    format!("cpus: {} CPUs in the affinity mask, {cgroup}", e.cpus)
                }
            };
            (e.gomaxprocs.to_string(), why)
        }
        "GOGC" => {
            let v = if e.gogc.0 < 0 {
                "off".to_string()
            } else {
                e.gogc.0.to_string()
            };
            (v, from(e.gogc.1).to_string())
        }
        "GOMEMLIMIT" => {
            let v = if e.gomemlimit.0 >= i64::MAX as u64 {
                "off".to_string()
            } else {
                e.gomemlimit.0.to_string()
            };
            (v, from(e.gomemlimit.1).to_string())
        }
        "GODEBUG" => {
            let v = GODEBUG_KEYS
                .iter()
                .map(|k| format!("{k}={}", e.godebug.value(k).unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",");
            let mut why = "as gort parses it".to_string();
            if !e.godebug.ignored.is_empty() {
                why.push_str(&format!("; ignored: {}", e.godebug.ignored.join(",")));
            }
            if !e.godebug.updatemaxprocs {
                why.push_str("; updatemaxprocs=0 changes nothing (gort's Ps are fixed at build)");
            }
            (v, why)
        }
        "GORT_STACK_SIZE" => (
            e.stack_size.0.to_string(),
            format!(
                "{} ({} KiB per goroutine)",
                from(e.stack_size.1),
                e.stack_size.0 / 1024
            ),
        ),
        _ => return None,
    })
}
