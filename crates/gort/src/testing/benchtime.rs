//! `-benchtime`: a Go duration (`1s`, `500ms`, `1.5s`, `2m`) or an iteration count (`100x`).

use std::time::Duration;

/// How long each benchmark runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchTime {
    /// Grow `b.N` until a round lasts this long.
    Duration(Duration),
    /// Run exactly this many iterations (after the N = 1 probe round).
    Count(u64),
}

impl Default for BenchTime {
    fn default() -> Self {
        BenchTime::Duration(Duration::from_secs(1))
    }
}

impl std::str::FromStr for BenchTime {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(n) = s.strip_suffix('x') {
            return match n.parse::<u64>() {
                Ok(n) if n > 0 => Ok(BenchTime::Count(n)),
                _ => Err(format!("invalid count {s:?}")),
            };
        }
        parse_go_duration(s).map(BenchTime::Duration)
    }
}

/// Parses Go's `time.ParseDuration` syntax: a sequence of decimal numbers with units
/// `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`. Negative durations are rejected.
pub(crate) fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let err = || format!("time: invalid duration {s:?}");
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    if rest.is_empty() {
        return Err(err());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        let value: f64 = rest[..num_end].parse().map_err(|_| err())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(err()),
        };
        total += value * scale;
        rest = &rest[unit_end..];
    }
    Ok(Duration::from_nanos(total.round() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations_and_counts() {
        let d = |s: &str| s.parse::<BenchTime>().unwrap();
        assert_eq!(d("1s"), BenchTime::Duration(Duration::from_secs(1)));
        assert_eq!(d("500ms"), BenchTime::Duration(Duration::from_millis(500)));
        assert_eq!(d("1.5s"), BenchTime::Duration(Duration::from_millis(1500)));
        assert_eq!(d("1m30s"), BenchTime::Duration(Duration::from_secs(90)));
        assert_eq!(d("100us"), BenchTime::Duration(Duration::from_micros(100)));
        assert_eq!(d("1000x"), BenchTime::Count(1000));
        assert!("0x".parse::<BenchTime>().is_err());
        assert!("1".parse::<BenchTime>().is_err());
        assert!("1q".parse::<BenchTime>().is_err());
    }
}
