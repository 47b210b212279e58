//! Lesson 6, the memory model: `docs/guide/06-memory-model.md`.
//!
//! The checks are correctness checks of concurrent programs, made deterministic: every
//! goroutine of a check starts on the spawning goroutine's P and stays there
//! (`Placement::Here`), and the start's `gort::yield_now()` between its two halves always hands
//! the P to another goroutine of the check, so the start's race happens on every run.

use crate::{Outcome, Problem, Which};
use gort::{GoBuilder, Placement};
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

#[path = "../../../../docs/guide/problems/06-memory-model/check-then-act/solution.rs"]
mod check_then_act_solution;
#[path = "../../../../docs/guide/problems/06-memory-model/check-then-act/start.rs"]
mod check_then_act_start;
#[path = "../../../../docs/guide/problems/06-memory-model/lost-update/solution.rs"]
mod lost_update_solution;
#[path = "../../../../docs/guide/problems/06-memory-model/lost-update/start.rs"]
mod lost_update_start;
#[path = "../../../../docs/guide/problems/06-memory-model/publish/solution.rs"]
mod publish_solution;
#[path = "../../../../docs/guide/problems/06-memory-model/publish/start.rs"]
mod publish_start;

pub static PROBLEMS: &[&Problem] = &[&LOST_UPDATE, &CHECK_THEN_ACT, &PUBLISH];

/// Runs `f` as the main goroutine of a fresh 2-P runtime (a check runs outside any runtime).
fn in_runtime<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let rt = gort::Builder::new()
        .gomaxprocs(2)
        .build()
        .expect("gort-guide: a 2-P runtime");
    rt.block_on(f)
}

/// Starts `f` on the calling goroutine's P, for good.
fn here<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> gort::JoinHandle<T> {
    GoBuilder::new().placement(Placement::Here).go(f)
}

const GOROUTINES: u64 = 4;
const HITS: u64 = 250;

/// 4 goroutines, 250 hits each: the count.
fn count_hits(w: Which) -> u64 {
    let hit = match w {
        Which::Start => lost_update_start::hit,
        Which::Solution => lost_update_solution::hit,
    };
    let c = Arc::new(AtomicU64::new(0));
    let hs: Vec<_> = (0..GOROUTINES)
        .map(|_| {
            let c = c.clone();
            here(move || {
                for _ in 0..HITS {
                    hit(&c);
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    c.load(std::sync::atomic::Ordering::Relaxed)
}

static LOST_UPDATE: Problem = Problem {
    id: "06-memory-model/lost-update",
    title: "A counter that loses hits: load + store is not an increment",
    target: "4 goroutines x 250 hits count exactly 1000",
    hint: "Check the logic, not the hardware: another goroutine can run between the load and \
           the store (a logic race; Rust's type system allows it, `go test -race` finds the Go \
           twin). Make the read-modify-write one operation: fetch_add, or hold a Mutex across it",
    check: |w| {
        let n = in_runtime(move || count_hits(w));
        let want = GOROUTINES * HITS;
        Outcome::new(
            n == want,
            format!("counted {n} of {want} hits (target: exactly {want})"),
        )
    },
    run: |w, time| {
        crate::repeat_for(time, || {
            std::hint::black_box(count_hits(w));
        })
    },
};

type Seats = gort::sync::Mutex<HashMap<u32, u32>>;
const SEATS: u32 = 25;

/// 4 goroutines claim seats 0..25: (seats won more than once, total wins, seats whose recorded
/// owner is not a goroutine that won them).
fn claim_seats(w: Which) -> (u32, u32, u32) {
    let claim = match w {
        Which::Start => check_then_act_start::claim,
        Which::Solution => check_then_act_solution::claim,
    };
    let seats: Arc<Seats> = Arc::new(gort::sync::Mutex::new(HashMap::new()));
    let hs: Vec<_> = (0..GOROUTINES as u32)
        .map(|who| {
            let seats = seats.clone();
            here(move || {
                (0..SEATS)
                    .filter(|&s| claim(&seats, s, who))
                    .collect::<Vec<u32>>()
            })
        })
        .collect();
    let mut winners: Vec<Vec<u32>> = vec![Vec::new(); SEATS as usize];
    for (who, h) in hs.into_iter().enumerate() {
        for s in h.join().unwrap() {
            winners[s as usize].push(who as u32);
        }
    }
    let m = seats.lock();
    let twice = winners.iter().filter(|v| v.len() > 1).count() as u32;
    let total = winners.iter().map(|v| v.len() as u32).sum();
    let wrong_owner = (0..SEATS)
        .filter(|s| match m.get(s) {
            Some(o) => !winners[*s as usize].contains(o),
            None => true,
        })
        .count() as u32;
    (twice, total, wrong_owner)
}

static CHECK_THEN_ACT: Problem = Problem {
    id: "06-memory-model/check-then-act",
    title: "Two winners for one seat: a check and an act under separate locks",
    target: "each of 25 seats won exactly once by 4 competing goroutines",
    hint: "Each access is locked, so there is no data race (Rust accepts it, `go test -race` \
           stays silent): it is a logic race. Find the gap between the check and the act and \
           hold one guard across both (or use HashMap::entry under one guard)",
    check: |w| {
        let (twice, total, wrong) = in_runtime(move || claim_seats(w));
        Outcome::new(
            twice == 0 && total == SEATS && wrong == 0,
            format!(
                "{total} wins for {SEATS} seats, {twice} seats won more than once, \
                 {wrong} recorded owners that lost (target: {SEATS} wins, 0, 0)"
            ),
        )
    },
    run: |w, time| {
        crate::repeat_for(time, || {
            std::hint::black_box(claim_seats(w));
        })
    },
};

const ROUNDS: u64 = 20;

/// 20 rounds of one writer and one reader: the reads that saw the flag without the value.
fn publish_rounds(w: Which) -> u64 {
    // The two versions' `Slot`s are different types: one generic round per version.
    fn rounds<S: Default + Send + Sync + 'static>(
        publish: fn(&S, u64),
        read: fn(&S) -> Option<u64>,
    ) -> u64 {
        let mut bad = 0;
        for r in 1..=ROUNDS {
            let slot = Arc::new(S::default());
            let s = slot.clone();
            let writer = here(move || publish(&s, r));
            let s = slot.clone();
            let reader = here(move || loop {
                if let Some(v) = read(&s) {
                    return v;
                }
                gort::yield_now();
            });
            writer.join().unwrap();
            if reader.join().unwrap() != r {
                bad += 1;
            }
        }
        bad
    }
    match w {
        Which::Start => rounds(publish_start::publish, publish_start::read),
        Which::Solution => rounds(publish_solution::publish, publish_solution::read),
    }
}

static PUBLISH: Problem = Problem {
    id: "06-memory-model/publish",
    title: "A flag raised before the data: publication without happens-before",
    target: "20 of 20 readers that see the flag also see the value",
    hint: "The reader saw the flag and read the data before it was written: nothing orders the \
           data store before the flag load. Write the data first and publish with a Release \
           store read by an Acquire load (Go: a channel send, or sync/atomic after the data)",
    check: |w| {
        let bad = in_runtime(move || publish_rounds(w));
        Outcome::new(
            bad == 0,
            format!("{bad} of {ROUNDS} readers saw the flag but not the value (target: 0)"),
        )
    },
    run: |w, time| {
        crate::repeat_for(time, || {
            std::hint::black_box(publish_rounds(w));
        })
    },
};
