// Problem 03-allocations/format: a reference solution.

use std::fmt::Write;

/// Writes one `id=value;` record per reading into `out` (cleared first). `write!` formats
/// straight into the caller's buffer; `format!` built a new `String` per record and threw it
/// away (Go: `fmt.Sprintf` per record vs `strconv.AppendInt`/`fmt.Fprintf` into one buffer).
pub fn render(out: &mut String, readings: &[(u32, f64)]) {
    out.clear();
    for &(id, value) in readings {
        // Writing to a String cannot fail.
        let _ = write!(out, "{id}={value:.2};");
    }
}
