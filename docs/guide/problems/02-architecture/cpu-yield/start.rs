// Problem 02-architecture/cpu-yield: the start. Edit this file; `cargo run -p gort-guide --
// check cpu-yield` measures it (on a runtime with GOMAXPROCS=1, beside a goroutine that
// ticks every millisecond). The result must stay the same; the ticker must not be starved.

/// A CPU-bound job: `rounds` rounds of FNV-1a over the round numbers, one loop that never
/// calls into the runtime (gort preempts only at runtime calls).
pub fn crunch(rounds: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for i in 0..rounds {
        h = (h ^ i).wrapping_mul(0x0100_0000_01b3);
    }
    h
}
