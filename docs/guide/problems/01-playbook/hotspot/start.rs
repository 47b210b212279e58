// Problem 01-playbook/hotspot: the start. Edit this file; `cargo run -p gort-guide -- check
// hotspot` measures it. It must give the same result at least 3 times faster.

/// The distinct words of `text` in the order they first appear, and the number of words.
pub fn vocabulary(text: &str) -> (usize, Vec<&str>) {
    let mut words = 0;
    let mut distinct: Vec<&str> = Vec::new();
    for w in text.split_whitespace() {
        words += 1;
        if !distinct.contains(&w) {
            distinct.push(w);
        }
    }
    (words, distinct)
}
