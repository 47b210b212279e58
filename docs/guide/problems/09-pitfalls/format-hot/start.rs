// Problem 09-pitfalls/format-hot: the start. Edit this file; `cargo run -p gort-guide -- check
// format-hot` counts the allocations of one call of `render` on 100 rows, with an output
// string that the caller reuses from call to call.

/// Replaces the contents of `out` with one line per row: `id:value` with the value to 2
/// decimals, then `\n`.
pub fn render(rows: &[(u32, f64)], out: &mut String) {
    out.clear();
    for &(id, value) in rows {
        let id = id.to_string();
        let line = format!("{}:{:.2}\n", id, value);
        out.push_str(&line);
    }
}
