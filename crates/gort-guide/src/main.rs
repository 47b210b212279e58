//! `gort-guide list` and `gort-guide check PROBLEM [--solution]`: the guide's problem sets.

use gort_guide::{all, find, Which};
use std::process::ExitCode;

const USAGE: &str = "usage: gort-guide list | check PROBLEM [--solution]\n  \
    check runs your docs/guide/problems/PROBLEM/start.rs (or, with --solution, the reference)\n  \
    and compares it with the problem's target";

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
            let Some(id) = args.get(1) else {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            };
            let which = if args.iter().any(|a| a == "--solution") {
                Which::Solution
            } else {
                Which::Start
            };
            let p = match find(id) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("gort-guide: {e}");
                    return ExitCode::from(2);
                }
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
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
