//! `-bench` matching as Go's `testing` matcher does it.
//!
//! The pattern is split on `/` (outside brackets and parentheses) into one regular expression
//! per level of sub-benchmark, and on top-level `|` into alternatives. A name `A/B/C` matches
//! when each of its elements is matched (unanchored) by the pattern element of the same level;
//! a name with fewer levels than the pattern matches *partially*: it runs only to reach its
//! sub-benchmarks. Sub-benchmark names are rewritten (white space to `_`, unprintable
//! characters escaped) and made unique with `#01`, `#02`, ... suffixes.

use std::collections::HashMap;

use regex::Regex;

/// A compiled `-bench` pattern.
pub(crate) struct Matcher {
    /// Alternatives; each is one regex per level.
    alternatives: Vec<Vec<Regex>>,
    sub_names: HashMap<String, u32>,
}

impl Matcher {
    pub(crate) fn new(pattern: &str) -> Result<Self, String> {
        let alternatives = split_regexp(pattern)
            .into_iter()
            .map(|levels| {
                levels
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        Regex::new(&rewrite(p))
                            .map_err(|e| format!("element {i} of -test.bench ({p:?}): {e}"))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Matcher {
            alternatives,
            sub_names: HashMap::new(),
        })
    }

    /// Go's `matcher.fullName`: the full name of sub-benchmark `sub` of `parent` (`None` at the
    /// top level), whether it matches, and whether the match is partial.
    pub(crate) fn full_name(&mut self, parent: Option<&str>, sub: &str) -> (String, bool, bool) {
        let name = match parent {
            Some(p) => self.unique(p, &rewrite(sub)),
            None => sub.to_string(),
        };
        let elems: Vec<&str> = name.split('/').collect();
        for alt in &self.alternatives {
            let ok = elems.iter().zip(alt).all(|(e, re)| re.is_match(e));
            if ok {
                let partial = elems.len() < alt.len();
                return (name, true, partial);
            }
        }
        (name, false, false)
    }

    fn unique(&mut self, parent: &str, sub: &str) -> String {
        let base = format!("{parent}/{sub}");
        loop {
            let n = *self.sub_names.get(&base).unwrap_or(&0);
            self.sub_names.insert(base.clone(), n + 1);
            if n == 0 && !sub.is_empty() {
                return base;
            }
            let name = format!("{base}#{n:02}");
            if self.sub_names.get(&name).copied().unwrap_or(0) == 0 {
                return name;
            }
        }
    }
}

/// Go's `splitRegexp`: alternatives of per-level patterns.
fn split_regexp(s: &str) -> Vec<Vec<String>> {
    let mut alts = Vec::new();
    let mut levels = Vec::new();
    let (mut cs, mut cp) = (0i32, 0i32);
    let b = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'[' => cs += 1,
            b']' => cs = (cs - 1).max(0),
            b'(' if cs == 0 => cp += 1,
            b')' if cs == 0 => cp -= 1,
            b'\\' => i += 1,
            b'/' if cs == 0 && cp == 0 => {
                levels.push(s[start..i].to_string());
                start = i + 1;
            }
            b'|' if cs == 0 && cp == 0 => {
                levels.push(s[start..i].to_string());
                start = i + 1;
                alts.push(std::mem::take(&mut levels));
            }
            _ => {}
        }
        i += 1;
    }
    levels.push(s[start.min(s.len())..].to_string());
    alts.push(levels);
    alts
}

/// Go's `rewrite`: white space becomes `_`, unprintable characters are escaped.
pub(crate) fn rewrite(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_whitespace() {
            out.push('_');
        } else if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_levels_like_go() {
        let mut m = Matcher::new("Alloc/Small").unwrap();
        assert_eq!(
            m.full_name(None, "BenchmarkAlloc"),
            ("BenchmarkAlloc".into(), true, true)
        );
        assert!(!m.full_name(None, "BenchmarkSpawn").1);
        let (n, ok, partial) = m.full_name(Some("BenchmarkAlloc"), "Small size");
        assert_eq!(
            (n.as_str(), ok, partial),
            ("BenchmarkAlloc/Small_size", true, false)
        );
        assert!(!m.full_name(Some("BenchmarkAlloc"), "Big").1);

        let mut m = Matcher::new(".").unwrap();
        assert_eq!(
            m.full_name(None, "BenchmarkX"),
            ("BenchmarkX".into(), true, false)
        );
        assert_eq!(m.full_name(Some("BenchmarkX"), "a").0, "BenchmarkX/a");
        assert_eq!(m.full_name(Some("BenchmarkX"), "a").0, "BenchmarkX/a#01");

        let mut m = Matcher::new("Spawn|Yield").unwrap();
        assert!(m.full_name(None, "BenchmarkYield").1);
        assert!(!m.full_name(None, "BenchmarkAlloc").1);

        assert_eq!(split_regexp("a[/]b/c(d/e)"), vec![vec!["a[/]b", "c(d/e)"]]);
        assert!(Matcher::new("(").is_err());
    }
}
