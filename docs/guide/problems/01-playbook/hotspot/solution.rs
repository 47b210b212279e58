// Problem 01-playbook/hotspot: a reference solution.

use std::collections::HashSet;

/// The distinct words of `text` in the order they first appear, and the number of words.
/// The profile's hot spot was `<[&str]>::contains`, a linear scan per word (quadratic in
/// all): a set answers "seen before?" in constant time, the vector keeps the order.
pub fn vocabulary(text: &str) -> (usize, Vec<&str>) {
    let mut words = 0;
    let mut seen = HashSet::new();
    let mut distinct: Vec<&str> = Vec::new();
    for w in text.split_whitespace() {
        words += 1;
        if seen.insert(w) {
            distinct.push(w);
        }
    }
    (words, distinct)
}
