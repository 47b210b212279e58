//! The in-memory profile every kind is built into, its encoding as a gzip-compressed
//! `perftools.profiles.Profile`, and Go's legacy text form (`debug=1`).

use std::collections::HashMap;
use std::io::{self, Write};

use super::proto::Msg;
use super::symbolize::Mappings;

/// One line of a frame: a function, and where in it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Line {
    /// Demangled function name without the hash suffix (`my_crate::work`).
    pub function: String,
    /// Source file, or `""` when unknown.
    pub file: String,
    /// Line number, or 0 when unknown.
    pub line: u32,
}

/// One stack frame: an address and the function(s) at it, innermost inlined function first.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Frame {
    /// The address looked up (a return address minus one for callers); 0 for frames that are
    /// not code addresses (goroutine profiles' park and creation sites).
    pub addr: u64,
    /// The functions at `addr`, innermost first; empty when no symbol was found.
    pub lines: Vec<Line>,
}

impl Frame {
    /// The outermost function name at this frame (the one a caller sees), or `"?"`.
    pub fn function(&self) -> &str {
        self.lines.last().map_or("?", |l| l.function.as_str())
    }

    /// Whether any function at this frame (inlined or not) has a name containing `s`.
    pub fn mentions(&self, s: &str) -> bool {
        self.lines.iter().any(|l| l.function.contains(s))
    }
}

/// A label value: a string or a number with an optional unit.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LabelValue {
    /// `key=value` (pprof's `str`).
    Str(String),
    /// `key=num` (pprof's `num`, with `num_unit`).
    Num(i64, String),
}

/// One sample: a stack, one value per sample type, and labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Frames, leaf first.
    pub stack: Vec<Frame>,
    /// One value per [`Profile::sample_types`] entry.
    pub values: Vec<i64>,
    /// Labels (`goroutine` id for CPU samples, user labels from `with_labels`).
    pub labels: Vec<(String, LabelValue)>,
}

impl Sample {
    /// Whether any frame of the stack mentions `function` (a substring of its name).
    pub fn has_function(&self, function: &str) -> bool {
        self.stack.iter().any(|f| f.mentions(function))
    }
}

/// A profile in pprof's data model, symbolized.
#[derive(Clone, Debug, Default)]
pub struct Profile {
    /// `(type, unit)` of each value of a sample, e.g. `("alloc_space", "bytes")`.
    pub sample_types: Vec<(String, String)>,
    /// The sample type `go tool pprof` shows by default (`""`: the last one).
    pub default_sample_type: String,
    /// `(type, unit)` of the sampling period.
    pub period_type: (String, String),
    /// The sampling period, in `period_type` units.
    pub period: i64,
    /// When collection started, ns since the Unix epoch.
    pub time_nanos: i64,
    /// How long collection ran (CPU profiles).
    pub duration_nanos: i64,
    /// The samples.
    pub samples: Vec<Sample>,
    /// Free-form comments.
    pub comments: Vec<String>,
}

impl Profile {
    /// Index of sample type `name`.
    pub fn value_index(&self, name: &str) -> Option<usize> {
        self.sample_types.iter().position(|(t, _)| t == name)
    }

    /// Sum of value `name` over all samples.
    pub fn total(&self, name: &str) -> i64 {
        let Some(i) = self.value_index(name) else {
            return 0;
        };
        self.samples.iter().map(|s| s.values[i]).sum()
    }

    /// Sum of value `name` over the samples whose stack mentions `function`.
    pub fn total_with(&self, name: &str, function: &str) -> i64 {
        let Some(i) = self.value_index(name) else {
            return 0;
        };
        self.samples
            .iter()
            .filter(|s| s.has_function(function))
            .map(|s| s.values[i])
            .sum()
    }

    /// The profile as an uncompressed `perftools.profiles.Profile` message.
    pub fn encode(&self) -> Vec<u8> {
        Encoder::default().encode(self)
    }

    /// Writes the gzip-compressed message (the `.pb.gz` format `go tool pprof` reads).
    /// From a goroutine, the compression runs on the blocking pool: the deflate state is
    /// built on the stack in debug builds, larger than a goroutine stack.
    pub fn write_to(&self, mut w: impl Write) -> io::Result<()> {
        let raw = self.encode();
        let gz = super::api::off_goroutine(move || {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(&raw)?;
            gz.finish()
        })?;
        w.write_all(&gz)?;
        w.flush()
    }

    /// Writes Go's legacy text form: a header, then per sample its values, `@` and the
    /// addresses, and one `#\taddr\tfunction\tfile:line` line per frame.
    pub fn write_text(&self, name: &str, mut w: impl Write) -> io::Result<()> {
        let names: Vec<&str> = self.sample_types.iter().map(|(t, _)| t.as_str()).collect();
        let totals: Vec<String> = names.iter().map(|n| self.total(n).to_string()).collect();
        writeln!(
            w,
            "{name} profile: {} ({})",
            totals.join(" "),
            names.join(" ")
        )?;
        let mut samples: Vec<&Sample> = self.samples.iter().collect();
        samples.sort_by_key(|s| std::cmp::Reverse(s.values.last().copied().unwrap_or(0)));
        for s in samples {
            let vals: Vec<String> = s.values.iter().map(|v| v.to_string()).collect();
            let addrs: Vec<String> = s.stack.iter().map(|f| format!("{:#x}", f.addr)).collect();
            write!(w, "{} @ {}", vals.join(" "), addrs.join(" "))?;
            for (k, v) in &s.labels {
                match v {
                    LabelValue::Str(v) => write!(w, " {k}={v}")?,
                    LabelValue::Num(n, _) => write!(w, " {k}={n}")?,
                }
            }
            writeln!(w)?;
            for f in &s.stack {
                for l in &f.lines {
                    writeln!(w, "#\t{:#x}\t{}\t{}:{}", f.addr, l.function, l.file, l.line)?;
                }
            }
            writeln!(w)?;
        }
        Ok(())
    }
}

/// Builds the string, function, location and mapping tables while writing samples.
#[derive(Default)]
struct Encoder {
    strings: Vec<String>,
    string_ids: HashMap<String, i64>,
    functions: HashMap<(String, String), u64>,
    function_msgs: Vec<Msg>,
    locations: HashMap<Frame, u64>,
    location_msgs: Vec<Msg>,
}

impl Encoder {
    fn s(&mut self, s: &str) -> i64 {
        if self.strings.is_empty() {
            self.strings.push(String::new());
            self.string_ids.insert(String::new(), 0);
        }
        if let Some(&i) = self.string_ids.get(s) {
            return i;
        }
        let i = self.strings.len() as i64;
        self.strings.push(s.to_string());
        self.string_ids.insert(s.to_string(), i);
        i
    }

    fn value_type(&mut self, (t, u): &(String, String)) -> Msg {
        let (t, u) = (self.s(t), self.s(u));
        let mut m = Msg::new();
        m.int(1, t).int(2, u);
        m
    }

    fn function(&mut self, l: &Line) -> u64 {
        let key = (l.function.clone(), l.file.clone());
        if let Some(&id) = self.functions.get(&key) {
            return id;
        }
        let id = self.function_msgs.len() as u64 + 1;
        let (name, file) = (self.s(&l.function), self.s(&l.file));
        let mut m = Msg::new();
        m.uint(1, id).int(2, name).int(3, name).int(4, file);
        self.function_msgs.push(m);
        self.functions.insert(key, id);
        id
    }

    fn location(&mut self, f: &Frame, maps: &Mappings) -> u64 {
        if let Some(&id) = self.locations.get(f) {
            return id;
        }
        let id = self.location_msgs.len() as u64 + 1;
        let mut m = Msg::new();
        m.uint(1, id).uint(2, maps.id_of(f.addr)).uint(3, f.addr);
        for l in &f.lines {
            let fid = self.function(l);
            let mut lm = Msg::new();
            lm.uint(1, fid).int(2, i64::from(l.line));
            m.msg(4, &lm);
        }
        self.location_msgs.push(m);
        self.locations.insert(f.clone(), id);
        id
    }

    fn encode(mut self, p: &Profile) -> Vec<u8> {
        let maps = Mappings::read();
        let mut out = Msg::new();
        self.s("");
        for st in &p.sample_types {
            let m = self.value_type(st);
            out.msg(1, &m);
        }
        for s in &p.samples {
            let ids: Vec<u64> = s.stack.iter().map(|f| self.location(f, &maps)).collect();
            let mut m = Msg::new();
            m.packed(1, ids)
                .packed(2, s.values.iter().map(|&v| v as u64));
            for (k, v) in &s.labels {
                let mut lm = Msg::new();
                lm.int(1, self.s(k));
                match v {
                    LabelValue::Str(v) => {
                        lm.int(2, self.s(v));
                    }
                    LabelValue::Num(n, unit) => {
                        lm.int(3, *n);
                        if !unit.is_empty() {
                            lm.int(4, self.s(unit));
                        }
                    }
                }
                m.msg(3, &lm);
            }
            out.msg(2, &m);
        }
        for (i, mp) in maps.list.iter().enumerate() {
            let file = self.s(&mp.file);
            let build_id = self.s(&mp.build_id);
            let mut m = Msg::new();
            m.uint(1, i as u64 + 1)
                .uint(2, mp.start)
                .uint(3, mp.limit)
                .uint(4, mp.offset)
                .int(5, file)
                .int(6, build_id)
                .boolean(7, true)
                .boolean(8, true)
                .boolean(9, true)
                .boolean(10, true);
            out.msg(3, &m);
        }
        for m in std::mem::take(&mut self.location_msgs) {
            out.msg(4, &m);
        }
        for m in std::mem::take(&mut self.function_msgs) {
            out.msg(5, &m);
        }
        let period_type = self.value_type(&p.period_type);
        let comments: Vec<i64> = p.comments.iter().map(|c| self.s(c)).collect();
        let default = if p.default_sample_type.is_empty() {
            0
        } else {
            self.s(&p.default_sample_type)
        };
        for s in &self.strings {
            out.bytes(6, s.as_bytes());
        }
        out.int(9, p.time_nanos)
            .int(10, p.duration_nanos)
            .msg(11, &period_type)
            .int(12, p.period)
            .packed(13, comments.iter().map(|&c| c as u64))
            .int(14, default);
        out.finish()
    }
}
