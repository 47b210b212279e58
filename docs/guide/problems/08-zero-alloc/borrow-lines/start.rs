// Problem 08-zero-alloc/borrow-lines: the start. Edit this file; `cargo run -p gort-guide --
// check borrow-lines` counts the allocations of one call of `sum_values` on 100 lines.

/// The sum of the values of `input`, lines of `name=value` (value: a decimal u64) as they come
/// from a file or a socket: bytes, not yet checked to be UTF-8. Lines without `=` and values
/// that do not parse are skipped.
pub fn sum_values(input: &[u8]) -> u64 {
    let text = String::from_utf8(input.to_vec()).unwrap_or_default();
    let lines: Vec<String> = text.lines().map(String::from).collect();
    let mut sum = 0;
    for line in lines {
        let parts: Vec<String> = line.split('=').map(|s| s.to_string()).collect();
        if parts.len() == 2 {
            if let Ok(v) = parts[1].trim().parse::<u64>() {
                sum += v;
            }
        }
    }
    sum
}
