//! Parsing gctrace lines (Go 1.19 form, older forms tolerated).
//!
//! ```text
//! gc N @T.TTTs P%: A+B+C ms clock, D+E/F/G+H ms cpu, X->Y->Z MB, W MB goal, S MB stacks, L MB globals, K P [(forced)]
//! ```
//! Go prints heap sizes in MiB but labels them `MB`; we keep MiB. The
//! `stacks` and `globals` fields appeared in Go 1.18 and are optional
//! here. Any line that does not have this shape is ignored (programs mix
//! their own output into stderr), and a line may carry a prefix (a log
//! timestamp) before `gc N @`.

/// One GC cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct Cycle {
    pub n: u64,
    /// Seconds since program start.
    pub t: f64,
    /// Percent of CPU time spent in GC since start (as printed).
    pub pct: f64,
    /// Wall ms: STW sweep termination, concurrent mark, STW mark termination.
    pub clock: [f64; 3],
    /// CPU ms: STW sweep term, assist, background, idle, STW mark term.
    pub cpu: [f64; 5],
    /// Heap MiB at GC start, at GC end, live (marked).
    pub heap: [f64; 3],
    pub goal: f64,
    pub stacks: Option<f64>,
    pub globals: Option<f64>,
    pub procs: u32,
    pub forced: bool,
}

/// Everything parsed from a trace.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    pub cycles: Vec<Cycle>,
    /// Lines that started like gctrace (`gc N @`) but did not parse.
    pub malformed: usize,
    /// How many separate traces (cycle numbering restarts) were seen.
    pub runs: usize,
    /// The first line whose numbers cannot be (negative sizes or times,
    /// more than 100% CPU, sizes past a petabyte), as `line N: why`.
    /// Such lines are left out of `cycles`.
    pub out_of_range: Option<String>,
}

/// Parses a whole text; never fails. When cycle numbers restart (the
/// traces of several processes mixed in one stream, e.g. `go test` and
/// the `go` command itself), the longest run of cycles is kept.
pub fn parse(text: &str) -> Trace {
    let mut t = Trace::default();
    let mut runs: Vec<Vec<Cycle>> = vec![Vec::new()];
    for (lineno, line) in text.lines().enumerate() {
        let Some(pos) = find_start(line) else {
            continue;
        };
        match parse_line(&line[pos..]) {
            Some(c) if c.check().is_err() => {
                if t.out_of_range.is_none() {
                    let why = c.check().err().unwrap_or_default();
                    t.out_of_range = Some(format!("line {}: {why}", lineno + 1));
                }
            }
            Some(c) => {
                let cur = runs.last_mut().expect("non-empty");
                if cur.last().is_some_and(|p| c.n <= p.n) {
                    runs.push(vec![c]);
                } else {
                    cur.push(c);
                }
            }
            None => t.malformed += 1,
        }
    }
    t.runs = runs.iter().filter(|r| !r.is_empty()).count();
    let mut best = 0;
    for (i, r) in runs.iter().enumerate() {
        if r.len() > runs[best].len() {
            best = i;
        }
    }
    t.cycles = runs.swap_remove(best);
    t
}

/// Byte offset where a gctrace line (`gc N @`) starts within `line`.
pub fn find_start(line: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = line[from..].find("gc ") {
        let at = from + i;
        let rest = &line[at + 3..];
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits > 0 && rest[digits..].starts_with(" @") {
            return Some(at);
        }
        from = at + 3;
    }
    None
}

fn nums<const N: usize>(s: &str, seps: &[char]) -> Option<[f64; N]> {
    let parts: Vec<&str> = s.split(|c| seps.contains(&c)).collect();
    if parts.len() != N {
        return None;
    }
    let mut out = [0.0f64; N];
    for (o, p) in out.iter_mut().zip(parts) {
        *o = p.trim().parse().ok()?;
        if !o.is_finite() {
            return None;
        }
    }
    Some(out)
}

/// Parses one line that starts at `gc `.
pub fn parse_line(line: &str) -> Option<Cycle> {
    let line = line.trim_end();
    let (line, forced) = match line.strip_suffix("(forced)") {
        Some(l) => (l.trim_end(), true),
        None => (line, false),
    };
    let rest = line.strip_prefix("gc ")?;
    let (n, rest) = rest.split_once(" @")?;
    let n: u64 = n.parse().ok()?;
    let (t, rest) = rest.split_once("s ")?;
    let t: f64 = t.parse().ok()?;
    let (pct, rest) = rest.split_once("%: ")?;
    let pct: f64 = pct.parse().ok()?;
    let mut fields = rest.split(", ");
    let clock = fields.next()?.strip_suffix(" ms clock")?;
    let clock = nums::<3>(clock, &['+'])?;
    let cpu = fields.next()?.strip_suffix(" ms cpu")?;
    let cpu = nums::<5>(cpu, &['+', '/'])?;
    let heap = fields.next()?.strip_suffix(" MB")?;
    let heap = nums::<3>(&heap.replace("->", ">"), &['>'])?;
    let goal: f64 = fields.next()?.strip_suffix(" MB goal")?.parse().ok()?;
    let mut c = Cycle {
        n,
        t,
        pct,
        clock,
        cpu,
        heap,
        goal,
        stacks: None,
        globals: None,
        procs: 0,
        forced,
    };
    for f in fields {
        if let Some(v) = f.strip_suffix(" MB stacks") {
            c.stacks = Some(v.parse().ok()?);
        } else if let Some(v) = f.strip_suffix(" MB globals") {
            c.globals = Some(v.parse().ok()?);
        } else if let Some(v) = f.strip_suffix(" P") {
            c.procs = v.trim().parse().ok()?;
        } else {
            return None;
        }
    }
    if c.procs == 0 || !c.t.is_finite() || !c.pct.is_finite() || !c.goal.is_finite() {
        return None;
    }
    Some(c)
}

/// Largest heap size accepted, in MiB (a petabyte).
pub const MAX_MIB: f64 = 1e9;
/// Longest time accepted: program seconds and phase milliseconds (31 years).
pub const MAX_SECONDS: f64 = 1e9;
/// Largest GOMAXPROCS accepted.
pub const MAX_PROCS: u32 = 1 << 20;

fn in_range(what: &str, v: f64, max: f64, unit: &str) -> Result<(), String> {
    if (0.0..=max).contains(&v) {
        Ok(())
    } else {
        Err(format!(
            "{what} {v} {unit} is out of range (0 to {max:e} {unit})"
        ))
    }
}

impl Cycle {
    /// Checks that every number could come from Go: no negative sizes or
    /// times, at most 100% CPU, nothing absurdly large.
    pub fn check(&self) -> Result<(), String> {
        in_range("time", self.t, MAX_SECONDS, "s")?;
        in_range("GC CPU", self.pct, 100.0, "%")?;
        for v in self.clock {
            in_range("clock time", v, MAX_SECONDS * 1e3, "ms")?;
        }
        for v in self.cpu {
            in_range("CPU time", v, MAX_SECONDS * 1e3, "ms")?;
        }
        for v in self.heap {
            in_range("heap size", v, MAX_MIB, "MB")?;
        }
        in_range("heap goal", self.goal, MAX_MIB, "MB")?;
        for v in [self.stacks, self.globals].into_iter().flatten() {
            in_range("root size", v, MAX_MIB, "MB")?;
        }
        if self.procs > MAX_PROCS {
            return Err(format!(
                "{} P is out of range (at most {MAX_PROCS})",
                self.procs
            ));
        }
        Ok(())
    }

    /// STW pauses of this cycle in wall ms: sweep termination, mark termination.
    pub fn pauses(&self) -> [f64; 2] {
        [self.clock[0], self.clock[2]]
    }
    /// GC CPU ms counted the way Go's P% counts it (idle marking excluded).
    pub fn gc_cpu_ms(&self) -> f64 {
        self.cpu[0] + self.cpu[1] + self.cpu[2] + self.cpu[4]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_119_line() {
        let l = "gc 2 @0.029s 10%: 0.016+10+0.032 ms clock, 0.033+1.3/3.3/7.2+0.064 ms cpu, 7->9->5 MB, 8 MB goal, 0 MB stacks, 0 MB globals, 2 P";
        let c = parse_line(l).expect("parses");
        assert_eq!(c.n, 2);
        assert_eq!(c.clock, [0.016, 10.0, 0.032]);
        assert_eq!(c.cpu, [0.033, 1.3, 3.3, 7.2, 0.064]);
        assert_eq!(c.heap, [7.0, 9.0, 5.0]);
        assert_eq!(c.goal, 8.0);
        assert_eq!(c.procs, 2);
        assert!(!c.forced);
    }

    #[test]
    fn forced_and_old_form() {
        let l = "gc 7 @1.5s 3%: 0.1+2+0.2 ms clock, 0.2+0.1/1/2+0.4 ms cpu, 4->4->1 MB, 5 MB goal, 8 P (forced)";
        let c = parse_line(l).expect("parses");
        assert!(c.forced);
        assert_eq!(c.stacks, None);
        let t = parse(&format!("hello\n2024/01/01 {l}\ngc 1 @x\n"));
        assert_eq!(t.cycles.len(), 1);
        assert_eq!(t.malformed, 1);
    }
}
