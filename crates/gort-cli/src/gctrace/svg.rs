//! `--svg`: a self-contained SVG chart of a gctrace.
//!
//! Top panel: heap at GC start, at GC end, live heap and heap goal (MiB)
//! against time since program start. Bottom panel: each cycle's
//! stop-the-world pause (A + C, ms) as a bar at its start time. Plain SVG
//! with no scripts, so it opens anywhere.

use super::parse::Trace;
use std::fmt::Write as _;

const W: f64 = 900.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 20.0;
const HEAP_TOP: f64 = 40.0;
const HEAP_H: f64 = 260.0;
const PAUSE_TOP: f64 = 350.0;
const PAUSE_H: f64 = 120.0;

/// A plotted line: name, colour, value of a cycle.
type Series = (&'static str, &'static str, fn(&super::parse::Cycle) -> f64);

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Renders the chart.
pub fn render(t: &Trace) -> String {
    let cs = &t.cycles;
    let tmax = cs.iter().map(|c| c.t).fold(0.0, f64::max).max(1e-9);
    let hmax = cs
        .iter()
        .map(|c| c.heap[0].max(c.heap[1]).max(c.goal))
        .fold(0.0, f64::max)
        .max(1.0);
    let pmax = cs
        .iter()
        .map(|c| c.clock[0] + c.clock[2])
        .fold(0.0, f64::max)
        .max(1e-6);
    let x = |tt: f64| LEFT + (W - LEFT - RIGHT) * tt / tmax;
    let yh = |v: f64| HEAP_TOP + HEAP_H * (1.0 - v / hmax);
    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="520" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(o, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        o,
        r#"<text x="{LEFT}" y="22" font-size="15">{}</text>"#,
        esc(&format!("GC trace: {} cycles over {:.3}s", cs.len(), tmax))
    );
    // Axes and labels.
    for (top, h, label, max) in [
        (HEAP_TOP, HEAP_H, "heap MiB", hmax),
        (PAUSE_TOP, PAUSE_H, "STW pause ms", pmax),
    ] {
        let _ = writeln!(
            o,
            r##"<line x1="{LEFT}" y1="{top}" x2="{LEFT}" y2="{}" stroke="#333"/><line x1="{LEFT}" y1="{}" x2="{}" y2="{}" stroke="#333"/>"##,
            top + h,
            top + h,
            W - RIGHT,
            top + h
        );
        let _ = writeln!(
            o,
            r#"<text x="5" y="{}">{}</text><text x="5" y="{}">{:.3}</text><text x="5" y="{}">0</text>"#,
            top - 6.0,
            label,
            top + 12.0,
            max,
            top + h
        );
    }
    let _ = writeln!(
        o,
        r#"<text x="{}" y="{}" text-anchor="end">{:.3}s</text>"#,
        W - RIGHT,
        PAUSE_TOP + PAUSE_H + 16.0,
        tmax
    );
    let series: [Series; 4] = [
        ("goal", "#d62728", |c| c.goal),
        ("heap at start", "#ff7f0e", |c| c.heap[0]),
        ("heap at end", "#1f77b4", |c| c.heap[1]),
        ("live", "#2ca02c", |c| c.heap[2]),
    ];
    for (i, (name, color, f)) in series.iter().enumerate() {
        let pts: Vec<String> = cs
            .iter()
            .map(|c| format!("{:.1},{:.1}", x(c.t), yh(f(c))))
            .collect();
        let _ = writeln!(
            o,
            r#"<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{}"/>"#,
            pts.join(" ")
        );
        let lx = LEFT + 10.0 + 130.0 * i as f64;
        let _ = writeln!(
            o,
            r#"<rect x="{lx}" y="{}" width="12" height="4" fill="{color}"/><text x="{}" y="{}">{name}</text>"#,
            HEAP_TOP + HEAP_H + 22.0,
            lx + 16.0,
            HEAP_TOP + HEAP_H + 27.0
        );
    }
    let bw = ((W - LEFT - RIGHT) / cs.len().max(1) as f64 * 0.6).clamp(1.0, 8.0);
    for c in cs {
        let p = c.clock[0] + c.clock[2];
        let h = PAUSE_H * p / pmax;
        let _ = writeln!(
            o,
            r##"<rect x="{:.1}" y="{:.1}" width="{bw:.1}" height="{h:.1}" fill="#9467bd"><title>gc {} @{}s: {} ms</title></rect>"##,
            x(c.t) - bw / 2.0,
            PAUSE_TOP + PAUSE_H - h,
            c.n,
            c.t,
            p
        );
    }
    o.push_str("</svg>\n");
    o
}
