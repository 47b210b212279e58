// Problem 09-pitfalls/to-string: the start. Edit this file; `cargo run -p gort-guide -- check
// to-string` counts the allocations of one call of `count_known` on 100 names.

use std::collections::HashSet;

/// How many of `names` (trimmed of surrounding whitespace) are in `known`.
pub fn count_known(names: &[&str], known: &HashSet<String>) -> usize {
    let mut n = 0;
    for name in names {
        let owned: String = name.to_string();
        let trimmed: String = owned.trim().to_string();
        if known.contains(&trimmed) {
            n += 1;
        }
    }
    n
}
