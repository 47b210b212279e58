//! The Go benchmark data format, as read by benchstat.
//!
//! A file is a sequence of lines. Configuration lines `key: value` (the
//! key starts with a lower-case letter and has no spaces or upper-case
//! letters) set a key for every result line after them; an empty value
//! deletes the key. Result lines are `BenchmarkName iterations value unit
//! [value unit]...`, fields split on white space; the name must start with
//! `Benchmark` followed by an upper-case letter, a digit, `_`, `/`, `-` or
//! the end. Every other line (PASS, ok, test logs, gctrace output) is
//! ignored, and so is a result line whose fields do not parse: this reader
//! never fails on content, it only skips what it cannot use.
//!
//! The design follows Go's own reader: configuration is positional (it
//! applies to what follows), which is how `go test` prints `goos:`,
//! `pkg:` and `cpu:` headers before each package's results.

/// One measurement line.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchResult {
    /// Configuration in force when the line was read (in file order).
    pub config: Vec<(String, String)>,
    /// Name without the `Benchmark` prefix, e.g. `Sprintf-2`.
    pub name: String,
    /// The iteration count (b.N).
    pub iters: u64,
    /// `(value, unit)` pairs in the order they appear.
    pub values: Vec<(f64, String)>,
}

/// Parses a whole file. Never fails; unusable lines are skipped.
pub fn parse(text: &str) -> Vec<BenchResult> {
    // Insertion-ordered, as Go prints it (goos, goarch, pkg, cpu).
    let mut config: Vec<(String, String)> = Vec::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some((k, v)) = config_line(line) {
            let pos = config.iter().position(|(ck, _)| ck == k);
            match (pos, v.is_empty()) {
                (Some(i), true) => {
                    config.remove(i);
                }
                (Some(i), false) => config[i].1 = v.to_string(),
                (None, false) => config.push((k.to_string(), v.to_string())),
                (None, true) => {}
            }
            continue;
        }
        if let Some((name, iters, values)) = result_line(line) {
            out.push(BenchResult {
                config: config.clone(),
                name,
                iters,
                values,
            });
        }
    }
    out
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
    let mut fields = line.split_whitespace();
    let full = fields.next()?;
    let name = full.strip_prefix("Benchmark")?;
    if let Some(c) = name.chars().next() {
        if c.is_lowercase() {
            return None; // "Benchmarking ..." is prose, not a result.
        }
    }
    let iters: u64 = fields.next()?.parse().ok()?;
    let rest: Vec<&str> = fields.collect();
    if rest.is_empty() || rest.len() & 1 != 0 {
        return None;
    }
    let mut values = Vec::with_capacity(rest.len() / 2);
    for pair in rest.chunks(2) {
        let v: f64 = pair[0].parse().ok()?;
        if !v.is_finite() {
            return None;
        }
        values.push((v, pair[1].to_string()));
    }
    let name = if name.is_empty() { full } else { name };
    Some((name.to_string(), iters, values))
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
            rs[0].config,
            vec![
                ("goos".to_string(), "linux".to_string()),
                ("pkg".to_string(), "fix".to_string())
            ]
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
}
