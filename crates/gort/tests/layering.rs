//! The layering check: no import from a lower layer into a higher one (docs/DESIGN.md,
//! "Layers").
//!
//! gort's source is three layers, each module with a rank:
//!
//! | layer | modules (rank) |
//! |---|---|
//! | runtime core | `rt` (scheduler, stacks, parking, timer heap, netpoller, hooks), `alloc`, `env` (0) |
//! | Go's packages | `gc` (10) < `sync` (11) < `chan` (12) < `time` (13) < `net` (14) < `fs` (15) |
//! | tools | `metrics` (19) < `trace` (20) < `prof` (21) < `debug` (22) < `testing` (23) |
//!
//! A module may name (through `crate::`, `super::` or a root re-export such as `crate::go`)
//! only modules of its own top-level module or of a lower rank; the core's modules may name
//! each other. The crate root (`lib.rs`) may name anything. Test code (`tests.rs`,
//! `*_tests.rs`, inline `#[cfg(test)] mod ... {}`) is exempt: a package's tests may drive it
//! with a higher package (the `sync` model tests use channels).
//!
//! The check reads `crates/gort/src` as text: every `crate::NAME`, `crate::{NAME, ...}` and
//! `super::...` path outside comments, resolved to its top-level module.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

const RANKS: &[(&str, u32)] = &[
    ("rt", 0),
    ("alloc", 0),
    ("env", 0),
    ("gc", 10),
    ("sync", 11),
    ("chan", 12),
    ("time", 13),
    ("net", 14),
    ("fs", 15),
    ("synctest", 16),
    ("metrics", 19),
    ("trace", 20),
    ("prof", 21),
    ("debug", 22),
    ("testing", 23),
];

fn rank(module: &str) -> Option<u32> {
    RANKS.iter().find(|(m, _)| *m == module).map(|&(_, r)| r)
}

/// The module path of a source file, relative to `src/` (`rt/sched/mod.rs` -> `rt::sched`).
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

fn is_test_file(rel: &Path) -> bool {
    let stem = rel
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    stem == "tests" || stem.ends_with("_tests")
}

/// The code of a file with comments and inline test modules removed.
fn code_lines(src: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let lines: Vec<&str> = src.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim_start();
        if t.starts_with("#[cfg(test)]") || t.starts_with("#[cfg(all(test") {
            let next = lines.get(i + 1).map_or("", |l| l.trim_start());
            if next.contains("mod ") && next.trim_end().ends_with('{') {
                break; // an inline test module runs to the end of the file in this crate
            }
        }
        let code = match lines[i].find("//") {
            Some(k) => &lines[i][..k],
            None => lines[i],
        };
        out.push((i + 1, code.to_string()));
        i += 1;
    }
    out
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first path segments that `line` names through `crate::`, resolved with `roots` (root
/// re-exports and exported macros), plus `super::` paths resolved against `module`.
fn referenced(
    line: &str,
    module: &[String],
    is_mod_rs: bool,
    roots: &HashMap<String, String>,
) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(k) = rest.find("crate::") {
        let before = &rest[..k];
        let after = &rest[k + "crate::".len()..];
        rest = after;
        if before.ends_with('$')
            || before.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        {
            continue; // `$crate::` in macros names the crate's public paths, checked at use
        }
        let names: Vec<&str> = if let Some(group) = after.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            group[..end]
                .split(',')
                .map(|n| ident_at(n.trim()))
                .collect()
        } else {
            vec![ident_at(after)]
        };
        for n in names.into_iter().filter(|n| !n.is_empty()) {
            if rank(n).is_some() {
                found.push(n.to_string());
            } else if let Some(m) = roots.get(n) {
                found.push(m.clone());
            }
        }
    }
    // super:: chains
    let mut rest = line;
    while let Some(k) = rest.find("super::") {
        let before = &rest[..k];
        rest = &rest[k..];
        if before.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            rest = &rest["super::".len()..];
            continue;
        }
        let mut path = module.to_vec();
        if !is_mod_rs {
            // a file `a/b.rs` is module a::b; `super` is a.
        }
        let mut tail = rest;
        while let Some(t) = tail.strip_prefix("super::") {
            path.pop();
            tail = t;
        }
        rest = tail;
        let next = ident_at(tail);
        if path.is_empty() {
            if rank(next).is_some() {
                found.push(next.to_string());
            } else if let Some(m) = roots.get(next) {
                found.push(m.clone());
            }
        } else {
            found.push(path[0].clone());
        }
    }
    found
}

/// Root names: `pub use a::b::{x, y}` in lib.rs map x and y to `a`; exported macros map to
/// the module that defines them.
fn root_names(files: &BTreeMap<PathBuf, String>) -> HashMap<String, String> {
    let mut roots = HashMap::new();
    if let Some(lib) = files.get(Path::new("lib.rs")) {
        let joined = lib.replace('\n', " ");
        for stmt in joined.split(';') {
            let Some(k) = stmt.find("pub use ") else {
                continue;
            };
            let path = stmt[k + 8..].trim();
            let path = path.strip_prefix("rt::").map_or(path, |_| path);
            let top = ident_at(path).to_string();
            if rank(&top).is_none() {
                continue;
            }
            let names = match path.find('{') {
                Some(b) => path[b + 1..].trim_end_matches('}').to_string(),
                None => path.rsplit("::").next().unwrap_or("").to_string(),
            };
            for n in names.split(',') {
                let n = ident_at(n.trim());
                if !n.is_empty() {
                    roots.insert(n.to_string(), top.clone());
                }
            }
        }
    }
    for (rel, src) in files {
        let top = module_path(rel).first().cloned().unwrap_or_default();
        if rank(&top).is_none() {
            continue;
        }
        let mut lines = src.lines();
        while let Some(l) = lines.next() {
            if l.trim() == "#[macro_export]" {
                for l2 in lines.by_ref() {
                    if let Some(r) = l2.trim().strip_prefix("macro_rules! ") {
                        roots.insert(ident_at(r).to_string(), top.clone());
                        break;
                    }
                }
            }
        }
    }
    roots
}

/// Every violation: `file:line: module (rank) names module (rank)`.
fn check(files: &BTreeMap<PathBuf, String>) -> Vec<String> {
    let roots = root_names(files);
    let mut bad = Vec::new();
    for (rel, src) in files {
        let module = module_path(rel);
        let Some(top) = module.first() else { continue }; // lib.rs: the root may name anything
        let Some(own) = rank(top) else {
            bad.push(format!(
                "{}: top-level module `{top}` has no layer in tests/layering.rs",
                rel.display()
            ));
            continue;
        };
        if is_test_file(rel) {
            continue;
        }
        let is_mod_rs = rel.file_name().is_some_and(|f| f == "mod.rs");
        for (n, line) in code_lines(src) {
            for m in referenced(&line, &module, is_mod_rs, &roots) {
                if &m == top {
                    continue;
                }
                let r = rank(&m).expect("resolved names have a rank");
                let allowed = r < own || (r == 0 && own == 0);
                if !allowed {
                    bad.push(format!(
                        "{}:{n}: `{top}` (rank {own}) names `{m}` (rank {r}): {}",
                        rel.display(),
                        line.trim()
                    ));
                }
            }
        }
    }
    bad
}

fn read_tree(dir: &Path, base: &Path, out: &mut BTreeMap<PathBuf, String>) {
    for e in std::fs::read_dir(dir).expect("read src") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            if p.file_name().is_some_and(|f| f == "bin") {
                continue;
            }
            read_tree(&p, base, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let rel = p.strip_prefix(base).unwrap().to_path_buf();
            out.insert(rel, std::fs::read_to_string(&p).expect("read source"));
        }
    }
}

#[test]
fn no_import_from_a_lower_layer_into_a_higher_one() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    read_tree(&src, &src, &mut files);
    assert!(files.len() > 100, "read {} files", files.len());
    let bad = check(&files);
    assert!(bad.is_empty(), "layering violations:\n{}", bad.join("\n"));
}

fn tree(files: &[(&str, &str)]) -> BTreeMap<PathBuf, String> {
    files
        .iter()
        .map(|(p, s)| (PathBuf::from(p), s.to_string()))
        .collect()
}

/// The check fails on an import from the core into a package, in each spelling.
#[test]
fn an_import_from_core_into_a_package_fails_the_check() {
    let lib = "pub(crate) mod rt;\npub use rt::sched::{go, Builder};\npub use gc::{Gc, Trace};\n";
    for (file, code) in [
        ("rt/sched/worker.rs", "use crate::chan::Sender;"),
        ("rt/sched/worker.rs", "use crate::{rt, time};"),
        (
            "rt/timer/timer.rs",
            "    Slot(crate::chan::Sender<Instant>),",
        ),
        ("rt/sched/p.rs", "let g = crate::Gc::new(1);"),
        ("sync/mutex.rs", "crate::prof::mutex_event(since);"),
        ("gc/collect.rs", "crate::trace::stw_start();"),
    ] {
        let bad = check(&tree(&[("lib.rs", lib), (file, code)]));
        assert_eq!(bad.len(), 1, "{file}: {code}: {bad:?}");
    }
}

/// What the layering allows: downward imports, the core among itself, comments, `$crate`, and
/// test modules.
#[test]
fn allowed_imports_pass_the_check() {
    let lib = "pub(crate) mod rt;\npub use rt::sched::{go, Builder};\n";
    let bad = check(&tree(&[
        ("lib.rs", lib),
        ("rt/sched/worker.rs", "use crate::rt::timer::TimerHeap;\n// see crate::time\nuse super::super::stack::GoStack;"),
        ("alloc/mod.rs", "use crate::rt::current;"),
        ("chan/mod.rs", "use crate::sync::Mutex; crate::go(|| ());"),
        ("chan/macros.rs", "$crate::chan::select_arms();"),
        ("time/api.rs", "use crate::chan::bounded;\n#[cfg(test)]\nmod tests {\nuse crate::net::TcpStream;\n}"),
        ("sync/model_tests.rs", "use crate::chan::bounded;"),
        ("testing/b.rs", "use crate::{prof, trace, alloc};"),
    ]));
    assert!(bad.is_empty(), "{bad:?}");
}

/// A `super::` path out of a package into a higher one is caught too.
#[test]
fn super_paths_are_resolved() {
    let bad = check(&tree(&[
        ("lib.rs", ""),
        ("rt/sched/p.rs", "use super::super::super::net::TcpStream;"),
    ]));
    assert_eq!(bad.len(), 1, "{bad:?}");
}
