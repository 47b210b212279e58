// Problem 03-allocations/clones: the start. Edit this file; `cargo run -p gort-guide -- check
// clones` measures it. Same result, no allocation per call.

/// The total length of the words that `queries` pick out of `words` (an index per query).
pub fn picked_len(words: &Vec<String>, queries: &[usize]) -> usize {
    let mut total = 0;
    for &q in queries {
        let list = words.clone();
        let w = list[q].clone();
        total += w.len();
    }
    total
}
