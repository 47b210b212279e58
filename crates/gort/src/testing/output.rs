//! Where results go: Go's text format on stdout, or `go test -json` events; progress on stderr.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Stdout in text or JSON form. Text is written as it comes (a result line's name is printed
/// before the benchmark runs, as Go does); JSON is emitted one `output` event per line.
pub(crate) struct Output {
    json: bool,
    pkg: String,
    partial: String,
    /// Captured text instead of stdout (tests).
    capture: Option<String>,
}

impl Output {
    pub(crate) fn new(json: bool, pkg: &str) -> Self {
        Output {
            json,
            pkg: pkg.to_string(),
            partial: String::new(),
            capture: None,
        }
    }

    pub(crate) fn capturing(json: bool, pkg: &str) -> Self {
        Output {
            capture: Some(String::new()),
            ..Output::new(json, pkg)
        }
    }

    pub(crate) fn captured(&self) -> &str {
        self.capture.as_deref().unwrap_or("")
    }

    fn emit(&mut self, s: &str) {
        match &mut self.capture {
            Some(c) => c.push_str(s),
            None => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(s.as_bytes());
                let _ = out.flush();
            }
        }
    }

    /// Writes program output (text, or `output` events for each completed line).
    pub(crate) fn write(&mut self, s: &str) {
        if !self.json {
            self.emit(s);
            return;
        }
        self.partial.push_str(s);
        while let Some(i) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=i).collect();
            let ev = format!(
                "{{\"Time\":\"{}\",\"Action\":\"output\",\"Package\":{},\"Output\":{}}}\n",
                rfc3339_now(),
                json_string(&self.pkg),
                json_string(&line)
            );
            self.emit(&ev);
        }
    }

    /// A JSON `start` event (JSON mode only).
    pub(crate) fn start(&mut self) {
        if self.json {
            let ev = format!(
                "{{\"Time\":\"{}\",\"Action\":\"start\",\"Package\":{}}}\n",
                rfc3339_now(),
                json_string(&self.pkg)
            );
            self.emit(&ev);
        }
    }

    /// The trailer: `PASS`/`FAIL` and go test's package line, or the final JSON event.
    pub(crate) fn finish(&mut self, ok: bool, elapsed_s: f64) {
        let rest = std::mem::take(&mut self.partial);
        if !rest.is_empty() {
            self.write(&format!("{rest}\n"));
        }
        if ok {
            self.write("PASS\n");
        } else {
            self.write("FAIL\n");
        }
        let line = if ok {
            format!("ok  \t{}\t{elapsed_s:.3}s\n", self.pkg)
        } else {
            format!("FAIL\t{}\t{elapsed_s:.3}s\n", self.pkg)
        };
        self.write(&line);
        if self.json {
            let ev = format!(
                "{{\"Time\":\"{}\",\"Action\":\"{}\",\"Package\":{},\"Elapsed\":{}}}\n",
                rfc3339_now(),
                if ok { "pass" } else { "fail" },
                json_string(&self.pkg),
                (elapsed_s * 1000.0).round() / 1000.0
            );
            self.emit(&ev);
        }
    }
}

/// A JSON string literal.
pub(crate) fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Now in RFC 3339 with nanoseconds, UTC (Go's `time.RFC3339Nano`: trailing zeros trimmed).
pub(crate) fn rfc3339_now() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs() as i64, d.subsec_nanos())
}

pub(crate) fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut s = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Progress on stderr: rewritten in place on a terminal, one line per round with `-v`.
pub(crate) struct Progress {
    tty: bool,
    verbose: bool,
}

impl Progress {
    pub(crate) fn new(verbose: bool) -> Self {
        // SAFETY: `isatty` has no preconditions; fd 2 may be closed, which yields 0.
        let tty = unsafe { libc::isatty(2) } == 1;
        Progress { tty, verbose }
    }

    pub(crate) fn round(&self, name: &str, round: u32, n: u64) {
        if self.tty {
            eprint!("\r\x1b[K{name}: round {round}, N={n}");
        } else if self.verbose {
            eprintln!("{name}: round {round}, N={n}");
        }
    }

    pub(crate) fn clear(&self) {
        if self.tty {
            eprint!("\r\x1b[K");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_time() {
        assert_eq!(json_string("a\t\"b\"\n"), r#""a\t\"b\"\n""#);
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(1_700_000_000, 120_000_000),
            "2023-11-14T22:13:20.12Z"
        );
        let mut o = Output::capturing(true, "gort");
        o.write("Bench");
        o.write("markX\t1\n");
        assert!(o.captured().contains(r#""Output":"BenchmarkX\t1\n"}"#));
    }
}
