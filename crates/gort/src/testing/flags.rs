//! Command-line flags of a benchmark binary, spelled as `go test` spells them.
//!
//! Accepted forms: `-flag value`, `-flag=value`, `--flag=value`, `-test.flag ...`; boolean flags
//! take no value (or `=true`/`=false`). `--bench` alone is what `cargo bench` appends: it is
//! ignored as a flag but selects benchmark mode (see [`Config::bench_mode`]).

use super::benchtime::BenchTime;

/// Parsed flags.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `-bench`: which benchmarks run (default `.`, all). Go's RE2 syntax, split on `/` and
    /// `|` as Go splits it.
    pub bench: String,
    /// `-run`: Go's test filter. A benchmark binary has no tests, so it selects nothing, but it
    /// is checked like `-bench` (an invalid pattern fails, as in Go); scripts pass `-run '^$'`.
    pub run: Option<String>,
    /// `-benchtime` (default 1s in benchmark mode, `1x` otherwise).
    pub benchtime: BenchTime,
    /// `-count`: runs of each benchmark (default 1).
    pub count: u32,
    /// `-benchmem`: print `B/op` and `allocs/op` for every benchmark.
    pub benchmem: bool,
    /// `-cpu`: the GOMAXPROCS values to run each benchmark with (default: the current one).
    pub cpu: Vec<usize>,
    /// `-json`: print `go test -json` events instead of text.
    pub json: bool,
    /// `-v`: verbose; also shows progress on stderr when it is not a terminal.
    pub verbose: bool,
    /// `-cpuprofile`, `-memprofile`, `-mutexprofile`, `-blockprofile`, `-trace`: output files.
    pub cpuprofile: Option<String>,
    /// See `cpuprofile`.
    pub memprofile: Option<String>,
    /// See `cpuprofile`.
    pub mutexprofile: Option<String>,
    /// See `cpuprofile`.
    pub blockprofile: Option<String>,
    /// See `cpuprofile`.
    pub trace: Option<String>,
    /// `-memprofilerate`: `MemProfileRate` while `-memprofile` runs (None: unchanged).
    pub memprofilerate: Option<usize>,
    /// `-mutexprofilefraction` (default 1): the mutex fraction while `-mutexprofile` runs.
    pub mutexprofilefraction: i64,
    /// `-blockprofilerate` (default 1): the block rate while `-blockprofile` runs.
    pub blockprofilerate: i64,
    /// Whether this is a benchmark run (`cargo bench`, or `-bench`/`-benchtime` given) rather
    /// than a smoke test under `cargo test`, which runs each benchmark once (`-benchtime 1x`).
    pub bench_mode: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bench: ".".into(),
            run: None,
            benchtime: BenchTime::default(),
            count: 1,
            benchmem: false,
            cpu: Vec::new(),
            json: false,
            verbose: false,
            cpuprofile: None,
            memprofile: None,
            mutexprofile: None,
            blockprofile: None,
            trace: None,
            memprofilerate: None,
            mutexprofilefraction: 1,
            blockprofilerate: 1,
            bench_mode: false,
        }
    }
}

fn parse_bool(name: &str, v: Option<&str>) -> Result<bool, String> {
    match v {
        None | Some("true") | Some("1") | Some("t") | Some("T") | Some("TRUE") => Ok(true),
        Some("false") | Some("0") | Some("f") | Some("F") | Some("FALSE") => Ok(false),
        Some(v) => Err(format!("invalid boolean value {v:?} for -{name}")),
    }
}

impl Config {
    /// Parses the arguments after the program name.
    pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Config, String> {
        let mut c = Config::default();
        let mut explicit_benchtime = false;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == "--bench" {
                c.bench_mode = true; // appended by `cargo bench`
                continue;
            }
            let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
                return Err(format!("unexpected argument {arg:?}"));
            };
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (flag, None),
            };
            let name = name.strip_prefix("test.").unwrap_or(name);
            let mut value = |inline: Option<String>| {
                inline
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("flag needs an argument: -{name}"))
            };
            match name {
                "benchmem" => c.benchmem = parse_bool(name, inline.as_deref())?,
                "json" => c.json = parse_bool(name, inline.as_deref())?,
                "v" => c.verbose = parse_bool(name, inline.as_deref())?,
                "bench" => {
                    c.bench = value(inline)?;
                    c.bench_mode = true;
                }
                "benchtime" => {
                    let v = value(inline)?;
                    c.benchtime = v
                        .parse()
                        .map_err(|e| format!("invalid value {v:?} for flag -benchtime: {e}"))?;
                    explicit_benchtime = true;
                }
                "count" => {
                    let v = value(inline)?;
                    c.count = v
                        .parse()
                        .map_err(|_| format!("invalid value {v:?} for flag -count"))?;
                }
                "cpu" => {
                    let v = value(inline)?;
                    c.cpu = v
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(|s| match s.trim().parse::<usize>() {
                            Ok(n) if n > 0 => Ok(n),
                            _ => Err(format!("invalid value {s:?} for flag -cpu")),
                        })
                        .collect::<Result<_, _>>()?;
                }
                "cpuprofile" => c.cpuprofile = Some(value(inline)?),
                "memprofile" => c.memprofile = Some(value(inline)?),
                "mutexprofile" => c.mutexprofile = Some(value(inline)?),
                "blockprofile" => c.blockprofile = Some(value(inline)?),
                "trace" => c.trace = Some(value(inline)?),
                "memprofilerate" | "mutexprofilefraction" | "blockprofilerate" => {
                    let v = value(inline)?;
                    let n: i64 = v
                        .parse()
                        .map_err(|_| format!("invalid value {v:?} for flag -{name}"))?;
                    match name {
                        "memprofilerate" => c.memprofilerate = Some(n.max(0) as usize),
                        "mutexprofilefraction" => c.mutexprofilefraction = n,
                        _ => c.blockprofilerate = n,
                    }
                }
                // Test-only flags of `go test`, accepted so that shared scripts work.
                "run" => c.run = Some(value(inline)?),
                "timeout" | "benchmem_always" => {
                    let _ = value(inline)?;
                }
                _ => return Err(format!("flag provided but not defined: -{name}")),
            }
        }
        if !c.bench_mode && !explicit_benchtime {
            c.benchtime = BenchTime::Count(1);
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn parse(s: &str) -> Result<Config, String> {
        Config::parse(s.split_whitespace().map(String::from))
    }

    #[test]
    fn parses_go_test_flags() {
        let c = parse("-benchtime 1000x -benchmem --bench").unwrap();
        assert_eq!(c.benchtime, BenchTime::Count(1000));
        assert!(c.benchmem && c.bench_mode);
        assert_eq!(c.bench, ".");

        let c = parse("-bench=Alloc/x -test.count=5 -cpu 1,2 -benchtime=500ms --bench").unwrap();
        assert_eq!(c.bench, "Alloc/x");
        assert_eq!(c.count, 5);
        assert_eq!(c.cpu, vec![1, 2]);
        assert_eq!(c.benchtime, BenchTime::Duration(Duration::from_millis(500)));

        // Without `--bench` (cargo test), each benchmark runs once.
        assert_eq!(parse("").unwrap().benchtime, BenchTime::Count(1));
        assert_eq!(
            parse("--bench").unwrap().benchtime,
            BenchTime::Duration(Duration::from_secs(1))
        );

        let c = parse("-cpuprofile cpu.out -memprofilerate=1 -mutexprofilefraction 5 --bench");
        let c = c.unwrap();
        assert_eq!(c.cpuprofile.as_deref(), Some("cpu.out"));
        assert_eq!((c.memprofilerate, c.mutexprofilefraction), (Some(1), 5));
        assert_eq!(c.blockprofilerate, 1);
        assert_eq!(parse("-run ^$").unwrap().run.as_deref(), Some("^$"));
        assert!(parse("-nope").is_err());
        assert!(parse("-count").is_err());
        assert!(parse("-benchmem=maybe").is_err());
    }
}
