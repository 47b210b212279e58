// Problem 09-pitfalls/format-hot: a reference solution.

use std::fmt::Write;

/// Replaces the contents of `out` with one line per row: `id:value` with the value to 2
/// decimals, then `\n`.
///
/// `writeln!` formats straight into `out` (`String` implements `fmt::Write`): no temporary
/// `String` per line, and no `to_string` of the id (`{}` formats the integer itself, from a
/// stack buffer). Once `out` has grown to its size, a call allocates nothing. (Go: `fmt.Fprintf`
/// to a reused `bytes.Buffer`, or better `strconv.AppendUint` and `strconv.AppendFloat` into a
/// reused `[]byte`, which skip fmt's interface boxing of the arguments.)
pub fn render(rows: &[(u32, f64)], out: &mut String) {
    out.clear();
    for &(id, value) in rows {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "{id}:{value:.2}");
    }
}
