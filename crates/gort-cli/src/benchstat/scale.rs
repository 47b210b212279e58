//! Units and number formatting for benchstat tables.
//!
//! Units are first tidied the way benchstat does (`ns/op` becomes
//! `sec/op` times 1e-9, `MB/s` becomes `B/s` times 1e6), then each row
//! picks one scale for all its columns from its smallest non-zero value:
//! SI prefixes (`n`, `µ`, `m`, `k`, `M`, `G`, `T`) for most units, and
//! binary prefixes (`Ki`, `Mi`, ...) for byte units, with 4 significant
//! digits (`156.0n`, `22.68n`, `2.047k`). The thresholds are the printed
//! rounding points (99.995, 9.9995, 0.99995) so a value never prints as
//! `1000` or `0.999` of a prefix.

/// Decimal (SI) or binary (IEC) prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Decimal,
    Binary,
}

/// A chosen scale: divide by `factor`, print `prec` decimals, add `prefix`.
#[derive(Debug, Clone, PartialEq)]
pub struct Scaler {
    pub prec: usize,
    pub factor: f64,
    pub prefix: &'static str,
}

impl Scaler {
    pub fn format(&self, v: f64) -> String {
        format!("{:.*}{}", self.prec, v / self.factor, self.prefix)
    }
}

/// Normalises a unit: returns the tidied unit and the value factor.
pub fn tidy_unit(unit: &str) -> (String, f64) {
    match unit {
        "ns/op" => return ("sec/op".into(), 1e-9),
        "MB/s" => return ("B/s".into(), 1e6),
        _ => {}
    }
    // Edit `ns` and `MB` tokens in the numerator only.
    let mut out = String::new();
    let mut factor = 1.0;
    let mut denom = false;
    let mut tok = String::new();
    let flush = |tok: &mut String, out: &mut String, factor: &mut f64, denom: bool| {
        if !denom && tok == "ns" {
            out.push_str("sec");
            *factor /= 1e9;
        } else if !denom && tok == "MB" {
            out.push('B');
            *factor *= 1e6;
        } else {
            out.push_str(tok);
        }
        tok.clear();
    };
    for c in unit.chars() {
        if c == '/' || c == '*' {
            flush(&mut tok, &mut out, &mut factor, denom);
            denom = c == '/';
            out.push(c);
        } else {
            tok.push(c);
        }
    }
    flush(&mut tok, &mut out, &mut factor, denom);
    (out, factor)
}

/// Byte-valued units use binary prefixes.
pub fn class_of(unit: &str) -> Class {
    let num = unit.split('/').next().unwrap_or("");
    for tok in num.split('*') {
        if tok == "B" || tok == "MB" || tok == "bytes" {
            return Class::Binary;
        }
    }
    Class::Decimal
}

fn thresholds(exp10: i32, decimal: bool, exp2: i32) -> (f64, f64, f64) {
    if decimal {
        let p = |m: &str| format!("{m}e{exp10}").parse::<f64>().unwrap_or(0.0);
        (p("99.995"), p("9.9995"), p(".99995"))
    } else {
        let f = 2f64.powi(exp2);
        (99.995 * f, 9.9995 * f, 0.99995 * f)
    }
}

/// The common scale for a set of values (from the non-zero one nearest 0).
pub fn common_scale(vals: &[f64], class: Class) -> Scaler {
    let min = vals
        .iter()
        .map(|v| v.abs())
        .filter(|v| *v != 0.0 && v.is_finite())
        .fold(0.0f64, |m, v| if m == 0.0 || v < m { v } else { m });
    if min == 0.0 {
        return Scaler {
            prec: 3,
            factor: 1.0,
            prefix: "",
        };
    }
    let factors: Vec<(f64, &'static str, (f64, f64, f64))> = match class {
        Class::Decimal => ["T", "G", "M", "k", "", "m", "µ", "n"]
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let e = 12 - 3 * i as i32;
                (10f64.powi(e), *p, thresholds(e, true, 0))
            })
            .collect(),
        Class::Binary => ["Ti", "Gi", "Mi", "Ki", ""]
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let e = 40 - 10 * i as i32;
                (2f64.powi(e), *p, thresholds(0, false, e))
            })
            .collect(),
    };
    for &(factor, prefix, (t100, t10, t1)) in &factors {
        let prec = if min >= t100 {
            1
        } else if min >= t10 {
            2
        } else if min >= t1 {
            3
        } else {
            continue;
        };
        return Scaler {
            prec,
            factor,
            prefix,
        };
    }
    let &(factor, prefix, _) = factors.last().expect("non-empty");
    let val = min / factor;
    let mut prec = 3;
    for (i, exp) in (-8..=-1).rev().enumerate() {
        let thresh: f64 = format!("9.9995e{exp}").parse().unwrap_or(0.0);
        prec = i + 3;
        if val >= thresh {
            break;
        }
    }
    Scaler {
        prec,
        factor,
        prefix,
    }
}

/// Formats one value on its own scale.
pub fn scale(v: f64, class: Class) -> String {
    common_scale(&[v], class).format(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_benchstat() {
        assert_eq!(scale(156.0e-9, Class::Decimal), "156.0n");
        assert_eq!(scale(22.68e-9, Class::Decimal), "22.68n");
        assert_eq!(scale(89782e-9, Class::Decimal), "89.78µ");
        assert_eq!(scale(2047.0, Class::Decimal), "2.047k");
        assert_eq!(scale(23.0, Class::Binary), "23.00");
        assert_eq!(scale(32752.0, Class::Binary), "31.98Ki");
        assert_eq!(scale(0.0, Class::Binary), "0.000");
        assert_eq!(scale(1.0, Class::Decimal), "1.000");
        assert_eq!(tidy_unit("ns/op"), ("sec/op".to_string(), 1e-9));
        assert_eq!(tidy_unit("ns/iter").0, "sec/iter");
        assert_eq!(class_of("B/op"), Class::Binary);
        assert_eq!(class_of("allocs/op"), Class::Decimal);
    }
}
