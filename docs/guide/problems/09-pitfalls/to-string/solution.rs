// Problem 09-pitfalls/to-string: a reference solution.

use std::collections::HashSet;

/// How many of `names` (trimmed of surrounding whitespace) are in `known`.
///
/// `trim` returns a sub-slice (no copy), and `HashSet<String>::contains` takes any `&Q` with
/// `String: Borrow<Q>`, so a `&str` looks up a `String` key directly: the hash and the
/// comparison are the same for both. (Go: `m[string(b)]` with `b []byte` does not allocate
/// either; the compiler recognises the pattern.)
pub fn count_known(names: &[&str], known: &HashSet<String>) -> usize {
    names.iter().filter(|n| known.contains(n.trim())).count()
}
