// Problem 08-zero-alloc/caller-buffer: the start. Edit this file; `cargo run -p gort-guide --
// check caller-buffer` counts the allocations of one call of `encode_all` on 50 batches, with
// an output buffer that the caller reuses from call to call.

/// The LEB128 (varint) encoding of `xs`: 7 bits per byte, low bits first, the high bit set on
/// every byte but a value's last (Go: `binary.AppendUvarint`).
pub fn encode(xs: &[u32]) -> Vec<u8> {
    let mut v = Vec::new();
    for &x in xs {
        let mut x = x;
        while x >= 0x80 {
            v.push((x as u8) | 0x80);
            x >>= 7;
        }
        v.push(x as u8);
    }
    v
}

/// Replaces the contents of `out` with the encodings of all `batches`, one after the other.
pub fn encode_all(batches: &[Vec<u32>], out: &mut Vec<u8>) {
    out.clear();
    for b in batches {
        let v = encode(b);
        out.extend_from_slice(&v);
    }
}
