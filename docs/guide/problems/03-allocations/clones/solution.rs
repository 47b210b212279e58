// Problem 03-allocations/clones: a reference solution.

/// The total length of the words that `queries` pick out of `words`. Borrowing reads the
/// words where they are; each `clone` of the vector copied every string (one allocation per
/// word, plus the vector's buffer), and the word's clone one more. Taking `&[String]`
/// instead of `&Vec<String>` is the idiom (clippy's `ptr_arg`).
pub fn picked_len(words: &[String], queries: &[usize]) -> usize {
    queries.iter().map(|&q| words[q].len()).sum()
}
