// Problem 08-zero-alloc/caller-buffer: a reference solution.

/// Appends the LEB128 (varint) encoding of `xs` to `out`: the caller owns the buffer (Go's
/// `Append*` convention: `binary.AppendUvarint(dst, x)`, `strconv.AppendInt`).
pub fn encode_into(xs: &[u32], out: &mut Vec<u8>) {
    for &x in xs {
        let mut x = x;
        while x >= 0x80 {
            out.push((x as u8) | 0x80);
            x >>= 7;
        }
        out.push(x as u8);
    }
}

/// The encoded size of `xs`, computed up front: at most 5 bytes per u32.
pub fn encoded_len(xs: &[u32]) -> usize {
    xs.iter()
        .map(|&x| (32 - (x | 1).leading_zeros() as usize).div_ceil(7))
        .sum()
}

/// Replaces the contents of `out` with the encodings of all `batches`, one after the other.
/// One `reserve` of the exact size (a no-op once the reused buffer is big enough), then every
/// batch is appended in place: no temporary vectors.
pub fn encode_all(batches: &[Vec<u32>], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(batches.iter().map(|b| encoded_len(b)).sum());
    for b in batches {
        encode_into(b, out);
    }
}
