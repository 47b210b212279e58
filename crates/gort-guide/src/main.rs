//! `gort-guide list` and `gort-guide check PROBLEM [--solution]`: the guide's problem sets.

use gort_guide::{all, find, Which};
use std::process::ExitCode;

const USAGE: &str = "usage: gort-guide list | check PROBLEM [--solution] | bench PROBLEM [--solution] [SECONDS]\n  \
    check runs your docs/guide/problems/PROBLEM/start.rs (or, with --solution, the reference)\n  \
    and compares it with the problem's target; bench runs it for SECONDS (default 2) and\n  \
    measures nothing, for the tools: gort doctor -- target/release/gort-guide bench PROBLEM,\n  \
    or GORT_CPUPROFILE / GORT_MEMPROFILE / GORT_TRACE / GODEBUG in its environment";

/// The problem named by `args[1]` and the variant (`--solution` or the start); on bad
/// arguments, the exit code after the message is printed.
fn problem_of(args: &[String]) -> Result<(&'static gort_guide::Problem, Which), ExitCode> {
    let Some(id) = args.get(1) else {
        eprintln!("{USAGE}");
        return Err(ExitCode::from(2));
    };
    let which = if args.iter().any(|a| a == "--solution") {
        Which::Solution
    } else {
        Which::Start
    };
    match find(id) {
        Ok(p) => Ok((p, which)),
        Err(e) => {
            eprintln!("gort-guide: {e}");
            Err(ExitCode::from(2))
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("list") => {
            for p in all() {
                println!("{:<40} {}  (target: {})", p.id, p.title, p.target);
            }
            ExitCode::SUCCESS
        }
        Some("check") => {
            let (p, which) = match problem_of(&args) {
                Ok(x) => x,
                Err(code) => return code,
            };
            let o = (p.check)(which);
            let what = match which {
                Which::Start => "start.rs",
                Which::Solution => "solution.rs",
            };
            if o.pass {
                println!("PASS {} ({what}): {}", p.id, o.measured);
                ExitCode::SUCCESS
            } else {
                println!("FAIL {} ({what}): {}", p.id, o.measured);
                println!("hint: {}", p.hint);
                ExitCode::from(1)
            }
        }
        Some("bench") => {
            let (p, which) = match problem_of(&args) {
                Ok(x) => x,
                Err(code) => return code,
            };
            let secs = match args.iter().skip(2).find(|a| !a.starts_with("--")) {
                None => 2.0,
                Some(s) => match s.parse::<f64>() {
                    Ok(v) if v > 0.0 && v.is_finite() => v,
                    _ => {
                        eprintln!(
                            "gort-guide: bench: SECONDS must be a positive number, not {s:?}"
                        );
                        return ExitCode::from(2);
                    }
                },
            };
            // The playbook's settings from the environment, as a #[gort::main] program has.
            // The work runs in a goroutine: the CPU profiler samples the runtime's threads.
            let session = gort::prof::EnvSession::start();
            let rt = match gort::Builder::new().build() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("gort-guide: {e}");
                    return ExitCode::from(2);
                }
            };
            let run = p.run;
            rt.block_on(move || run(which, std::time::Duration::from_secs_f64(secs)));
            session.finish();
            println!("ran {} for {secs} s", p.id);
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
