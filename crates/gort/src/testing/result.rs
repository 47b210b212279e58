//! `BenchmarkResult` and its text form, byte for byte as Go's `testing` package prints it.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::time::Duration;

/// The result of one benchmark run (Go's `testing.BenchmarkResult`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BenchmarkResult {
    /// Iterations of the final round.
    pub n: u64,
    /// Time taken by the final round.
    pub t: Duration,
    /// Bytes processed per iteration (`set_bytes`).
    pub bytes: i64,
    /// Allocations during the final round's timed region.
    pub mem_allocs: u64,
    /// Bytes allocated during the final round's timed region.
    pub mem_bytes: u64,
    /// Metrics from `report_metric`, by unit.
    pub extra: BTreeMap<String, f64>,
}

impl BenchmarkResult {
    /// Nanoseconds per iteration, truncated (Go's `NsPerOp`).
    pub fn ns_per_op(&self) -> i64 {
        if let Some(&v) = self.extra.get("ns/op") {
            return v as i64;
        }
        if self.n == 0 {
            return 0;
        }
        (self.t.as_nanos() / self.n as u128) as i64
    }

    /// Allocations per iteration, integer division (Go's `AllocsPerOp`).
    pub fn allocs_per_op(&self) -> i64 {
        if let Some(&v) = self.extra.get("allocs/op") {
            return v as i64;
        }
        if self.n == 0 {
            return 0;
        }
        (self.mem_allocs / self.n) as i64
    }

    /// Bytes allocated per iteration, integer division (Go's `AllocedBytesPerOp`).
    pub fn alloced_bytes_per_op(&self) -> i64 {
        if let Some(&v) = self.extra.get("B/op") {
            return v as i64;
        }
        if self.n == 0 {
            return 0;
        }
        (self.mem_bytes / self.n) as i64
    }

    fn mb_per_sec(&self) -> f64 {
        if let Some(&v) = self.extra.get("MB/s") {
            return v;
        }
        if self.bytes <= 0 || self.t.is_zero() || self.n == 0 {
            return 0.0;
        }
        (self.bytes as f64 * self.n as f64 / 1e6) / self.t.as_secs_f64()
    }

    /// The `B/op` and `allocs/op` columns (Go's `MemString`).
    pub fn mem_string(&self) -> String {
        format!(
            "{:8} B/op\t{:8} allocs/op",
            self.alloced_bytes_per_op(),
            self.allocs_per_op()
        )
    }
}

/// Go's `BenchmarkResult.String`: N padded to 8, then ns/op, MB/s and extra metrics.
impl fmt::Display for BenchmarkResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = format!("{:8}", self.n);
        let ns = match self.extra.get("ns/op") {
            Some(&v) => v,
            None if self.n == 0 => f64::NAN,
            None => self.t.as_nanos() as f64 / self.n as f64,
        };
        if ns != 0.0 {
            buf.push('\t');
            pretty_print(&mut buf, ns, "ns/op");
        }
        let mbs = self.mb_per_sec();
        if mbs != 0.0 {
            let _ = write!(buf, "\t{mbs:7.2} MB/s");
        }
        for (k, &v) in &self.extra {
            if !matches!(k.as_str(), "ns/op" | "MB/s" | "B/op" | "allocs/op") {
                buf.push('\t');
                pretty_print(&mut buf, v, k);
            }
        }
        f.write_str(&buf)
    }
}

/// Go's `prettyPrint`: ten places before the decimal point, four significant figures for
/// small values, decimal points aligned.
pub(crate) fn pretty_print(buf: &mut String, x: f64, unit: &str) {
    let y = x.abs();
    let _ = if y == 0.0 || y >= 999.95 {
        write!(buf, "{x:10.0} {unit}")
    } else if y >= 99.995 {
        write!(buf, "{x:12.1} {unit}")
    } else if y >= 9.9995 {
        write!(buf, "{x:13.2} {unit}")
    } else if y >= 0.99995 {
        write!(buf, "{x:14.3} {unit}")
    } else if y >= 0.099995 {
        write!(buf, "{x:15.4} {unit}")
    } else if y >= 0.0099995 {
        write!(buf, "{x:16.5} {unit}")
    } else if y >= 0.00099995 {
        write!(buf, "{x:17.6} {unit}")
    } else {
        write!(buf, "{x:18.7} {unit}")
    };
}

/// Go's `benchmarkName`: the name with `-procs` appended unless `procs` is 1.
pub(crate) fn benchmark_name(name: &str, procs: usize) -> String {
    if procs == 1 {
        name.to_string()
    } else {
        format!("{name}-{procs}")
    }
}

/// One result line: the padded name, a tab, the result, and the memory columns if asked.
pub fn result_line(name: &str, width: usize, r: &BenchmarkResult, mem: bool) -> String {
    let mut s = format!("{name:<width$}\t{r}");
    if mem {
        s.push('\t');
        s.push_str(&r.mem_string());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_print_widths() {
        let p = |x: f64| {
            let mut s = String::new();
            pretty_print(&mut s, x, "ns/op");
            s
        };
        assert_eq!(p(160.1), "       160.1 ns/op");
        assert_eq!(p(17.48), "        17.48 ns/op");
        assert_eq!(p(85694.0), "     85694 ns/op");
        assert_eq!(p(1.234), "         1.234 ns/op");
        assert_eq!(p(0.5), "         0.5000 ns/op");
        assert_eq!(p(0.0), "         0 ns/op");
    }

    #[test]
    fn names_and_mb_per_sec() {
        assert_eq!(benchmark_name("BenchmarkX", 1), "BenchmarkX");
        assert_eq!(benchmark_name("BenchmarkX", 2), "BenchmarkX-2");
        let r = BenchmarkResult {
            n: 1000,
            t: Duration::from_millis(1),
            bytes: 1024,
            ..Default::default()
        };
        assert_eq!(r.to_string(), "    1000\t      1000 ns/op\t1024.00 MB/s");
    }
}
