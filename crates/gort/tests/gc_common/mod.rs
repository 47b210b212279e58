//! Helpers shared by the GC test files (each test binary that declares `mod gc_common;` gets its
//! own copy, so `serial` serializes the tests of one file).
#![allow(dead_code)]

use std::sync::{Mutex, MutexGuard};

static SERIAL: Mutex<()> = Mutex::new(());

/// Tests of one file share one heap (and its counters); those that count run one at a time.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// xorshift64: deterministic test randomness.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Word `i` of the payload of object `id` (never zero, never the 0xdb poison pattern).
pub fn mix(id: u64, i: u64) -> u64 {
    (id ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).wrapping_mul(0x100_0000_01b3) | 1
}

/// The payload of object `id` and its checksum.
pub fn payload<const N: usize>(id: u64) -> ([u64; N], u64) {
    let data: [u64; N] = std::array::from_fn(|i| mix(id, i as u64));
    let sum = data.iter().fold(id, |a, &x| a.rotate_left(7) ^ x);
    (data, sum)
}

/// Panics unless `data` and `sum` are object `id`'s payload and checksum.
pub fn verify_payload(id: u64, data: &[u64], sum: u64) {
    for (i, &x) in data.iter().enumerate() {
        assert_eq!(x, mix(id, i as u64), "item {id:#x}: word {i} corrupt");
    }
    assert_eq!(
        data.iter().fold(id, |a, &x| a.rotate_left(7) ^ x),
        sum,
        "item {id:#x}: checksum"
    );
}

/// The `gctorture` value from GODEBUG, to restore after a test turned torture on.
pub fn env_torture() -> u64 {
    std::env::var("GODEBUG")
        .ok()
        .and_then(|d| {
            d.split(',')
                .find_map(|kv| kv.strip_prefix("gctorture=")?.parse().ok())
        })
        .unwrap_or(0)
}

/// `gctorture=N` from GODEBUG (0 when unset), so a test can pause torture around a build
/// step whose cost it would make quadratic, and restore it (`gort::gc::set_torture`).
pub fn godebug_torture() -> u64 {
    std::env::var("GODEBUG")
        .unwrap_or_default()
        .split(',')
        .find_map(|kv| kv.strip_prefix("gctorture="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
