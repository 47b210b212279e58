//! How many iterations the next round runs: Go's `B.launch` rule, on any clock.

use std::time::Duration;

/// Go's cap on `b.N`.
pub(crate) const MAX_N: i64 = 1_000_000_000;

/// The next round's `N` after a round of `prev_iters` iterations took `prev_ns`, when the
/// round before it ran `last` (Go 1.19 to 1.26 `B.launch`): multiply before dividing, add 20%,
/// grow at most 100x and at least by one, never more than 1e9.
pub(crate) fn predict_n(goal_ns: i64, prev_iters: i64, prev_ns: i64, last: i64) -> i64 {
    let prev_ns = prev_ns.max(1);
    // i128: Go's int64 product overflows for -benchtime above ~9s with N near 1e9.
    let mut n =
        (goal_ns as i128 * prev_iters as i128 / prev_ns as i128).min(i64::MAX as i128) as i64;
    n += n / 5;
    n = n.min(last.saturating_mul(100));
    n = n.max(last + 1);
    n.min(MAX_N)
}

/// Runs rounds until one lasts `goal`, as Go does after the first round of `N = 1`.
/// `first` is the duration of that first round; `run_n(n)` runs a round of `n` iterations and
/// returns its duration, or `None` if the benchmark failed. Returns the `N`s run, in order.
pub(crate) fn grow(
    goal: Duration,
    first: Duration,
    mut run_n: impl FnMut(i64) -> Option<Duration>,
) -> Vec<i64> {
    let goal_ns = goal.as_nanos().min(i64::MAX as u128) as i64;
    let mut rounds = Vec::new();
    let (mut prev_n, mut prev_d) = (1i64, first);
    let mut n = 1i64;
    while prev_d < goal && n < MAX_N {
        let last = n;
        let prev_ns = prev_d.as_nanos().min(i64::MAX as u128) as i64;
        n = predict_n(goal_ns, prev_n, prev_ns, last);
        rounds.push(n);
        match run_n(n) {
            Some(d) => (prev_n, prev_d) = (n, d),
            None => break,
        }
    }
    rounds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predictor_follows_go() {
        assert_eq!(predict_n(1_000_000_000, 1, 100, 1), 100); // 100x cap
        assert_eq!(
            predict_n(1_000_000_000, 1_000_000, 100_000_000, 1_000_000),
            12_000_000
        );
        assert_eq!(predict_n(1_000_000_000, 5, 0, 5), 500); // prev_ns 0 counts as 1
        assert_eq!(predict_n(1_000, 10, 10_000, 10), 11); // at least last + 1
        assert_eq!(
            predict_n(1_000_000_000, 1_000_000_000, 1, 500_000_000),
            MAX_N
        );
    }

    #[test]
    fn rounds_on_a_simulated_clock() {
        // 100 ns per op, goal 1s: 1 -> 100 -> 10^4 -> 10^6 -> 1.2e7 (1.2 s, done).
        let op = |n: i64| Some(Duration::from_nanos(100 * n as u64));
        let rounds = grow(Duration::from_secs(1), op(1).unwrap(), op);
        assert_eq!(rounds, vec![100, 10_000, 1_000_000, 12_000_000]);

        // 3 ms per op, goal 1s: 1 -> 100 (300 ms) -> 399 (1.197 s).
        let op = |n: i64| Some(Duration::from_millis(3 * n as u64));
        let rounds = grow(Duration::from_secs(1), op(1).unwrap(), op);
        assert_eq!(rounds, vec![100, 399]);

        // A first round longer than the goal stops at N = 1.
        let rounds = grow(Duration::from_millis(1), Duration::from_millis(2), |_| None);
        assert!(rounds.is_empty());

        // Free operations stop at the 1e9 cap.
        let rounds = grow(Duration::from_secs(1), Duration::ZERO, |_| {
            Some(Duration::ZERO)
        });
        assert_eq!(rounds, vec![100, 10_000, 1_000_000, 100_000_000, MAX_N]);
    }
}
