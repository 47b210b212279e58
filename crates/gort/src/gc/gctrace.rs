//! The `GODEBUG=gctrace=1` line, in Go 1.19's exact format (runtime/mgc.go, gcMarkTermination):
//!
//! `gc N @T.TTTs P%: A+B+C ms clock, D+E/F/G+H ms cpu, X->Y->Z MB, W MB goal, S MB stacks, L MB globals, K P`
//! and ` (forced)` for a cycle started by `gort::gc()`.
//!
//! Each field as Go defines it (`collect.rs` fills them):
//! * N: the cycle's number (`memstats.numgc`); T: the start of sweep termination (before the
//!   world stops) since the process started; P: GC CPU time over all CPU time so far, as a
//!   truncated percentage (`gc_cpu_fraction`).
//! * A, B, C (wall): sweep termination STW, concurrent mark, mark termination STW. They
//!   partition the cycle: B runs to the start of the final mark termination, so gort's earlier
//!   mark-termination rounds (Go's gcMarkDone flushes, not stop-the-world in Go) are in B.
//! * D, H (CPU): A and C times `stwprocs`, GOMAXPROCS capped at the CPU count; E: assist time;
//!   F: background (dedicated and fractional) mark time; G: idle mark time.
//! * X, Y, Z: the heap (Go's heapLive) when the cycle started and when mark termination began,
//!   and the marked (live) heap.
//!
//! `gctrace=2` prints the same line but also repeats each collection inside mark termination
//! (`collect::repeat`): C and H then include the repeated sweep and stop-the-world mark, and
//! Z is what the repeated mark found live.
//! * W: the goal this cycle ran against (Go 1.19's `work.heapGoal`, 1.20+'s `lastHeapGoal`):
//!   paced after the previous cycle, or by a knob changed since, and at least 64 KiB past X.
//!   Not the goal paced for the next cycle (that is `MemStats::next_gc`).
//! * S, L: scannable stacks and globals; always 0 (gort's roots are heap objects, counted in
//!   the heap). K: GOMAXPROCS as the collector takes it (`gc::procs`: one runtime's
//!   GOMAXPROCS whichever thread collects; several runtimes' Ps summed, capped at the CPU
//!   count; the CPU count when no runtime is live).

/// One cycle's figures (durations in ns, sizes in bytes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Cycle {
    pub n: u64,
    /// Start of the cycle, since the process started.
    pub start_ns: u64,
    /// Percent of CPU time spent in GC since the process started (truncated).
    pub cpu_pct: u64,
    /// Wall time: sweep termination (STW), concurrent mark, mark termination (STW).
    pub clock: [u64; 3],
    /// CPU time: sweep termination, assist, background, idle mark, mark termination.
    pub cpu: [u64; 5],
    pub heap0: u64,
    pub heap1: u64,
    pub heap2: u64,
    /// The goal the cycle ran against.
    pub goal: u64,
    pub stacks: u64,
    pub globals: u64,
    pub procs: usize,
    pub forced: bool,
}

/// Go's itoaDiv: `val` with a decimal point `dec` digits from the right.
fn itoa_div(val: u64, dec: u32) -> String {
    let s = val.to_string();
    if dec == 0 {
        return s;
    }
    let dec = dec as usize;
    let s = format!("{:0>width$}", s, width = dec + 1);
    format!("{}.{}", &s[..s.len() - dec], &s[s.len() - dec..])
}

/// Go's fmtNSAsMS: whole milliseconds from 10 ms, else two significant digits, at most three
/// decimals.
pub(crate) fn fmt_ns_as_ms(ns: u64) -> String {
    if ns >= 10_000_000 {
        return itoa_div(ns / 1_000_000, 0);
    }
    let mut x = ns / 1000;
    if x == 0 {
        return "0".into();
    }
    let mut dec = 3;
    while x >= 100 {
        x /= 10;
        dec -= 1;
    }
    itoa_div(x, dec)
}

impl Cycle {
    /// The line, without a newline.
    pub(crate) fn line(&self) -> String {
        let ms = fmt_ns_as_ms;
        let mut s = format!(
            "gc {} @{}s {}%: {}+{}+{} ms clock, {}+{}/{}/{}+{} ms cpu, {}->{}->{} MB, {} MB goal, {} MB stacks, {} MB globals, {} P",
            self.n,
            itoa_div(self.start_ns / 1_000_000, 3),
            self.cpu_pct,
            ms(self.clock[0]),
            ms(self.clock[1]),
            ms(self.clock[2]),
            ms(self.cpu[0]),
            ms(self.cpu[1]),
            ms(self.cpu[2]),
            ms(self.cpu[3]),
            ms(self.cpu[4]),
            self.heap0 >> 20,
            self.heap1 >> 20,
            self.heap2 >> 20,
            self.goal >> 20,
            self.stacks >> 20,
            self.globals >> 20,
            self.procs
        );
        if self.forced {
            s.push_str(" (forced)");
        }
        s
    }
}

/// Writes one line of the collector's output (a gctrace line, a fatal error) to stderr and
/// ignores failure, as Go's runtime `print` does. `eprintln!` panics when stderr is closed or
/// full (`prog 2>&1 | head -3`), and a panic on the collector thread killed it mid-cycle: the
/// mark never ended and every allocating thread assisted forever, silently
/// (`tests/gc_trace.rs`: `gctrace_into_a_closed_pipe_does_not_hang`).
pub(crate) fn print_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{args}");
}

/// `eprintln!` for the collector's modules, through [`print_line`].
macro_rules! gc_eprintln {
    ($($arg:tt)*) => {
        $crate::gc::gctrace::print_line(format_args!($($arg)*))
    };
}
pub(crate) use gc_eprintln;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ms_formatting_matches_go() {
        assert_eq!(fmt_ns_as_ms(0), "0");
        assert_eq!(fmt_ns_as_ms(999), "0");
        assert_eq!(fmt_ns_as_ms(20_000), "0.020");
        assert_eq!(fmt_ns_as_ms(7_100_000), "7.1");
        assert_eq!(fmt_ns_as_ms(300_000), "0.30");
        assert_eq!(fmt_ns_as_ms(2_900_000), "2.9");
        assert_eq!(fmt_ns_as_ms(10_400_000), "10");
        assert_eq!(fmt_ns_as_ms(123_456_789), "123");
        assert_eq!(itoa_div(14, 3), "0.014");
        assert_eq!(itoa_div(1234, 3), "1.234");
    }

    #[test]
    fn line_matches_go_fixture() {
        // The first line of fixtures/go1.19/gctrace-binarytrees.txt, rebuilt from its figures.
        let c = Cycle {
            n: 1,
            start_ns: 14_000_000,
            cpu_pct: 7,
            clock: [20_000, 7_100_000, 33_000],
            cpu: [41_000, 300_000, 2_900_000, 4_900_000, 67_000],
            heap0: 3 << 20,
            heap1: 4 << 20,
            heap2: 4 << 20,
            goal: 4 << 20,
            stacks: 0,
            globals: 0,
            procs: 2,
            forced: false,
        };
        assert_eq!(
            c.line(),
            "gc 1 @0.014s 7%: 0.020+7.1+0.033 ms clock, 0.041+0.30/2.9/4.9+0.067 ms cpu, 3->4->4 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P"
        );
        let f = Cycle { forced: true, ..c };
        assert!(f.line().ends_with(" 2 P (forced)"));
    }
}
