//! Why the hottest allocation sites allocate: the heap profile joined with the Go
//! compiler's escape analysis.
//!
//! The playbook's step "investigate escapes with `-gcflags=all=-m`" asks a reader to run the
//! compiler with `-m`, read a few hundred lines of "can inline" and "does not escape", and
//! find among them the ones for the lines the heap profile ranks first. For `go test` runs
//! the doctor does that join: after the benchmark it compiles the same packages with
//! `go test -c -gcflags=-m` (the go command replays the compiler's output from its cache, so a
//! rebuild costs little), keeps the diagnostics that say a value went to the heap ("moved to
//! heap: x", "... escapes to heap"), and matches them by file and line with the leaf sites of
//! the heap profile's `alloc_space` samples (the first frame outside package `runtime`, the
//! line where the program asked for memory). A site the compiler did not report is a heap
//! allocation by nature (a `make` whose size is not constant, a map): it is listed without a
//! reason, which is itself the answer.
//!
//! Rejected: `-gcflags=all=-m` (every dependency's diagnostics, the standard library's
//! included: thousands of lines to match against sites that are in the user's packages
//! anyway) and `-m=2` (the flow explanation of each escape: useful, but many lines per site;
//! the report names the site, and `go build -gcflags=-m=2` is one command away).

use crate::pprof::proto::Profile;
use std::collections::HashMap;
use std::path::Path;

/// One "went to the heap" diagnostic of `-gcflags=-m`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escape {
    /// As the compiler printed it, without a leading `./` (relative to where go ran).
    pub file: String,
    pub line: i64,
    /// The compiler's words, e.g. `moved to heap: buf` or `&tree{} escapes to heap`.
    pub what: String,
}

/// The escape diagnostics in the compiler output `text` (other `-m` lines, such as "can
/// inline" or "does not escape", and generated files are skipped).
pub fn parse(text: &str) -> Vec<Escape> {
    let mut out = Vec::new();
    for l in text.lines() {
        // FILE:LINE:COL: MESSAGE
        let mut it = l.splitn(4, ':');
        let (Some(file), Some(line), Some(col), Some(msg)) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            continue;
        };
        let msg = msg.trim();
        let went = msg.starts_with("moved to heap: ") || msg.ends_with(" escapes to heap");
        if !went || col.parse::<u32>().is_err() || file.starts_with('<') {
            continue;
        }
        let Ok(line) = line.parse::<i64>() else {
            continue;
        };
        let file = file.strip_prefix("./").unwrap_or(file);
        if file == "_testmain.go" {
            continue;
        }
        out.push(Escape {
            file: file.to_string(),
            line,
            what: msg.to_string(),
        });
    }
    out.dedup();
    out
}

/// A line of the program where heap memory was asked for, with what the profile charges
/// to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    pub func: String,
    pub file: String,
    pub line: i64,
    /// `alloc_space` bytes whose leaf site this is.
    pub bytes: i64,
    /// Their share of all sampled bytes, in percent.
    pub share: f64,
}

/// The `n` leaf sites with the most `alloc_space` bytes. A sample's site is its first frame
/// (innermost first, inlined frames included) whose function is not in package `runtime`.
pub fn hot_sites(mem: &Profile, n: usize) -> Vec<Site> {
    let Some(idx) = mem
        .sample_type
        .iter()
        .position(|t| mem.str(t.r#type) == "alloc_space")
    else {
        return Vec::new();
    };
    let locs: HashMap<u64, &crate::pprof::proto::Location> =
        mem.location.iter().map(|l| (l.id, l)).collect();
    let funcs: HashMap<u64, &crate::pprof::proto::Function> =
        mem.function.iter().map(|f| (f.id, f)).collect();
    let mut by_site: HashMap<(String, String, i64), i64> = HashMap::new();
    let mut total = 0i64;
    for s in &mem.sample {
        let v = s.value.get(idx).copied().unwrap_or(0);
        if v <= 0 {
            continue;
        }
        total = total.saturating_add(v);
        let site = s
            .location_id
            .iter()
            .filter_map(|id| locs.get(id))
            .flat_map(|l| l.line.iter())
            .filter_map(|ln| funcs.get(&ln.function_id).map(|f| (f, ln.line)))
            .find(|(f, _)| !mem.str(f.name).starts_with("runtime."));
        if let Some((f, line)) = site {
            let key = (
                mem.str(f.name).to_string(),
                mem.str(f.filename).to_string(),
                line,
            );
            let e = by_site.entry(key).or_insert(0);
            *e = e.saturating_add(v);
        }
    }
    let mut sites: Vec<Site> = by_site
        .into_iter()
        .map(|((func, file, line), bytes)| Site {
            func,
            file,
            line,
            bytes,
            share: if total > 0 {
                100.0 * bytes as f64 / total as f64
            } else {
                0.0
            },
        })
        .collect();
    sites.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.line.cmp(&b.line)));
    sites.truncate(n);
    sites
}

/// Whether the profile's `file` (an absolute path) is the compiler's `rel` (a path relative
/// to the directory go ran in, or absolute).
pub fn same_file(file: &str, rel: &str) -> bool {
    file == rel || file.ends_with(&format!("/{rel}"))
}

/// The escape diagnostics of each site (empty: the compiler reported none for its line).
pub fn join<'a>(sites: &[Site], escapes: &'a [Escape]) -> Vec<Vec<&'a Escape>> {
    sites
        .iter()
        .map(|s| {
            escapes
                .iter()
                .filter(|e| e.line == s.line && same_file(&s.file, &e.file))
                .collect()
        })
        .collect()
}

/// Flags of `go test` that take a value in the next argument when not written `-f=v`.
const VALUE_FLAGS: &[&str] = &[
    "bench",
    "benchtime",
    "blockprofile",
    "blockprofilerate",
    "count",
    "coverpkg",
    "coverprofile",
    "covermode",
    "cpu",
    "cpuprofile",
    "exec",
    "fuzz",
    "fuzztime",
    "fuzzminimizetime",
    "gcflags",
    "ldflags",
    "list",
    "memprofile",
    "memprofilerate",
    "mod",
    "mutexprofile",
    "mutexprofilefraction",
    "o",
    "outputdir",
    "p",
    "parallel",
    "run",
    "shuffle",
    "skip",
    "tags",
    "timeout",
    "trace",
];

/// The command that compiles the packages of `go test ARGS` with `-gcflags=-m` into `out_dir`
/// (the test binaries are thrown away): the same packages and `-tags`, nothing run.
pub fn compile_command(cmd: &[String], out_dir: &Path) -> Option<Vec<String>> {
    if cmd.get(1).map(String::as_str) != Some("test") {
        return None;
    }
    let mut pkgs = Vec::new();
    let mut tags = Vec::new();
    let mut i = 2;
    while i < cmd.len() {
        let a = &cmd[i];
        if let Some(flag) = a.strip_prefix("--").or_else(|| a.strip_prefix('-')) {
            let (name, inline) = match flag.split_once('=') {
                Some((n, _)) => (n, true),
                None => (flag, false),
            };
            let takes = VALUE_FLAGS.contains(&name.strip_prefix("test.").unwrap_or(name));
            if name == "tags" {
                tags.push(a.clone());
                if !inline {
                    if let Some(v) = cmd.get(i + 1) {
                        tags.push(v.clone());
                    }
                }
            }
            if name == "args" {
                break; // the rest goes to the test binary
            }
            i += if takes && !inline { 2 } else { 1 };
            continue;
        }
        pkgs.push(a.clone());
        i += 1;
    }
    if pkgs.is_empty() {
        pkgs.push(".".into());
    }
    let mut argv: Vec<String> = vec![cmd[0].clone(), "test".into(), "-c".into()];
    argv.push("-o".into());
    // A directory (trailing slash): one binary per package, which Go 1.21+ accepts for many.
    argv.push(format!("{}/", out_dir.display()));
    argv.push("-gcflags=-m".into());
    argv.extend(tags);
    argv.extend(pkgs);
    Some(argv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pprof::proto::{Function, Line, Location, Sample, ValueType};

    #[test]
    fn parse_keeps_heap_escapes_only() {
        let text = "# fix [fix.test]\n\
            ./fix_test.go:11:6: can inline BenchmarkSprintf\n\
            ./fix_test.go:13:28: i escapes to heap\n\
            ./fix_test.go:18:13: make([]byte, 0, 32) does not escape\n\
            ./fix_test.go:35:6: moved to heap: mu\n\
            ./fix_test.go:34:30: leaking param: b\n\
            sub/x.go:64:10: &tree{} escapes to heap\n\
            _testmain.go:54:42: testdeps.TestDeps{} escapes to heap\n\
            <autogenerated>:1: &reflect.ValueError{...} escapes to heap\n";
        let e = parse(text);
        let got: Vec<(&str, i64, &str)> = e
            .iter()
            .map(|e| (e.file.as_str(), e.line, e.what.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("fix_test.go", 13, "i escapes to heap"),
                ("fix_test.go", 35, "moved to heap: mu"),
                ("sub/x.go", 64, "&tree{} escapes to heap"),
            ]
        );
    }

    fn mem_profile() -> Profile {
        let mut p = Profile {
            string_table: vec![
                "".into(),
                "alloc_objects".into(),
                "count".into(),
                "alloc_space".into(),
                "bytes".into(),
                "fix.build".into(),
                "/tmp/p/fix_test.go".into(),
                "runtime.makeslice".into(),
                "/go/src/runtime/slice.go".into(),
                "fix.other".into(),
            ],
            ..Default::default()
        };
        p.sample_type = vec![
            ValueType { r#type: 1, unit: 2 },
            ValueType { r#type: 3, unit: 4 },
        ];
        p.function = vec![
            Function {
                id: 1,
                name: 5,
                system_name: 5,
                filename: 6,
                start_line: 60,
            },
            Function {
                id: 2,
                name: 7,
                system_name: 7,
                filename: 8,
                start_line: 1,
            },
            Function {
                id: 3,
                name: 9,
                system_name: 9,
                filename: 6,
                start_line: 80,
            },
        ];
        let loc = |id: u64, f: u64, line: i64| Location {
            id,
            line: vec![Line {
                function_id: f,
                line,
                column: 0,
            }],
            ..Default::default()
        };
        p.location = vec![loc(1, 1, 64), loc(2, 1, 66), loc(3, 2, 10), loc(4, 3, 82)];
        p.sample = vec![
            Sample {
                location_id: vec![1],
                value: vec![1, 300],
                label: vec![],
            },
            Sample {
                location_id: vec![2],
                value: vec![1, 500],
                label: vec![],
            },
            // A runtime leaf is charged to its caller.
            Sample {
                location_id: vec![3, 4],
                value: vec![1, 200],
                label: vec![],
            },
        ];
        p
    }

    #[test]
    fn sites_rank_by_bytes_and_skip_runtime_frames() {
        let s = hot_sites(&mem_profile(), 5);
        let got: Vec<(&str, i64, i64)> = s
            .iter()
            .map(|s| (s.func.as_str(), s.line, s.bytes))
            .collect();
        assert_eq!(
            got,
            vec![
                ("fix.build", 66, 500),
                ("fix.build", 64, 300),
                ("fix.other", 82, 200)
            ]
        );
        assert!((s[0].share - 50.0).abs() < 1e-9);
        let esc = parse(
            "./fix_test.go:64:10: &tree{} escapes to heap\n./other.go:66:1: x escapes to heap\n",
        );
        let j = join(&s, &esc);
        assert!(j[0].is_empty(), "other.go is another file: {j:?}");
        assert_eq!(j[1].len(), 1);
        assert_eq!(j[1][0].what, "&tree{} escapes to heap");
    }

    #[test]
    fn compile_command_keeps_packages_and_tags() {
        let v = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let c = compile_command(
            &v(&[
                "go", "test", "-run", "none", "-bench=.", "-tags", "x", "./pkg", "-count", "3",
            ]),
            Path::new("/t"),
        )
        .expect("go test");
        assert_eq!(
            c,
            v(&[
                "go",
                "test",
                "-c",
                "-o",
                "/t/",
                "-gcflags=-m",
                "-tags",
                "x",
                "./pkg"
            ])
        );
        let d = compile_command(&v(&["go", "test", "-bench", "Alloc"]), Path::new("/t")).unwrap();
        assert_eq!(d.last().map(String::as_str), Some("."));
        assert!(compile_command(&v(&["./prog"]), Path::new("/t")).is_none());
    }
}
