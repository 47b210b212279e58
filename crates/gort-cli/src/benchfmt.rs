//! The Go benchmark data format, as read by benchstat.
//!
//! A file is a sequence of lines. Configuration lines `key: value` (the
//! key starts with a lower-case letter and has no spaces or upper-case
//! letters) set a key for every result line after them; an empty value
//! deletes the key. Result lines are `BenchmarkName iterations value unit
//! [value unit]...`, fields split on white space; the name must start with
//! `Benchmark` followed by an upper-case letter, a digit, `_`, `/`, `-` or
//! the end. Every other line (PASS, ok, test logs, gctrace output) is
//! ignored. A result line whose fields do not parse is skipped with a
//! warning naming the file and line, worded as Go's benchfmt words it
//! (`f.txt:3: parsing iteration count: value out of range`): this reader
//! never fails on content, it only skips what it cannot use.
//!
//! The design follows Go's own reader: configuration is positional (it
//! applies to what follows), which is how `go test` prints `goos:`,
//! `pkg:` and `cpu:` headers before each package's results.
//!
//! Configurations are shared, not copied: every distinct key/value pair is
//! stored once per file, and a result's [`Config`] is a range of a shared
//! log of pair ids. A key added after a result extends the same run of the
//! log, so a file that adds one key before each of its K results costs
//! O(K), not O(K²); only changing or deleting a key copies the current
//! configuration (as Go's reader also does).

use std::collections::HashMap;
use std::sync::Arc;

/// Every distinct configuration pair of one file, and the log of pair ids
/// that results' configurations are ranges of.
#[derive(Debug, Default)]
struct Store {
    pairs: Vec<(String, String)>,
    log: Vec<u32>,
}

/// The configuration in force when a result line was read, in file order.
#[derive(Clone)]
pub struct Config {
    store: Arc<Store>,
    start: u32,
    end: u32,
}

impl Config {
    /// The `(key, value)` pairs in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.ids().iter().map(|&id| self.pair(id))
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The pair ids of this configuration, valid within [`Config::store_id`].
    pub fn ids(&self) -> &[u32] {
        &self.store.log[self.start as usize..self.end as usize]
    }

    /// The pair with id `id` (from [`Config::ids`]).
    pub fn pair(&self, id: u32) -> (&str, &str) {
        let (k, v) = &self.store.pairs[id as usize];
        (k, v)
    }

    /// Every distinct pair of the file this configuration came from, by id.
    pub fn all_pairs(&self) -> &[(String, String)] {
        &self.store.pairs
    }

    /// Identifies the file the configuration came from: two configurations
    /// with the same store id share pair ids.
    pub fn store_id(&self) -> usize {
        Arc::as_ptr(&self.store) as usize
    }

    /// `(store id, start, end)`: equal spans are the same configuration.
    pub fn span(&self) -> (usize, u32, u32) {
        (self.store_id(), self.start, self.end)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            store: Arc::new(Store::default()),
            start: 0,
            end: 0,
        }
    }
}

impl PartialEq for Config {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// One measurement line.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchResult {
    /// Configuration in force when the line was read (in file order).
    pub config: Config,
    /// Name without the `Benchmark` prefix, e.g. `Sprintf-2`.
    pub name: String,
    /// The iteration count (b.N).
    pub iters: u64,
    /// `(value, unit)` pairs in the order they appear.
    pub values: Vec<(f64, String)>,
}

/// A parsed file: its results, and one warning per result line skipped.
#[derive(Debug, Default)]
pub struct Parsed {
    pub results: Vec<BenchResult>,
    /// `file:line: why`, as Go's benchfmt prints its syntax errors.
    pub warnings: Vec<String>,
}

/// Parses a whole file. Never fails; unusable lines are skipped.
pub fn parse(text: &str) -> Vec<BenchResult> {
    parse_file(text, "").results
}

/// A result line waiting for its configuration: (line span, name, iterations, values).
type Pending = ((u32, u32), String, u64, Vec<(f64, String)>);

/// Parses a whole file named `file` (used in warnings).
pub fn parse_file(text: &str, file: &str) -> Parsed {
    let mut store = Store::default();
    // Pair interning, borrowing from the text.
    let mut pair_id: HashMap<(&str, &str), u32> = HashMap::new();
    let mut pair_key: Vec<&str> = Vec::new();
    // The configuration now: pair ids in order, and each key's position.
    let mut cur: Vec<u32> = Vec::new();
    let mut pos: HashMap<&str, usize> = HashMap::new();
    // `Some((start, end))` while `store.log[start..end] == cur`.
    let mut span: Option<(u32, u32)> = None;
    let mut pending: Vec<Pending> = Vec::new();
    let mut warnings = Vec::new();
    for (lineno, line) in text.lines().enumerate() {
        if let Some((k, v)) = config_line(line) {
            match (pos.get(k).copied(), v.is_empty()) {
                (Some(i), true) => {
                    cur.remove(i);
                    pos.remove(k);
                    for (j, id) in cur.iter().enumerate().skip(i) {
                        pos.insert(pair_key[*id as usize], j);
                    }
                    span = None;
                }
                (Some(i), false) => {
                    let id = intern(&mut store, &mut pair_id, &mut pair_key, k, v);
                    if cur[i] != id {
                        cur[i] = id;
                        span = None;
                    }
                }
                (None, false) => {
                    let id = intern(&mut store, &mut pair_id, &mut pair_key, k, v);
                    pos.insert(k, cur.len());
                    cur.push(id);
                    span = match span {
                        Some((s, e)) if e as usize == store.log.len() => {
                            store.log.push(id);
                            Some((s, e + 1))
                        }
                        _ => None,
                    };
                }
                (None, true) => {}
            }
            continue;
        }
        match check_result_line(line) {
            Ok(Some((name, iters, values))) => {
                let s = match span {
                    Some(s) => s,
                    None => {
                        let start = store.log.len() as u32;
                        store.log.extend_from_slice(&cur);
                        let s = (start, store.log.len() as u32);
                        span = Some(s);
                        s
                    }
                };
                pending.push((s, name, iters, values));
            }
            Ok(None) => {}
            Err(why) => warnings.push(format!("{file}:{}: {why}", lineno + 1)),
        }
    }
    let store = Arc::new(store);
    let results = pending
        .into_iter()
        .map(|((start, end), name, iters, values)| BenchResult {
            config: Config {
                store: Arc::clone(&store),
                start,
                end,
            },
            name,
            iters,
            values,
        })
        .collect();
    Parsed { results, warnings }
}

fn intern<'a>(
    store: &mut Store,
    ids: &mut HashMap<(&'a str, &'a str), u32>,
    keys: &mut Vec<&'a str>,
    k: &'a str,
    v: &'a str,
) -> u32 {
    *ids.entry((k, v)).or_insert_with(|| {
        store.pairs.push((k.to_string(), v.to_string()));
        keys.push(k);
        (store.pairs.len() - 1) as u32
    })
}

/// Recognises `key: value`; returns the key and the trimmed value.
pub fn config_line(line: &str) -> Option<(&str, &str)> {
    let (key, rest) = line.split_once(':')?;
    let first = key.chars().next()?;
    if !first.is_lowercase() {
        return None;
    }
    if key
        .chars()
        .any(|c| c.is_whitespace() || c.is_uppercase() || c == ':')
    {
        return None;
    }
    // Go requires a space (or end of line) after the colon.
    if !(rest.is_empty() || rest.starts_with(' ') || rest.starts_with('\t')) {
        return None;
    }
    Some((key, rest.trim()))
}

type ResultFields = (String, u64, Vec<(f64, String)>);

/// Recognises a result line and splits it into name, iterations and values.
pub fn result_line(line: &str) -> Option<ResultFields> {
    check_result_line(line).ok().flatten()
}

/// Like [`result_line`], but tells a line that is not a result (`Ok(None)`:
/// prose such as `Benchmarking...`, or a bare name that `go test -v`
/// prints when a benchmark starts) from a result line that does not parse
/// (`Err`, with Go's benchfmt wording).
pub fn check_result_line(line: &str) -> Result<Option<ResultFields>, String> {
    let mut fields = line.split_whitespace();
    let Some(full) = fields.next() else {
        return Ok(None);
    };
    let Some(name) = full.strip_prefix("Benchmark") else {
        return Ok(None);
    };
    if name.starts_with(char::is_lowercase) {
        return Ok(None); // "Benchmarking ..." is prose, not a result.
    }
    let Some(iters) = fields.next() else {
        return Ok(None);
    };
    let iters: u64 = match iters.parse::<i64>() {
        Ok(n) if n >= 0 => n as u64,
        Ok(_) => return Err("parsing iteration count: negative count".into()),
        Err(e) => {
            use std::num::IntErrorKind::{NegOverflow, PosOverflow};
            let why = match e.kind() {
                PosOverflow | NegOverflow => "value out of range",
                _ => "invalid syntax",
            };
            return Err(format!("parsing iteration count: {why}"));
        }
    };
    let mut values = Vec::new();
    loop {
        let Some(v) = fields.next() else {
            if values.is_empty() {
                return Err("missing measurements".into());
            }
            break;
        };
        let v: f64 = v
            .parse()
            .map_err(|_| "parsing measurement: invalid syntax".to_string())?;
        if !v.is_finite() {
            return Err("parsing measurement: not a finite number".into());
        }
        let Some(unit) = fields.next() else {
            return Err("missing units".into());
        };
        values.push((v, unit.to_string()));
    }
    let name = if name.is_empty() { full } else { name };
    Ok(Some((name.to_string(), iters, values)))
}

/// Repairs benchmark output that had gctrace lines written into it.
///
/// With `GODEBUG=gctrace=1`, `go test` prints the runtime's GC lines into
/// the same stream as the results, often right after the `BenchmarkName`
/// column and before its numbers. This removes the gctrace text and joins
/// a stranded name with the following line of numbers.
pub fn untangle_gctrace(text: &str) -> String {
    let mut out = String::new();
    let mut pending: Option<String> = None;
    for line in text.lines() {
        let (line, had_gc) = match crate::gctrace::parse::find_start(line) {
            Some(pos) => (&line[..pos], true),
            None => (line, false),
        };
        if line.trim().is_empty() {
            if !had_gc {
                out.push('\n');
            }
            continue;
        }
        if let Some(p) = pending.take() {
            if line.starts_with([' ', '\t'])
                && line.trim_start().starts_with(|c: char| c.is_ascii_digit())
            {
                out.push_str(&p);
                out.push_str(line);
                out.push('\n');
                continue;
            }
            out.push_str(&p);
            out.push('\n');
        }
        let t = line.trim_end();
        if t.starts_with("Benchmark") && !t.contains(char::is_whitespace) {
            pending = Some(line.to_string());
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    if let Some(p) = pending {
        out.push_str(&p);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_output() {
        let text = "goos: linux\npkg: fix\nBenchmarkA-2 \t 100\t 12.5 ns/op\t 3 B/op\t 1 allocs/op\nPASS\nBenchmarking is fun\nok fix 1s\n";
        let rs = parse(text);
        assert_eq!(rs.len(), 1);
        assert_eq!(rs[0].name, "A-2");
        assert_eq!(rs[0].iters, 100);
        assert_eq!(rs[0].values[0], (12.5, "ns/op".to_string()));
        assert_eq!(rs[0].values.len(), 3);
        assert_eq!(
            rs[0].config.iter().collect::<Vec<_>>(),
            vec![("goos", "linux"), ("pkg", "fix")]
        );
    }

    #[test]
    fn untangles_gctrace() {
        let text = "BenchmarkA-2   \tgc 3 @0.006s 4%: 0.03+0.2+0.002 ms clock, 0.06+0/0.06/0.2+0.004 ms cpu, 1->1->1 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)\ngc 4 @0.007s 4%: x\n 3390499\t 150.9 ns/op\t 23 B/op\t 1 allocs/op\nPASS\n";
        let rs = parse(&untangle_gctrace(text));
        assert_eq!(rs.len(), 1, "{}", untangle_gctrace(text));
        assert_eq!(rs[0].name, "A-2");
        assert_eq!(rs[0].values.len(), 3);
    }

    #[test]
    fn skips_malformed() {
        assert!(result_line("BenchmarkX 10 1.0").is_none());
        assert!(result_line("BenchmarkX ten 1.0 ns/op").is_none());
        assert!(config_line("Not a config: x").is_none());
        assert!(config_line("has space: x").is_none());
    }

    #[test]
    fn warns_per_bad_result_line_like_go() {
        let text = "BenchmarkA 99999999999999999999 1 ns/op\nBenchmarkA 10 1 ns/op\nBenchmarkB\nBenchmarkC 5\nBenchmarkD 5 x ns/op\nBenchmarkE 5 1\nBenchmarking stuff\n";
        let p = parse_file(text, "f.txt");
        assert_eq!(p.results.len(), 1);
        assert_eq!(
            p.warnings,
            [
                "f.txt:1: parsing iteration count: value out of range",
                "f.txt:4: missing measurements",
                "f.txt:5: parsing measurement: invalid syntax",
                "f.txt:6: missing units",
            ]
        );
    }

    #[test]
    fn configs_are_shared_and_positional() {
        let mut text = String::new();
        for i in 0..50 {
            text.push_str(&format!("k{i}: v{i}\nBenchmarkX 1 {i} ns/op\n"));
        }
        text.push_str("k3: other\nk7:\nBenchmarkY 1 1 ns/op\n");
        let rs = parse(&text);
        assert_eq!(rs.len(), 51);
        assert_eq!(rs[9].config.len(), 10);
        assert_eq!(rs[9].config.get("k9"), Some("v9"));
        assert_eq!(rs[9].config.get("k10"), None);
        // Appending keys extends one run of the log: no copies.
        assert_eq!(rs[49].config.span().1, 0);
        let last = &rs[50].config;
        assert_eq!(last.len(), 49);
        assert_eq!(last.get("k3"), Some("other"));
        assert_eq!(last.get("k7"), None);
        assert_eq!(last.iter().nth(7), Some(("k8", "v8")));
    }
}
