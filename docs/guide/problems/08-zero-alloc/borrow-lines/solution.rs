// Problem 08-zero-alloc/borrow-lines: a reference solution.

/// The sum of the values of `input`, lines of `name=value` (value: a decimal u64). Lines
/// without `=` and values that do not parse are skipped.
///
/// Everything is a borrowed slice of `input`: the lines, the name, the value. Nothing is
/// copied, so nothing is allocated (Go: `bytes.IndexByte` and `strconv.ParseUint` on a
/// sub-slice, or a `bufio.Scanner`'s `Bytes()` instead of `Text()`).
pub fn sum_values(input: &[u8]) -> u64 {
    let mut sum = 0;
    for line in input.split(|&b| b == b'\n') {
        let Some(eq) = line.iter().position(|&b| b == b'=') else {
            continue;
        };
        let value = line[eq + 1..].trim_ascii();
        if value.contains(&b'=') {
            continue; // more than one `=`: not a name=value line
        }
        if let Some(v) = parse_u64(value) {
            sum += v;
        }
    }
    sum
}

/// A decimal u64 from ASCII digits, without going through `str` (None: empty, not a digit, or
/// too large).
fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}
