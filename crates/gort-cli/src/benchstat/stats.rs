//! The statistics benchstat uses, rebuilt from their definitions.
//!
//! * Summary: the sample median, with a distribution-free confidence
//!   interval taken from order statistics. Under the null model the number
//!   of samples below the population median is Binomial(n, 1/2); starting
//!   at the mode we add the most probable neighbouring interval (ties go
//!   left) until the covered mass reaches the confidence level. The bounds
//!   are then the order statistics at the ends of that band. Above n = 30
//!   the binomial is replaced by its normal approximation with continuity
//!   correction, as x/perf does. If a bound falls outside the sample the
//!   interval is infinite and we say how many samples would make it finite.
//! * Comparison: the two-sided Mann-Whitney U test. For small samples the
//!   exact null distribution of U is computed by dynamic programming over
//!   the tie groups (midranks), which handles ties exactly; x/perf uses
//!   the exact form up to 50 samples per side without ties and 25 with
//!   ties, and the normal approximation with tie and continuity correction
//!   beyond. A single tie group ("all samples are equal") gives p = 1.
//! * Geomean across benchmarks, and of the new/old ratios (0/0 counts as 1).
//!
//! The rejected alternative was Student's t on means: benchmark timings
//! are skewed and heavy-tailed, which is why benchstat moved to medians.

/// Median and its confidence interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub center: f64,
    pub lo: f64,
    pub hi: f64,
    pub warnings: Vec<String>,
}

/// Result of a U test.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub p: f64,
    pub n1: usize,
    pub n2: usize,
    pub alpha: f64,
    pub warnings: Vec<String>,
}

/// Confidence level used for summaries.
pub const CONFIDENCE: f64 = 0.95;
/// Significance level used for comparisons.
pub const ALPHA: f64 = 0.05;

/// Median of a sorted, non-empty slice.
pub fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

fn binom_pmf(n: usize, p: f64, k: i64) -> f64 {
    if k < 0 || k as usize > n {
        return 0.0;
    }
    let k = k as usize;
    let ln = ln_choose(n, k) + (k as f64) * p.ln() + ((n - k) as f64) * (1.0 - p).ln();
    ln.exp()
}

fn ln_choose(n: usize, k: usize) -> f64 {
    let k = k.min(n - k);
    (0..k)
        .map(|i| ((n - i) as f64).ln() - ((i + 1) as f64).ln())
        .sum()
}

/// Order statistics (1-based) bounding the CI of the median for n samples:
/// `(lo_order, hi_order)`; `lo_order < 1` or `hi_order > n` mean infinite.
pub fn median_ci_orders(n: usize, confidence: f64) -> (i64, i64) {
    let q = 0.5;
    if n == 0 {
        return (0, 1);
    }
    let (l, r);
    if n <= 30 {
        let x = ((n as f64 + 1.0) * q).ceil() as i64 - 1;
        let mut accum = binom_pmf(n, q, x);
        let (mut lo, mut hi) = (x, x + 1);
        let mut lp = binom_pmf(n, q, lo - 1);
        let mut rp = binom_pmf(n, q, hi);
        while accum < confidence && (lp > 0.0 || rp > 0.0) {
            if lp >= rp {
                accum += lp;
                lo -= 1;
                lp = binom_pmf(n, q, lo - 1);
            } else {
                accum += rp;
                hi += 1;
                rp = binom_pmf(n, q, hi);
            }
        }
        l = lo;
        r = hi;
    } else {
        let mu = n as f64 * q;
        let sigma = (n as f64 * q * (1.0 - q)).sqrt();
        let alpha = (1.0 - confidence) / 2.0;
        let l1 = mu + sigma * norm_inv_cdf(alpha);
        let r1 = 2.0 * mu - l1;
        let lo = ((l1 - 0.5).floor() + 0.5).floor() as i64 + 1;
        let mut hi = ((r1 - 0.5).ceil() + 0.5).floor() as i64 + 1;
        let cdf = |l: i64, r: i64| {
            norm_cdf((r as f64 - 0.5 - mu) / sigma) - norm_cdf((l as f64 - 0.5 - mu) / sigma)
        };
        let conf = cdf(lo, hi);
        let biased = cdf(lo, hi - 1);
        if biased >= confidence && biased < conf {
            hi -= 1;
        }
        l = lo;
        r = hi;
    }
    (l.max(0), r.min(n as i64 + 1))
}

/// Fewest samples giving a finite CI at `confidence` (`(">=", n)` form).
pub fn median_samples_needed(confidence: f64) -> (&'static str, usize) {
    for n in 2..=50 {
        let (l, r) = median_ci_orders(n, confidence);
        if l > 0 && r <= n as i64 {
            return (">=", n);
        }
    }
    (">", 50)
}

/// Summarises one sample (any order).
pub fn summarize(values: &[f64]) -> Summary {
    let mut xs = values.to_vec();
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    let center = median(&xs);
    let (l, r) = median_ci_orders(n, CONFIDENCE);
    let lo = if l < 1 {
        f64::NEG_INFINITY
    } else {
        xs[l as usize - 1]
    };
    let hi = if r > n as i64 {
        f64::INFINITY
    } else {
        xs[r as usize - 1]
    };
    let mut warnings = Vec::new();
    if lo.is_infinite() || hi.is_infinite() {
        let (op, need) = median_samples_needed(CONFIDENCE);
        warnings.push(format!(
            "need {op} {need} samples for confidence interval at level {CONFIDENCE}"
        ));
    }
    Summary {
        center,
        lo,
        hi,
        warnings,
    }
}

impl Summary {
    /// The CI as `±N%` text (without the ±): `∞`, `?`, or e.g. `3%`.
    pub fn pct_range(&self) -> String {
        if self.lo.is_infinite() || self.hi.is_infinite() {
            return "∞".into();
        }
        let sign = |x: f64| {
            if x > 0.0 {
                1
            } else if x < 0.0 {
                -1
            } else {
                0
            }
        };
        let cs = sign(self.center);
        if cs != sign(self.lo) || cs != sign(self.hi) {
            return "?".into();
        }
        if self.center == 0.0 {
            return "0%".into();
        }
        let v = (self.hi / self.center - 1.0).max(1.0 - self.lo / self.center);
        format!("{:.0}%", 100.0 * v)
    }
}

/// Standard normal CDF.
pub fn norm_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// Complementary error function: series for small |x|, continued
/// fraction (modified Lentz) for large |x|; about 1e-13 relative error.
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 2.5 {
        // erf(x) = 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1))
        let mut term = x;
        let mut sum = x;
        let x2 = x * x;
        for n in 1..200 {
            term *= -x2 / n as f64;
            let add = term / (2 * n + 1) as f64;
            sum += add;
            if add.abs() < 1e-17 * sum.abs() {
                break;
            }
        }
        return 1.0 - sum * 2.0 / std::f64::consts::PI.sqrt();
    }
    if x > 27.0 {
        return 0.0;
    }
    // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...))))
    let tiny = 1e-300;
    let mut f = x;
    let mut c = x;
    let mut d = 0.0;
    for k in 1..500 {
        let a = k as f64 / 2.0;
        d = x + a * d;
        if d.abs() < tiny {
            d = tiny;
        }
        c = x + a / c;
        if c.abs() < tiny {
            c = tiny;
        }
        d = 1.0 / d;
        let delta = c * d;
        f *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    (-x * x).exp() / std::f64::consts::PI.sqrt() / f
}

/// Inverse standard normal CDF (Acklam's rational approximation, refined
/// by two Newton steps on `norm_cdf`).
pub fn norm_inv_cdf(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383_577_518_672_69e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let plow = 0.02425;
    let mut x = if p < plow {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - plow {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    for _ in 0..2 {
        let e = norm_cdf(x) - p;
        let pdf = (-x * x / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
        if pdf > 0.0 {
            x -= e / pdf;
        }
    }
    x
}

/// Smallest two-sided p-value possible for two samples of size n each.
fn u_test_min_p(n: usize) -> f64 {
    // 2 / C(2n, n)
    2.0 / ln_choose(2 * n, n).exp()
}

/// Two-sided Mann-Whitney U test.
pub fn mann_whitney(x1: &[f64], x2: &[f64]) -> Comparison {
    let (n1, n2) = (x1.len(), x2.len());
    let mut cmp = Comparison {
        p: 1.0,
        n1,
        n2,
        alpha: ALPHA,
        warnings: Vec::new(),
    };
    match u_test_p(x1, x2) {
        Ok(p) => cmp.p = p,
        Err(e) => {
            cmp.warnings.push(e.to_string());
            return cmp;
        }
    }
    if cmp.p > cmp.alpha {
        let need = (1..=9).find(|&n| u_test_min_p(n) <= cmp.alpha);
        let (op, need) = match need {
            Some(n) => (">=", n),
            None => (">", 9),
        };
        if n1 < need && n2 < need {
            cmp.warnings.push(format!(
                "need {op} {need} samples to detect a difference at alpha level {}",
                cmp.alpha
            ));
        }
    }
    cmp
}

fn u_test_p(x1: &[f64], x2: &[f64]) -> Result<f64, &'static str> {
    let (n1, n2) = (x1.len(), x2.len());
    if n1 == 0 || n2 == 0 {
        return Err("sample is too small");
    }
    // Merge with labels; ties grouped.
    let mut all: Vec<(f64, u8)> = x1
        .iter()
        .map(|&v| (v, 1))
        .chain(x2.iter().map(|&v| (v, 2)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Tie groups: (size, count from sample 1). Twice the rank sum keeps
    // midranks integral.
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let mut two_r1: i64 = 0;
    let mut i = 0;
    while i < all.len() {
        let start = i;
        let mut c1 = 0;
        while i < all.len() && all[i].0 == all[start].0 {
            if all[i].1 == 1 {
                c1 += 1;
            }
            i += 1;
        }
        let two_midrank = (start + 1 + i) as i64; // (first+last) ranks, 1-based
        two_r1 += two_midrank * c1 as i64;
        groups.push((i - start, c1));
    }
    let has_ties = groups.iter().any(|g| g.0 > 1);
    let two_u1 = two_r1 - (n1 * (n1 + 1)) as i64;
    let two_u2 = 2 * (n1 * n2) as i64 - two_u1;
    let two_small = two_u1.min(two_u2);
    let exact = if has_ties {
        n1 <= 25 && n2 <= 25
    } else {
        n1 <= 50 && n2 <= 50
    };
    if exact {
        if groups.len() == 1 {
            return Err("all samples are equal");
        }
        if two_u1 == two_u2 {
            return Ok(1.0);
        }
        // With ties the mass at U itself can push 2*CDF past 1; a
        // p-value above 1 means nothing, so clamp (x/perf does not).
        return Ok((2.0 * exact_u_cdf(&groups, n1, two_small)).min(1.0));
    }
    let t: f64 = groups.iter().map(|&(s, _)| (s * s * s - s) as f64).sum();
    let nn = (n1 + n2) as f64;
    let mu = (n1 * n2) as f64 / 2.0;
    let sigma = ((n1 * n2) as f64 * ((nn + 1.0) - t / (nn * (nn - 1.0))) / 12.0).sqrt();
    if sigma == 0.0 || sigma.is_nan() {
        return Err("all samples are equal");
    }
    let mut numer = two_u1 as f64 / 2.0 - mu;
    if numer != 0.0 {
        numer -= numer.signum() * 0.5;
    }
    let z = numer / sigma;
    Ok(2.0 * norm_cdf(z).min(1.0 - norm_cdf(z)))
}

/// P(U1 <= two_u/2) under the null, given the tie structure. Counts the
/// ways to pick which members of each tie group belong to sample 1,
/// weighting each by the product of binomial coefficients.
fn exact_u_cdf(groups: &[(usize, usize)], n1: usize, two_u: i64) -> f64 {
    // dp[k][s] = number of ways with k items chosen and twice-rank-sum s.
    let n: usize = groups.iter().map(|g| g.0).sum();
    let max_s = 2 * n * (n + 1) / 2 + 2;
    let mut dp = vec![vec![0f64; max_s + 1]; n1 + 1];
    dp[0][0] = 1.0;
    let mut pos = 0usize;
    let mut reach = 0usize;
    for &(size, _) in groups {
        let two_mid = 2 * pos + 1 + size; // 2 * midrank
        let mut next = vec![vec![0f64; max_s + 1]; n1 + 1];
        for k in 0..=n1.min(pos) {
            for (s, &w) in dp[k].iter().enumerate().take(reach.min(max_s) + 1) {
                if w == 0.0 {
                    continue;
                }
                let mut choose = 1.0f64;
                for c in 0..=size.min(n1 - k) {
                    if c > 0 {
                        choose = choose * (size - c + 1) as f64 / c as f64;
                    }
                    let ns = s + c * two_mid;
                    if ns <= max_s {
                        next[k + c][ns] += w * choose;
                    }
                }
            }
        }
        dp = next;
        pos += size;
        reach += size.min(n1) * two_mid;
    }
    let total: f64 = dp[n1].iter().sum();
    let offset = (n1 * (n1 + 1)) as i64; // 2 * n1(n1+1)/2
    let below: f64 = dp[n1]
        .iter()
        .enumerate()
        .filter(|(s, _)| *s as i64 - offset <= two_u)
        .map(|(_, w)| *w)
        .sum();
    below / total
}

/// Geometric mean; NaN if empty or any value <= 0.
pub fn geomean(xs: &[f64]) -> f64 {
    if xs.is_empty() || xs.iter().any(|&x| x <= 0.0 || x.is_nan()) {
        return f64::NAN;
    }
    (xs.iter().map(|x| x.ln()).sum::<f64>() / xs.len() as f64).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_orders_match_binomial_table() {
        // n=5 cannot reach 95%; n=6 gives min..max.
        let (l, r) = median_ci_orders(5, 0.95);
        assert!(l < 1 || r > 5);
        assert_eq!(median_ci_orders(6, 0.95), (1, 6));
        assert_eq!(median_samples_needed(0.95), (">=", 6));
    }

    #[test]
    fn u_test_exact_values() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [6.0, 7.0, 8.0, 9.0, 10.0];
        let c = mann_whitney(&a, &b);
        assert!((c.p - 2.0 / 252.0).abs() < 1e-12);
        let same = mann_whitney(&[1.0, 1.0], &[1.0, 1.0]);
        assert_eq!(same.p, 1.0);
        assert_eq!(same.warnings, vec!["all samples are equal".to_string()]);
    }

    #[test]
    fn normal_helpers() {
        assert!((norm_cdf(0.0) - 0.5).abs() < 1e-15);
        assert!((norm_cdf(1.959963984540054) - 0.975).abs() < 1e-12);
        assert!((norm_inv_cdf(0.025) + 1.959963984540054).abs() < 1e-9);
        assert!((erfc(3.0) - 2.209049699858544e-05).abs() < 1e-15);
    }

    #[test]
    fn large_samples_use_normal_ci() {
        let (l, r) = median_ci_orders(100, 0.95);
        assert!(l > 30 && l < 50 && r > 50 && r < 70, "{l} {r}");
    }
}
