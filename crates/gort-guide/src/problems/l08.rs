//! Lesson 8, zero-allocation patterns: `docs/guide/08-zero-alloc.md`.

use crate::measure::allocs_per_call;
use crate::{Outcome, Problem, Which};
use std::hint::black_box;

#[path = "../../../../docs/guide/problems/08-zero-alloc/borrow-lines/solution.rs"]
mod borrow_lines_solution;
#[path = "../../../../docs/guide/problems/08-zero-alloc/borrow-lines/start.rs"]
mod borrow_lines_start;
#[path = "../../../../docs/guide/problems/08-zero-alloc/caller-buffer/solution.rs"]
mod caller_buffer_solution;
#[path = "../../../../docs/guide/problems/08-zero-alloc/caller-buffer/start.rs"]
mod caller_buffer_start;
#[path = "../../../../docs/guide/problems/08-zero-alloc/pool-scratch/solution.rs"]
mod pool_scratch_solution;
#[path = "../../../../docs/guide/problems/08-zero-alloc/pool-scratch/start.rs"]
mod pool_scratch_start;

pub static PROBLEMS: &[&Problem] = &[&BORROW_LINES, &CALLER_BUFFER, &POOL_SCRATCH];

/// 100 lines of `name=value`, a few malformed; and their sum.
fn lines_input() -> (Vec<u8>, u64) {
    let mut s = String::new();
    let mut sum = 0;
    for i in 0..100u64 {
        match i % 10 {
            3 => s.push_str("no value here\n"),
            7 => s.push_str(&format!("key{i}=x{i}\n")),
            _ => {
                s.push_str(&format!("key{i}= {}\n", i * 37));
                sum += i * 37;
            }
        }
    }
    (s.into_bytes(), sum)
}

fn sum_values(w: Which) -> fn(&[u8]) -> u64 {
    match w {
        Which::Start => borrow_lines_start::sum_values,
        Which::Solution => borrow_lines_solution::sum_values,
    }
}

static BORROW_LINES: Problem = Problem {
    id: "08-zero-alloc/borrow-lines",
    title: "Parse from the bytes: borrowed slices instead of Strings",
    target: "0 allocations per call of sum_values on 100 lines, same sum",
    hint: "Profile (playbook step 2): the copies are to_vec, the Vec<String> of lines and the \
           Vec<String> of parts; split the input bytes in place and parse the value slice",
    check: |w| {
        let f = sum_values(w);
        let (input, want) = lines_input();
        let got = f(&input);
        if got != want {
            return Outcome::new(
                false,
                format!("wrong result: sum_values = {got}, want {want}"),
            );
        }
        let a = allocs_per_call(100, || {
            black_box(f(black_box(&input)));
        });
        Outcome::new(a == 0.0, format!("{a:.1} allocs/call (target: 0)"))
    },
    run: |w, time| {
        let f = sum_values(w);
        let (input, _) = lines_input();
        crate::repeat_for(time, || {
            black_box(f(black_box(&input)));
        })
    },
};

/// 50 batches of 20 values of 1 to 5 bytes each.
fn batches() -> Vec<Vec<u32>> {
    (0..50u32)
        .map(|b| {
            (0..20u32)
                .map(|i| (b * 20 + i).wrapping_mul(2_654_435_761) >> (i % 32))
                .collect()
        })
        .collect()
}

fn encode_all(w: Which) -> fn(&[Vec<u32>], &mut Vec<u8>) {
    match w {
        Which::Start => caller_buffer_start::encode_all,
        Which::Solution => caller_buffer_solution::encode_all,
    }
}

static CALLER_BUFFER: Problem = Problem {
    id: "08-zero-alloc/caller-buffer",
    title: "Append into the caller's buffer instead of returning a new Vec",
    target: "0 allocations per call of encode_all on 50 batches (reused output), same bytes",
    hint: "Profile (playbook step 2): every batch's encode builds and grows its own Vec; \
           append into `out` instead (Go's Append* convention) and size it up front",
    check: |w| {
        let f = encode_all(w);
        let bs = batches();
        let mut want = Vec::new();
        for b in &bs {
            for &x in b {
                let mut x = x;
                while x >= 0x80 {
                    want.push((x as u8) | 0x80);
                    x >>= 7;
                }
                want.push(x as u8);
            }
        }
        let mut out = Vec::new();
        f(&bs, &mut out);
        if out != want {
            return Outcome::new(
                false,
                format!(
                    "wrong result: {} bytes, want the {} bytes of the varints",
                    out.len(),
                    want.len()
                ),
            );
        }
        let a = allocs_per_call(100, || {
            f(black_box(&bs), black_box(&mut out));
        });
        Outcome::new(a == 0.0, format!("{a:.1} allocs/call (target: 0)"))
    },
    run: |w, time| {
        let f = encode_all(w);
        let bs = batches();
        let mut out = Vec::new();
        crate::repeat_for(time, || {
            f(black_box(&bs), black_box(&mut out));
        })
    },
};

fn median_byte(w: Which) -> fn(&[u8]) -> u8 {
    match w {
        Which::Start => pool_scratch_start::median_byte,
        Which::Solution => pool_scratch_solution::median_byte,
    }
}

static POOL_SCRATCH: Problem = Problem {
    id: "08-zero-alloc/pool-scratch",
    title: "A scratch buffer per call: gort::sync::Pool",
    target: "at most 0.1 allocations per call of median_byte on 1 KiB, same result, same signature",
    hint: "Profile (playbook step 2): the scratch copy (to_vec) is the one allocation per call; \
           keep scratch buffers in a gort::sync::Pool (a static) and reuse them",
    check: |w| {
        let f = median_byte(w);
        let data: Vec<u8> = (0..1024u32)
            .map(|i| (i.wrapping_mul(97) % 251) as u8)
            .collect();
        let mut sorted = data.clone();
        sorted.sort_unstable();
        let want = sorted[(sorted.len() - 1) / 2];
        if f(&data) != want || f(&[]) != 0 || f(&[9, 1, 5]) != 5 {
            return Outcome::new(false, "wrong result: the median byte, or 0 for no data");
        }
        let a = allocs_per_call(200, || {
            black_box(f(black_box(&data)));
        });
        Outcome::new(
            a <= 0.1,
            format!("{a:.2} allocs/call (target: at most 0.1)"),
        )
    },
    run: |w, time| {
        let f = median_byte(w);
        let data: Vec<u8> = (0..1024u32)
            .map(|i| (i.wrapping_mul(97) % 251) as u8)
            .collect();
        crate::repeat_for(time, || {
            black_box(f(black_box(&data)));
        })
    },
};
