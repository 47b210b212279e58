//! The measurement playbook's worked example (README, "The playbook, worked"): rendering a
//! report of 64 rows as text, the way code is often first written: every field formatted
//! into its own `String`, every line collected into a `Vec`, the lines joined at the end.
//! Dozens of allocations per report.
//!
//! `PLAYBOOK_FIX=1` runs the fixed version under the same benchmark name (so that benchstat
//! pairs the two runs): one output buffer, reused across calls, written with `write!`.
//!
//! ```text
//! cargo bench -p gort --bench playbook -- -bench . -benchmem -count 6 > old.txt
//! PLAYBOOK_FIX=1 cargo bench -p gort --bench playbook -- -bench . -benchmem -count 6 > new.txt
//! gort benchstat old.txt new.txt
//! ```

use std::fmt::Write as _;
use std::hint::black_box;

use gort::testing::B;

#[global_allocator]
static A: gort::alloc::CountingAlloc = gort::alloc::CountingAlloc::system();

struct Row {
    id: u32,
    name: &'static str,
    latency_us: u32,
    ok: bool,
}

fn rows() -> Vec<Row> {
    const NAMES: [&str; 4] = ["alpha", "bravo", "charlie", "delta"];
    (0..64)
        .map(|i| Row {
            id: i,
            name: NAMES[i as usize % 4],
            latency_us: 10 + i * 3,
            ok: i % 7 != 0,
        })
        .collect()
}

/// The slow version: a `String` per field, a `Vec` per line, a `Vec` of lines, a join.
#[inline(never)]
fn render_slow(rows: &[Row]) -> String {
    let mut lines: Vec<String> = Vec::new();
    for r in rows {
        let fields: Vec<String> = vec![
            r.id.to_string(),
            r.name.to_uppercase(),
            format!("{}us", r.latency_us),
            if r.ok {
                "ok".to_string()
            } else {
                "FAIL".to_string()
            },
        ];
        lines.push(fields.join("\t"));
    }
    lines.join("\n")
}

/// The fixed version: everything written into one reused buffer.
#[inline(never)]
fn render_fast(rows: &[Row], out: &mut String) {
    out.clear();
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = write!(out, "{}\t", r.id);
        for c in r.name.chars() {
            out.push(c.to_ascii_uppercase());
        }
        let _ = write!(
            out,
            "\t{:.2}us\t{}",
            r.latency_us,
            if r.ok { "ok" } else { "FAIL" }
        );
    }
}

/// One report rendered per op.
fn bench_render(b: &mut B) {
    let rows = rows();
    let fixed = std::env::var_os("PLAYBOOK_FIX").is_some_and(|v| v == "1");
    let mut buf = String::new();
    b.reset_timer();
    if fixed {
        for _ in b.iter() {
            render_fast(black_box(&rows), &mut buf);
            black_box(&buf);
        }
    } else {
        for _ in b.iter() {
            black_box(render_slow(black_box(&rows)));
        }
    }
}

gort::benchmarks!(bench_render);
