//! `-bench` matching as Go's `testing` matcher does it.
//!
//! The pattern is split on `/` (outside brackets and parentheses) into one regular expression
//! per level of sub-benchmark, and on top-level `|` into alternatives. A name `A/B/C` matches
//! when each of its elements is matched (unanchored) by the pattern element of the same level;
//! a name with fewer levels than the pattern matches *partially*: it runs only to reach its
//! sub-benchmarks. Sub-benchmark names are rewritten (white space to `_`, unprintable
//! characters escaped) and made unique with `#01`, `#02`, ... suffixes.
//!
//! Patterns are Go's RE2 syntax (`regexp/syntax`), run on the `regex` crate, whose syntax is
//! RE2's with a few spellings that mean something else. [`go_syntax`] rewrites those first, so
//! a pattern that works with `go test -bench` selects the same benchmarks here: `\d`, `\s`,
//! `\w` and `\b` are ASCII-only (as in Go, not Unicode as in `regex`), `\Q...\E` quotes,
//! `\123` is octal, `\<`/`\>` are the literal characters (not word boundaries), a `{` that
//! does not start a repetition is literal (`a{,2}` too), and inside a class `[` and `&&`,
//! `--`, `~~` are literal (not nested classes and set operations). Go's flags (`i`, `m`, `s`,
//! `U`), `\pL`, `\p{Greek}`, `[[:alpha:]]`, `(?P<name>)` and non-greedy repetitions need no
//! rewriting. Spellings Go rejects are left for `regex` to reject, or accepted (`(?x)`).

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
        Self::for_flag(pattern, "-test.bench")
    }

    /// A matcher for the pattern of `flag` (`-test.bench`, `-test.run`), which errors name.
    pub(crate) fn for_flag(pattern: &str, flag: &str) -> Result<Self, String> {
        let alternatives = split_regexp(pattern)
            .into_iter()
            .map(|levels| {
                levels
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        go_syntax(&rewrite(p))
                            .and_then(|re| Regex::new(&re).map_err(|e| e.to_string()))
                            .map_err(|e| format!("element {i} of {flag} ({p:?}): {e}"))
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

/// Rewrites a Go (RE2) regular expression into the `regex` crate's syntax with the same
/// meaning (see the module docs for what changes).
pub(crate) fn go_syntax(re: &str) -> Result<String, String> {
    let c: Vec<char> = re.chars().collect();
    let mut out = String::with_capacity(re.len() + 8);
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '\\' => {
                let Some(&e) = c.get(i + 1) else {
                    return Err("trailing backslash at end of expression".into());
                };
                match e {
                    'Q' => {
                        // `\Q...\E` (or to the end): every character literal.
                        let rest: String = c[i + 2..].iter().collect();
                        let (lit, after) = match rest.find("\\E") {
                            Some(k) => (&rest[..k], k + 2),
                            None => (&rest[..], rest.len()),
                        };
                        out.push_str(&regex::escape(lit));
                        i += 2 + rest[..after].chars().count();
                        continue;
                    }
                    'd' | 'D' | 's' | 'S' | 'w' | 'W' => out.push_str(perl_class(e, false)),
                    'b' | 'B' => {
                        out.push_str("(?-u:\\");
                        out.push(e);
                        out.push(')');
                    }
                    '<' | '>' => out.push(e),
                    'C' => return Err("invalid escape sequence: `\\C`".into()),
                    _ => {
                        i = escape(&c, i, &mut out)?;
                        continue;
                    }
                }
                i += 2;
            }
            '[' => i = class(&c, i, &mut out)?,
            '{' => match repeat_len(&c[i..]) {
                Some(n) => {
                    out.extend(&c[i..i + n]);
                    i += n;
                }
                None => {
                    out.push_str("\\{");
                    i += 1;
                }
            },
            '}' => {
                out.push_str("\\}");
                i += 1;
            }
            ch => {
                out.push(ch);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Go's Perl classes (ASCII only): standalone, or as an element inside a class.
fn perl_class(e: char, in_class: bool) -> &'static str {
    match (e, in_class) {
        ('d', false) => "[0-9]",
        ('D', false) => "[^0-9]",
        ('s', false) => "[\\t\\n\\f\\r ]",
        ('S', false) => "[^\\t\\n\\f\\r ]",
        ('w', false) => "[0-9A-Za-z_]",
        ('W', false) => "[^0-9A-Za-z_]",
        ('d', true) => "0-9",
        ('s', true) => "\\t\\n\\f\\r ",
        ('w', true) => "0-9A-Za-z_",
        // A negated class inside a class: `regex` unions nested classes.
        (e, true) => perl_class(e, false),
        _ => unreachable!(),
    }
}

/// Length of a Go repetition `{n}`, `{n,}` or `{n,m}` at the start of `c`, if it is one (Go
/// treats any other `{` as a literal).
fn repeat_len(c: &[char]) -> Option<usize> {
    let mut i = 1;
    let digits = |i: &mut usize| {
        let s = *i;
        while c.get(*i).is_some_and(|d| d.is_ascii_digit()) {
            *i += 1;
        }
        *i > s
    };
    if !digits(&mut i) {
        return None;
    }
    if c.get(i) == Some(&',') {
        i += 1;
        digits(&mut i);
    }
    (c.get(i) == Some(&'}')).then_some(i + 1)
}

/// Copies the escape at `c[i]` (a backslash) that needs no rewriting, except octal
/// (`\0`, `\012`, `\12`: Go's, which `regex` lacks) and punctuation. Returns the index after it.
fn escape(c: &[char], i: usize, out: &mut String) -> Result<usize, String> {
    let e = c[i + 1];
    if e.is_digit(8) && (e == '0' || c.get(i + 2).is_some_and(|d| d.is_digit(8))) {
        let mut v = 0u32;
        let mut j = i + 1;
        while j < i + 4 && c.get(j).is_some_and(|d| d.is_digit(8)) {
            v = v * 8 + c[j].to_digit(8).unwrap();
            j += 1;
        }
        out.push_str(&format!("\\x{{{v:X}}}"));
        return Ok(j);
    }
    if e.is_ascii() && !e.is_ascii_alphanumeric() {
        literal(e, out);
        return Ok(i + 2);
    }
    out.push('\\');
    out.push(e);
    // `\p{Greek}`, `\x{10FFFF}`: copy the braces too.
    if matches!(e, 'p' | 'P' | 'x') && c.get(i + 2) == Some(&'{') {
        let end = c[i + 2..]
            .iter()
            .position(|&b| b == '}')
            .ok_or("missing closing } in escape")?;
        out.extend(&c[i + 2..i + 3 + end]);
        return Ok(i + 3 + end);
    }
    Ok(i + 2)
}

/// A literal character, escaped if `regex` gives it a meaning anywhere.
fn literal(ch: char, out: &mut String) {
    if regex_syntax_meta(ch) {
        out.push('\\');
    }
    out.push(ch);
}

fn regex_syntax_meta(ch: char) -> bool {
    matches!(
        ch,
        '\\' | '.'
            | '+'
            | '*'
            | '?'
            | '('
            | ')'
            | '|'
            | '['
            | ']'
            | '{'
            | '}'
            | '^'
            | '$'
            | '#'
            | '&'
            | '-'
            | '~'
            | ' '
    )
}

/// Rewrites the class starting at `c[i]` (`[`), as Go parses it; returns the index after it.
fn class(c: &[char], mut i: usize, out: &mut String) -> Result<usize, String> {
    let err = || "missing closing ]".to_string();
    out.push('[');
    i += 1;
    if c.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    let mut first = true;
    loop {
        let ch = *c.get(i).ok_or_else(err)?;
        if ch == ']' && !first {
            out.push(']');
            return Ok(i + 1);
        }
        first = false;
        // `[:alpha:]`, `[:^alpha:]`: the same in both syntaxes.
        if ch == '[' && c.get(i + 1) == Some(&':') {
            if let Some(k) =
                (i + 2..c.len().saturating_sub(1)).find(|&k| c[k] == ':' && c[k + 1] == ']')
            {
                out.extend(&c[i..k + 2]);
                i = k + 2;
                continue;
            }
        }
        if ch == '\\' {
            match c.get(i + 1) {
                Some(&e @ ('d' | 'D' | 's' | 'S' | 'w' | 'W')) => {
                    out.push_str(perl_class(e, true));
                    i += 2;
                    continue;
                }
                Some('p' | 'P') => {
                    i = escape(c, i, out)?;
                    continue;
                }
                None => return Err(err()),
                _ => {}
            }
        }
        // A single character, or a range of two.
        i = class_char(c, i, out)?;
        if c.get(i) == Some(&'-') && c.get(i + 1).is_some_and(|&n| n != ']') {
            out.push('-');
            i = class_char(c, i + 1, out)?;
        }
    }
}

/// One character of a class (literal or escape) at `c[i]`; returns the index after it.
fn class_char(c: &[char], i: usize, out: &mut String) -> Result<usize, String> {
    match c[i] {
        '\\' => {
            if c.get(i + 1).is_none() {
                return Err("missing closing ]".into());
            }
            escape(c, i, out)
        }
        ch => {
            literal(ch, out);
            Ok(i + 1)
        }
    }
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

    /// Whether Go's pattern `re` matches `s` (unanchored, as `-bench` does).
    fn go_match(re: &str, s: &str) -> bool {
        let rust = go_syntax(re).unwrap_or_else(|e| panic!("{re:?}: {e}"));
        Regex::new(&rust)
            .unwrap_or_else(|e| panic!("{re:?} -> {rust:?}: {e}"))
            .is_match(s)
    }

    #[test]
    fn full_re2_syntax() {
        // The issue-21 report: `-bench '(?i)pingpong'` failed without Unicode case folding.
        let mut m = Matcher::new("(?i)pingpong").unwrap();
        assert!(m.full_name(None, "BenchmarkPingPong").1);
        assert!(m.full_name(None, "BenchmarkParkPingPong").1);
        assert!(!m.full_name(None, "BenchmarkSpawn").1);
        let mut m = Matcher::new("(?i)^benchmarkPING").unwrap();
        assert!(m.full_name(None, "BenchmarkPingPong").1);
        assert!(!m.full_name(None, "BenchmarkParkPingPong").1);

        // Flags, classes, repetitions, groups as Go's regexp/syntax documents them.
        let yes = [
            (r"(?i)ΣΑΣ", "σας"),
            (r"(?i)k", "\u{212A}"), // Kelvin sign folds to k, as in Go
            (r"^\pL+$", "Ωmega"),
            (r"^\p{L}\PL$", "a1"),
            (r"\p{Greek}", "αβ"),
            (r"^\P{Greek}+$", "abc"),
            (r"^[[:alpha:]]+$", "PingPong"),
            (r"^[[:^digit:]]+$", "abc"),
            (r"^[^[:space:]x]+$", "ab"),
            (r"^a+?b$", "aaab"),
            (r"^(?U)a+b", "aab"),
            (r"^(?s:.)$", "\n"),
            (r"(?m)^b$", "a\nb"),
            (r"^(?P<x>a)(?<y>b)$", "ab"),
            (r"^\x41\x{42}\101\0$", "ABA\0"),
            (r"^\Q.*+\E$", ".*+"),
            (r"^a\Q(b", "a(b"),
            (r"^\d\s\w$", "1 _"),
            (r"^\D\S\W$", "é-é"),
            (r"Ping\b", "Ping/x"),
            (r"^a{,2}$", "a{,2}"), // not a repetition in Go: literal
            (r"^a{2}b{1,}c{1,2}$", "aabbc"),
            (r"^x{$", "x{"),
            (r"^[a[]+$", "[a["), // `[` is literal inside a class
            (r"^[a&&b]+$", "&ab"),
            (r"^[+--]+$", "+,-"), // the range + to -
            (r"^[a~~]+$", "~a"),
            (r"^[]a]+$", "]a"),
            (r"^[^]a]$", "b"),
            (r"^[\d.]+$", "1.5"),
            (r"^[\D]$", "x"),
            (r"^[\]\-]+$", "]-"),
            (r"^\<\>$", "<>"),
            (r"\A\.\z", "."),
        ];
        for (re, s) in yes {
            assert!(go_match(re, s), "{re:?} should match {s:?}");
        }
        let no = [
            (r"\d", "\u{0663}"), // ARABIC-INDIC DIGIT THREE: Go's \d is ASCII only
            (r"\w", "é"),
            (r"\s", "\u{00A0}"),
            (r"^\S$", "\t"),
            (r"^[\d]$", "\u{0663}"),
            (r"^\pL$", "1"),
            (r"^(?s:.)$", "ab"),
            (r"é\b", "é"), // ASCII boundary: é is not a word character
            (r"^a{,2}$", "aa"),
            (r"^[a&&b]$", "c"),
            (r"^[+--]$", "."),
            (r"^[^]a]$", "]"),
        ];
        for (re, s) in no {
            assert!(!go_match(re, s), "{re:?} should not match {s:?}");
        }
        // Errors, as in Go: backreferences, \C, unclosed classes and groups.
        for bad in [r"(a)\1", r"\C", r"[a", r"(?i", r"a\", r"\pX{"] {
            assert!(Matcher::new(bad).is_err(), "{bad:?} should be rejected");
        }
        let e = Matcher::new("(x").err().unwrap();
        assert!(e.starts_with("element 0 of -test.bench (\"(x\"): "), "{e}");
    }
}
