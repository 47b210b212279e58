//! Command-line definitions (clap derive) and dispatch.
//!
//! Exit codes: 0 success, 1 for errors (a missing or malformed file, a
//! failed command), 2 for usage errors (clap's own). Errors are printed as
//! one line, `gort: <what>: <why>`.

use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "gort",
    version,
    about = "Go's measurement playbook for Go and gort programs",
    after_help = "Examples:\n  gort benchstat old.txt new.txt\n  gort pprof top cpu.pprof\n  gort gctrace trace.txt --what-if GOGC=200\n  gort trace trace.json\n  gort doctor -- go test -run none -bench . ./pkg\n  gort bench --compare-go\n  gort env GOMAXPROCS"
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Summarise and compare benchmark results (like golang.org/x/perf benchstat).
    #[command(
        after_help = "Examples:\n  gort benchstat bench.txt\n  gort benchstat base.txt new.txt\n  gort benchstat --format csv base.txt new.txt > cmp.csv\n  go test -bench . -count 10 | gort benchstat -\n\nEach file holds `go test -bench` output (any other lines are ignored).\nFor each benchmark and unit: the median ± the 95% confidence interval;\nwith two or more files, the change against the first file and the\nMann-Whitney U test p-value (`~` means no significant difference).\nRun benchmarks with -count 6 or more for finite confidence intervals."
    )]
    Benchstat(BenchstatArgs),
    /// Read pprof profiles: top functions, flame graphs, differences.
    #[command(
        subcommand,
        after_help = "Examples:\n  gort pprof top cpu.pprof\n  gort pprof flame cpu.pprof -o cpu.svg\n  gort pprof diff before.pprof after.pprof\n\nProfiles may be gzipped (as Go writes them) or plain protobuf."
    )]
    Pprof(PprofCmd),
    /// Analyse GODEBUG=gctrace=1 output, chart it, and model other GOGC/GOMEMLIMIT settings.
    #[command(
        after_help = "Examples:\n  GODEBUG=gctrace=1 ./prog 2> trace.txt; gort gctrace trace.txt\n  gort gctrace trace.txt --svg heap.svg\n  gort gctrace trace.txt --what-if GOGC=200\n  gort gctrace trace.txt --what-if GOGC=100,GOMEMLIMIT=64MiB\n  ./prog 2>&1 | gort gctrace -"
    )]
    Gctrace(GctraceArgs),
    /// Summarise a gort execution trace: goroutine states, scheduler latency, blocking, GC.
    #[command(
        after_help = "Examples:\n  cargo bench -p gort --bench runtime -- -bench PingPong -trace trace.json\n  gort trace trace.json\n  gort trace --top 20 trace.json\n\nThe file is the Chrome Trace Event JSON that gort::trace::stop() or the\nbenchmark harness's -trace FILE writes (open it in ui.perfetto.dev too).\nScheduler latency is how long goroutines waited runnable before running;\nblocking is time parked, by Go's wait reason (chan receive, syscall, ...)."
    )]
    Trace(TraceArgs),
    /// Run a benchmark with profiling and GC tracing, and name the bottleneck.
    #[command(
        after_help = "Examples:\n  gort doctor -- go test -run none -bench Sprintf ./fix\n  gort doctor -- ./target/release/mybench\n  gort doctor --profile cpu.pprof --bench bench.txt --gctrace gc.txt\n\nWhen running a command, `go test` gets -cpuprofile, -memprofile and\n-benchmem; other commands get -cpuprofile FILE -memprofile FILE. Both run\nwith GODEBUG=gctrace=1. The command's output is passed through."
    )]
    Doctor(DoctorArgs),
    /// Run gort's benchmark suite, and with --compare-go its Go equivalents side by side.
    #[command(
        after_help = "Examples:\n  gort bench --compare-go\n  gort bench --compare-go --bench 'Spawn|Yield' --count 5 --out results/\n  gort bench --bench PingPong --benchtime 10000x\n\nRun from the repository (or pass --repo). gort's side is\n`cargo bench -p gort --bench runtime -- <flags>`; Go's side is\n`go test -run '^$' <flags>` in bench/go. Both print Go's benchmark format;\nthe table pairs them by name. Needs Go on PATH for --compare-go."
    )]
    Bench(crate::bench::BenchArgs),
    /// Print the runtime settings a gort program would get now: GOMAXPROCS (and why), GOGC,
    /// GOMEMLIMIT, GODEBUG, the goroutine stack size.
    #[command(
        after_help = "Examples:\n  gort env\n  gort env GOMAXPROCS GOGC\n  GODEBUG=containermaxprocs=0 gort env GOMAXPROCS\n\nWith names, prints just their values, one per line (as `go env NAME`).\nGOMAXPROCS comes from the GOMAXPROCS variable, else the CPU cgroup limit\n(rounded up, at least 2) when it is below the affinity mask's CPUs, else\nthose CPUs. A bad value is an error (exit status 2), as in a gort program."
    )]
    Env(EnvArgs),
}

#[derive(Args, Debug)]
pub struct EnvArgs {
    /// Settings to print (GOMAXPROCS, GOGC, GOMEMLIMIT, GODEBUG, GORT_STACK_SIZE); all when none.
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct BenchstatArgs {
    /// Benchmark output files: the first is the baseline (`-` reads stdin).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<std::ffi::OsString>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Csv,
}

#[derive(Subcommand, Debug)]
pub enum PprofCmd {
    /// Print the functions with the most samples (like `go tool pprof -top`).
    #[command(
        after_help = "Examples:\n  gort pprof top cpu.pprof\n  gort pprof top --sample-index alloc_objects mem.pprof\n  gort pprof top --sample-index 0 --nodecount 20 cpu.pprof\n\nDefault sample type: the profile's default_sample_type if set, else the\nlast one (cpu for CPU profiles), as go tool pprof does."
    )]
    Top(TopArgs),
    /// Write an SVG flame graph.
    #[command(
        after_help = "Examples:\n  gort pprof flame cpu.pprof -o cpu.svg\n  gort pprof flame --sample-index inuse_space mem.pprof -o heap.svg"
    )]
    Flame(FlameArgs),
    /// Per-function flat and cum change from A to B (B - A), largest first.
    #[command(
        after_help = "Examples:\n  gort pprof diff before.pprof after.pprof\n  gort pprof diff --sample-index alloc_space a.pprof b.pprof"
    )]
    Diff(DiffArgs),
}

#[derive(Args, Debug)]
pub struct TopArgs {
    /// Profile file (gzipped or plain protobuf).
    pub file: PathBuf,
    /// Sample type: an index or a name such as `cpu` or `alloc_space`.
    #[arg(long, value_name = "N|NAME")]
    pub sample_index: Option<String>,
    /// Show at most this many rows (default: all above the 0.5% cut-off).
    #[arg(long)]
    pub nodecount: Option<usize>,
}

#[derive(Args, Debug)]
pub struct FlameArgs {
    /// Profile file.
    pub file: PathBuf,
    /// Output SVG path.
    #[arg(short, long, default_value = "flame.svg")]
    pub output: PathBuf,
    /// Sample type: an index or a name.
    #[arg(long, value_name = "N|NAME")]
    pub sample_index: Option<String>,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// Baseline profile.
    pub a: PathBuf,
    /// New profile.
    pub b: PathBuf,
    /// Sample type: an index or a name.
    #[arg(long, value_name = "N|NAME")]
    pub sample_index: Option<String>,
    /// Show at most this many rows.
    #[arg(long, default_value_t = 30)]
    pub nodecount: usize,
}

#[derive(Args, Debug)]
pub struct GctraceArgs {
    /// gctrace output (`-` reads stdin); non-gctrace lines are ignored.
    pub file: PathBuf,
    /// Write an SVG chart of heap sizes and pauses.
    #[arg(long, value_name = "OUT.svg")]
    pub svg: Option<PathBuf>,
    /// Model another setting, e.g. `GOGC=200` or `GOGC=off,GOMEMLIMIT=512MiB`.
    #[arg(long, value_name = "GOGC=N,GOMEMLIMIT=X")]
    pub what_if: Vec<String>,
}

#[derive(Args, Debug)]
pub struct TraceArgs {
    /// Trace file written by gort (`-` reads stdin).
    pub file: PathBuf,
    /// How many goroutines to list, by running time.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}

#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// Analyse this existing CPU profile instead of running a command.
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// Benchmark output to use as evidence (allocs/op, B/op).
    #[arg(long)]
    pub bench: Option<PathBuf>,
    /// gctrace output to use as evidence (GC CPU %).
    #[arg(long)]
    pub gctrace: Option<PathBuf>,
    /// Allocation profile to use as evidence.
    #[arg(long)]
    pub memprofile: Option<PathBuf>,
    /// Keep the profiles the run writes in this directory.
    #[arg(long)]
    pub keep: Option<PathBuf>,
    /// The command to run, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let _ = std::io::stdout().flush();
            eprintln!("gort: {}", one_line(&e));
            1
        }
    }
}

fn one_line(e: &anyhow::Error) -> String {
    e.chain()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(": ")
        .replace('\n', " ")
}

fn print(s: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        // A closed pipe (`| head`) is not an error worth reporting.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn run(cli: Cli) -> Result<i32> {
    match cli.cmd {
        Command::Benchstat(a) => {
            let (inputs, warnings) = crate::benchstat::load(&a.files)?;
            // As Go's benchstat: one line per result line that did not parse.
            for w in warnings {
                eprintln!("{w}");
            }
            let report = crate::benchstat::analyze(&inputs);
            match a.format {
                Format::Text => print(&crate::benchstat::table::to_text(&report))?,
                Format::Csv => {
                    let (csv, warnings) = crate::benchstat::table::to_csv(&report);
                    print(&csv)?;
                    for w in warnings {
                        eprintln!("warning: {w}");
                    }
                }
            }
        }
        Command::Pprof(PprofCmd::Top(a)) => {
            let p = crate::pprof::proto::load(&a.file)?;
            print(&crate::pprof::top::render(
                &p,
                a.sample_index.as_deref(),
                a.nodecount,
            )?)?;
        }
        Command::Pprof(PprofCmd::Flame(a)) => {
            let p = crate::pprof::proto::load(&a.file)?;
            let title = a.file.to_string_lossy();
            let svg = crate::pprof::flame::svg(&p, a.sample_index.as_deref(), &title)?;
            let out = a.output.display();
            std::fs::write(&a.output, svg)
                .map_err(|e| anyhow::anyhow!("cannot write {out}: {e}"))?;
            eprintln!("wrote {out}");
        }
        Command::Pprof(PprofCmd::Diff(a)) => {
            let pa = crate::pprof::proto::load(&a.a)?;
            let pb = crate::pprof::proto::load(&a.b)?;
            print(&crate::pprof::diff::render(
                &pa,
                &pb,
                a.sample_index.as_deref(),
                a.nodecount,
            )?)?;
        }
        Command::Gctrace(a) => {
            let settings = a
                .what_if
                .iter()
                .map(|w| crate::gctrace::whatif::Setting::parse(w))
                .collect::<Result<Vec<_>>>()?;
            let text = crate::input::read_text(&a.file)?;
            let name = crate::input::display(&a.file);
            let trace = crate::gctrace::parse::parse(&text);
            if let Some(bad) = &trace.out_of_range {
                anyhow::bail!("{name}: {bad}");
            }
            if trace.cycles.is_empty() {
                anyhow::bail!("{name}: no gctrace lines (run the program with GODEBUG=gctrace=1)");
            }
            print(&crate::gctrace::report::render(&trace))?;
            for setting in &settings {
                print(&crate::gctrace::whatif::render(&trace, setting))?;
            }
            if let Some(path) = &a.svg {
                let svg = crate::gctrace::svg::render(&trace);
                let out = path.display();
                std::fs::write(path, svg)
                    .map_err(|e| anyhow::anyhow!("cannot write {out}: {e}"))?;
                eprintln!("wrote {out}");
            }
        }
        Command::Trace(a) => print(&crate::trace::run(&a.file, a.top)?)?,
        Command::Doctor(a) => return crate::doctor::main(a),
        Command::Bench(a) => return crate::bench::main(a),
        Command::Env(a) => match crate::env::run(&a.names) {
            Ok(out) => print(&out)?,
            Err((line, code)) => {
                eprintln!("{line}");
                return Ok(code);
            }
        },
    }
    Ok(0)
}
