//! The pprof wire format: `perftools.profiles.Profile`, written by hand.
//!
//! prost-build needs protoc, which this project does not assume, so the
//! messages are declared with `#[derive(prost::Message)]` and the field
//! numbers of profile.proto. Files may be gzip-compressed (Go always
//! compresses) or plain; we sniff the gzip magic. [`load`] also checks the
//! references (string indices, location and function ids) so later code
//! can index without panicking: a bad reference is an error, not a crash.

use anyhow::{bail, Context, Result};
use std::io::Read;

#[derive(Clone, PartialEq, prost::Message)]
pub struct Profile {
    #[prost(message, repeated, tag = "1")]
    pub sample_type: Vec<ValueType>,
    #[prost(message, repeated, tag = "2")]
    pub sample: Vec<Sample>,
    #[prost(message, repeated, tag = "3")]
    pub mapping: Vec<Mapping>,
    #[prost(message, repeated, tag = "4")]
    pub location: Vec<Location>,
    #[prost(message, repeated, tag = "5")]
    pub function: Vec<Function>,
    #[prost(string, repeated, tag = "6")]
    pub string_table: Vec<String>,
    #[prost(int64, tag = "7")]
    pub drop_frames: i64,
    #[prost(int64, tag = "8")]
    pub keep_frames: i64,
    #[prost(int64, tag = "9")]
    pub time_nanos: i64,
    #[prost(int64, tag = "10")]
    pub duration_nanos: i64,
    #[prost(message, optional, tag = "11")]
    pub period_type: Option<ValueType>,
    #[prost(int64, tag = "12")]
    pub period: i64,
    #[prost(int64, repeated, tag = "13")]
    pub comment: Vec<i64>,
    #[prost(int64, tag = "14")]
    pub default_sample_type: i64,
    #[prost(int64, tag = "15")]
    pub doc_url: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ValueType {
    #[prost(int64, tag = "1")]
    pub r#type: i64,
    #[prost(int64, tag = "2")]
    pub unit: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(uint64, repeated, tag = "1")]
    pub location_id: Vec<u64>,
    #[prost(int64, repeated, tag = "2")]
    pub value: Vec<i64>,
    #[prost(message, repeated, tag = "3")]
    pub label: Vec<Label>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    #[prost(int64, tag = "1")]
    pub key: i64,
    #[prost(int64, tag = "2")]
    pub str: i64,
    #[prost(int64, tag = "3")]
    pub num: i64,
    #[prost(int64, tag = "4")]
    pub num_unit: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Mapping {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(uint64, tag = "2")]
    pub memory_start: u64,
    #[prost(uint64, tag = "3")]
    pub memory_limit: u64,
    #[prost(uint64, tag = "4")]
    pub file_offset: u64,
    #[prost(int64, tag = "5")]
    pub filename: i64,
    #[prost(int64, tag = "6")]
    pub build_id: i64,
    #[prost(bool, tag = "7")]
    pub has_functions: bool,
    #[prost(bool, tag = "8")]
    pub has_filenames: bool,
    #[prost(bool, tag = "9")]
    pub has_line_numbers: bool,
    #[prost(bool, tag = "10")]
    pub has_inline_frames: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Location {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(uint64, tag = "2")]
    pub mapping_id: u64,
    #[prost(uint64, tag = "3")]
    pub address: u64,
    #[prost(message, repeated, tag = "4")]
    pub line: Vec<Line>,
    #[prost(bool, tag = "5")]
    pub is_folded: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Line {
    #[prost(uint64, tag = "1")]
    pub function_id: u64,
    #[prost(int64, tag = "2")]
    pub line: i64,
    #[prost(int64, tag = "3")]
    pub column: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Function {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(int64, tag = "2")]
    pub name: i64,
    #[prost(int64, tag = "3")]
    pub system_name: i64,
    #[prost(int64, tag = "4")]
    pub filename: i64,
    #[prost(int64, tag = "5")]
    pub start_line: i64,
}

impl Profile {
    /// String table lookup; out-of-range indices read as "".
    pub fn str(&self, i: i64) -> &str {
        usize::try_from(i)
            .ok()
            .and_then(|i| self.string_table.get(i))
            .map_or("", |s| s.as_str())
    }
}

/// Memory the decompressed and decoded profile may take, for an input of
/// `n` bytes: 40 bytes per input byte plus 40 MiB. Real profiles need a
/// small fraction of it (a gzipped CPU profile decompresses about 5x and
/// decodes to about 10x that); crafted ones (a gzip of empty strings or
/// empty samples) would need hundreds of times their size, and are refused.
pub fn budget(n: usize) -> u64 {
    40 * n as u64 + (40 << 20)
}

/// Decodes bytes (gzip or plain) into a checked profile, refusing profiles
/// whose decompressed or decoded size would exceed [`budget`].
pub fn decode(bytes: &[u8]) -> Result<Profile> {
    let budget = budget(bytes.len());
    let raw;
    let gzipped = bytes.starts_with(&[0x1f, 0x8b]);
    let data = if gzipped {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .take(budget + 1)
            .read_to_end(&mut out)
            .context("not a valid gzip stream")?;
        if out.len() as u64 > budget {
            bail!(
                "malformed profile: a {}-byte gzip that decompresses to more than {} MiB (a gzip bomb?)",
                bytes.len(),
                budget >> 20
            );
        }
        raw = out;
        &raw[..]
    } else {
        bytes
    };
    let decompressed = if gzipped { data.len() as u64 } else { 0 };
    let need = decoded_size(data)
        .ok_or_else(|| anyhow::anyhow!("not a pprof profile (protobuf decode failed)"))?;
    if decompressed + need > budget {
        bail!(
            "malformed profile: decoding it would take {} MiB, more than the {} MiB allowed for a {}-byte file (a crafted profile?)",
            (decompressed + need) >> 20,
            budget >> 20,
            bytes.len()
        );
    }
    let p = <Profile as prost::Message>::decode(data)
        .context("not a pprof profile (protobuf decode failed)")?;
    check(&p)?;
    Ok(p)
}

/// One protobuf field: number, and its varint value or payload.
enum Field<'a> {
    Varint(u32),
    Bytes(u32, &'a [u8]),
    Fixed,
}

/// Splits a message into fields; None when it is not valid protobuf.
fn fields(mut buf: &[u8]) -> impl Iterator<Item = Option<Field<'_>>> {
    use prost::encoding::{decode_key, decode_varint, WireType};
    std::iter::from_fn(move || {
        if buf.is_empty() {
            return None;
        }
        let field = (|| {
            let (tag, wt) = decode_key(&mut buf).ok()?;
            Some(match wt {
                WireType::Varint => {
                    decode_varint(&mut buf).ok()?;
                    Field::Varint(tag)
                }
                WireType::LengthDelimited => {
                    let n = usize::try_from(decode_varint(&mut buf).ok()?).ok()?;
                    if n > buf.len() {
                        return None;
                    }
                    let (payload, rest) = buf.split_at(n);
                    buf = rest;
                    Field::Bytes(tag, payload)
                }
                WireType::SixtyFourBit | WireType::ThirtyTwoBit => {
                    let n = if wt == WireType::SixtyFourBit { 8 } else { 4 };
                    if n > buf.len() {
                        return None;
                    }
                    buf = &buf[n..];
                    Field::Fixed
                }
                WireType::StartGroup | WireType::EndGroup => return None,
            })
        })();
        if field.is_none() {
            buf = &[];
            return Some(None);
        }
        Some(field)
    })
}

/// Number of varints in a packed payload (each ends with a byte < 0x80).
fn packed_count(payload: &[u8]) -> u64 {
    payload.iter().filter(|b| **b < 0x80).count() as u64
}

/// Upper bound of the heap memory prost allocates decoding `data` as a
/// [`Profile`], from one pass over its fields (no allocation): vectors at
/// twice their length (growth by doubling), strings at their length.
fn decoded_size(data: &[u8]) -> Option<u64> {
    use std::mem::size_of;
    let vec = |n: u64, each: usize| 2 * n * each as u64;
    let ints = |f: &Field| match f {
        Field::Varint(_) | Field::Fixed => 1,
        Field::Bytes(_, p) => packed_count(p),
    };
    let mut total = 0u64;
    for f in fields(data) {
        let f = f?;
        total += match &f {
            Field::Bytes(1, _) => vec(1, size_of::<ValueType>()),
            Field::Bytes(2, sample) => {
                let mut n = vec(1, size_of::<Sample>());
                for g in fields(sample) {
                    let g = g?;
                    n += match &g {
                        Field::Bytes(1 | 2, _) | Field::Varint(1 | 2) => vec(ints(&g), 8),
                        Field::Bytes(3, _) => vec(1, size_of::<Label>()),
                        _ => 0,
                    };
                }
                n
            }
            Field::Bytes(3, _) => vec(1, size_of::<Mapping>()),
            Field::Bytes(4, loc) => {
                let mut n = vec(1, size_of::<Location>());
                for g in fields(loc) {
                    if let Field::Bytes(4, _) = g? {
                        n += vec(1, size_of::<Line>());
                    }
                }
                n
            }
            Field::Bytes(5, _) => vec(1, size_of::<Function>()),
            Field::Bytes(6, s) => vec(1, size_of::<String>()) + s.len() as u64,
            Field::Bytes(13, _) | Field::Varint(13) => vec(ints(&f), 8),
            _ => 0,
        };
    }
    Some(total)
}

fn check(p: &Profile) -> Result<()> {
    if p.sample_type.is_empty() {
        bail!("not a pprof profile (no sample types)");
    }
    if p.string_table.first().map(|s| s.as_str()) != Some("") {
        bail!("malformed profile: string table must start with \"\"");
    }
    let n = p.sample_type.len();
    // Per sample type, the sum of |value| must fit in an i64: reports add
    // values up, and a sum past 2^63 has no meaningful percentage.
    let mut sums = vec![0u128; n];
    for s in &p.sample {
        if s.value.len() != n {
            bail!(
                "malformed profile: sample has {} values for {} sample types",
                s.value.len(),
                n
            );
        }
        for (sum, v) in sums.iter_mut().zip(&s.value) {
            *sum += u128::from(v.unsigned_abs());
        }
    }
    for (i, sum) in sums.iter().enumerate() {
        if *sum > i64::MAX as u128 {
            bail!(
                "malformed profile: the {} values add up past 2^63-1 (out of range)",
                p.str(p.sample_type[i].r#type)
            );
        }
    }
    Ok(())
}

/// Encodes a profile as gzip-compressed protobuf, as Go writes it.
pub fn encode(p: &Profile) -> Vec<u8> {
    use std::io::Write;
    let raw = prost::Message::encode_to_vec(p);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = gz.write_all(&raw);
    gz.finish().unwrap_or_default()
}

/// Builds a small profile from stacks given leaf first, one sample type
/// (`type_name`/`unit`). For tests and for writing synthetic profiles.
pub fn synthetic(type_name: &str, unit: &str, stacks: &[(&[&str], i64)]) -> Profile {
    let mut p = Profile {
        string_table: vec![String::new()],
        ..Default::default()
    };
    let intern = |p: &mut Profile, s: &str| -> i64 {
        match p.string_table.iter().position(|x| x == s) {
            Some(i) => i as i64,
            None => {
                p.string_table.push(s.to_string());
                p.string_table.len() as i64 - 1
            }
        }
    };
    let t = intern(&mut p, type_name);
    let u = intern(&mut p, unit);
    p.sample_type.push(ValueType { r#type: t, unit: u });
    for (frames, v) in stacks {
        let mut ids = Vec::new();
        for f in frames.iter() {
            let name = intern(&mut p, f);
            let fid = match p.function.iter().find(|x| x.name == name) {
                Some(x) => x.id,
                None => {
                    let id = p.function.len() as u64 + 1;
                    p.function.push(Function {
                        id,
                        name,
                        ..Default::default()
                    });
                    p.location.push(Location {
                        id,
                        line: vec![Line {
                            function_id: id,
                            ..Default::default()
                        }],
                        ..Default::default()
                    });
                    id
                }
            };
            ids.push(fid);
        }
        p.sample.push(Sample {
            location_id: ids,
            value: vec![*v],
            label: Vec::new(),
        });
    }
    p
}

/// Reads and decodes a profile file.
pub fn load(path: impl AsRef<std::path::Path>) -> Result<Profile> {
    let path = path.as_ref();
    let bytes = crate::input::read_bytes(path)?;
    decode(&bytes).with_context(|| crate::input::display(path))
}
