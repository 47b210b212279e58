// Problem 03-allocations/format: the start. Edit this file; `cargo run -p gort-guide -- check
// format` measures it. `render` must produce the same text with no allocation per call once
// `out` has grown to size.

/// Writes one `id=value;` record per reading into `out` (cleared first), the value with two
/// decimals: `render(&mut s, &[(7, 1.5)])` leaves `7=1.50;` in `s`.
pub fn render(out: &mut String, readings: &[(u32, f64)]) {
    out.clear();
    for &(id, value) in readings {
        out.push_str(&format!("{id}={value:.2};"));
    }
}
