//! A minimal protobuf writer for `perftools.profiles.Profile` (profile.proto).
//!
//! Only what the profile writer needs: varints, length-delimited fields and packed repeated
//! integers. Field numbers are profile.proto's (see `gort-cli/src/pprof/proto.rs` for the
//! reader's prost definitions of the same messages).

/// A protobuf message being written.
#[derive(Default)]
pub(crate) struct Msg {
    buf: Vec<u8>,
}

fn varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

impl Msg {
    pub(crate) fn new() -> Msg {
        Msg::default()
    }

    /// A varint field (wire type 0); zero values are omitted, as proto3 does.
    pub(crate) fn uint(&mut self, field: u32, v: u64) -> &mut Self {
        if v != 0 {
            varint(&mut self.buf, u64::from(field) << 3);
            varint(&mut self.buf, v);
        }
        self
    }

    /// An `int64` field (two's complement varint).
    pub(crate) fn int(&mut self, field: u32, v: i64) -> &mut Self {
        self.uint(field, v as u64)
    }

    /// A `bool` field.
    pub(crate) fn boolean(&mut self, field: u32, v: bool) -> &mut Self {
        self.uint(field, u64::from(v))
    }

    /// A length-delimited field (wire type 2), written even when empty.
    pub(crate) fn bytes(&mut self, field: u32, b: &[u8]) -> &mut Self {
        varint(&mut self.buf, (u64::from(field) << 3) | 2);
        varint(&mut self.buf, b.len() as u64);
        self.buf.extend_from_slice(b);
        self
    }

    /// An embedded message.
    pub(crate) fn msg(&mut self, field: u32, m: &Msg) -> &mut Self {
        self.bytes(field, &m.buf)
    }

    /// A packed repeated varint field; omitted when empty.
    pub(crate) fn packed(&mut self, field: u32, vs: impl IntoIterator<Item = u64>) -> &mut Self {
        let mut inner = Vec::new();
        for v in vs {
            varint(&mut inner, v);
        }
        if !inner.is_empty() {
            self.bytes(field, &inner);
        }
        self
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_varints_and_fields_like_protobuf() {
        let mut m = Msg::new();
        m.uint(1, 150)
            .bytes(2, b"ab")
            .packed(3, [1, 300])
            .int(4, -1);
        assert_eq!(
            m.finish(),
            [
                0x08, 0x96, 0x01, // field 1 = 150
                0x12, 2, b'a', b'b', // field 2 = "ab"
                0x1a, 3, 1, 0xac, 0x02, // field 3 = [1, 300] packed
                0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 // -1
            ]
        );
    }
}
