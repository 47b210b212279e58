//! Lesson 9, common pitfalls: `docs/guide/09-pitfalls.md`.

use crate::measure::allocs_per_call;
use crate::{Outcome, Problem, Which};
use std::collections::HashSet;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "../../../../docs/guide/problems/09-pitfalls/coarse-lock/solution.rs"]
mod coarse_lock_solution;
#[path = "../../../../docs/guide/problems/09-pitfalls/coarse-lock/start.rs"]
mod coarse_lock_start;
#[path = "../../../../docs/guide/problems/09-pitfalls/format-hot/solution.rs"]
mod format_hot_solution;
#[path = "../../../../docs/guide/problems/09-pitfalls/format-hot/start.rs"]
mod format_hot_start;
#[path = "../../../../docs/guide/problems/09-pitfalls/to-string/solution.rs"]
mod to_string_solution;
#[path = "../../../../docs/guide/problems/09-pitfalls/to-string/start.rs"]
mod to_string_start;

pub static PROBLEMS: &[&Problem] = &[&TO_STRING, &FORMAT_HOT, &COARSE_LOCK];

/// 100 names, some padded, half of them known; the known set; how many are known.
fn names() -> (Vec<String>, HashSet<String>, usize) {
    let names: Vec<String> = (0..100)
        .map(|i| match i % 3 {
            0 => format!("  user{i}"),
            1 => format!("user{i}\t"),
            _ => format!("user{i}"),
        })
        .collect();
    let known: HashSet<String> = (0..100).step_by(2).map(|i| format!("user{i}")).collect();
    (names, known, 50)
}

fn count_known(w: Which) -> fn(&[&str], &HashSet<String>) -> usize {
    match w {
        Which::Start => to_string_start::count_known,
        Which::Solution => to_string_solution::count_known,
    }
}

static TO_STRING: Problem = Problem {
    id: "09-pitfalls/to-string",
    title: "A String per lookup: to_string and back in a loop",
    target: "0 allocations per call of count_known on 100 names, same count",
    hint: "Profile (playbook step 2): two allocations per name, to_string and trim().to_string(); \
           trim returns a &str, and a HashSet<String> can be queried with a &str (Borrow)",
    check: |w| {
        let f = count_known(w);
        let (names, known, want) = names();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let got = f(&names, &known);
        if got != want {
            return Outcome::new(false, format!("wrong result: {got} known, want {want}"));
        }
        let a = allocs_per_call(100, || {
            black_box(f(black_box(&names), black_box(&known)));
        });
        Outcome::new(a == 0.0, format!("{a:.1} allocs/call (target: 0)"))
    },
    run: |w, time| {
        let f = count_known(w);
        let (names, known, _) = names();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        crate::repeat_for(time, || {
            black_box(f(black_box(&names), black_box(&known)));
        })
    },
};

fn rows() -> Vec<(u32, f64)> {
    (0..100u32)
        .map(|i| (i * 7919, f64::from(i) * 1.25 + 0.004))
        .collect()
}

fn render(w: Which) -> fn(&[(u32, f64)], &mut String) {
    match w {
        Which::Start => format_hot_start::render,
        Which::Solution => format_hot_solution::render,
    }
}

static FORMAT_HOT: Problem = Problem {
    id: "09-pitfalls/format-hot",
    title: "format! in a hot loop: a String per line",
    target: "0 allocations per call of render on 100 rows (reused output), same text",
    hint: "Profile (playbook step 2): each line allocates twice (id.to_string() and format!'s \
           String); write!/writeln! format straight into the output String",
    check: |w| {
        let f = render(w);
        let rows = rows();
        let want: String = rows
            .iter()
            .map(|(id, v)| format!("{id}:{v:.2}\n"))
            .collect();
        let mut out = String::new();
        f(&rows, &mut out);
        if out != want {
            return Outcome::new(
                false,
                "wrong result: one `id:value` line per row, value to 2 decimals",
            );
        }
        let a = allocs_per_call(100, || {
            f(black_box(&rows), black_box(&mut out));
        });
        Outcome::new(a == 0.0, format!("{a:.1} allocs/call (target: 0)"))
    },
    run: |w, time| {
        let f = render(w);
        let rows = rows();
        let mut out = String::new();
        crate::repeat_for(time, || {
            f(black_box(&rows), black_box(&mut out));
        })
    },
};

/// The unedited start's `get`: the baseline that the speed-up is measured against.
mod coarse_lock_baseline {
    use gort::sync::Mutex;
    use std::collections::HashMap;

    #[derive(Default)]
    pub struct Cache {
        pub map: Mutex<HashMap<u32, u64>>,
    }

    pub fn get(cache: &Cache, key: u32, fetch: fn(u32) -> u64) -> u64 {
        let mut m = cache.map.lock();
        if let Some(&v) = m.get(&key) {
            return v;
        }
        let v = fetch(key);
        m.insert(key, v);
        v
    }
}

/// The slow call behind the cache: 1 ms of waiting (the goroutine parks, its P runs others).
fn fetch(key: u32) -> u64 {
    gort::time::sleep(Duration::from_millis(1));
    u64::from(key) * 3 + 1
}

const LOOKERS: u32 = 8;
const KEYS_EACH: u32 = 4;

/// A `get` of either version.
type Get<C> = fn(&C, u32, fn(u32) -> u64) -> u64;

/// 8 goroutines, 4 distinct missing keys each: the time, and whether every value was right.
fn lookups<C: Default + Send + Sync + 'static>(get: Get<C>) -> (Duration, bool) {
    let cache = Arc::new(C::default());
    let t0 = Instant::now();
    let hs: Vec<_> = (0..LOOKERS)
        .map(|g| {
            let cache = cache.clone();
            gort::go(move || {
                (0..KEYS_EACH).all(|i| {
                    let k = g * KEYS_EACH + i;
                    get(&cache, k, fetch) == u64::from(k) * 3 + 1
                })
            })
        })
        .collect();
    let ok = hs.into_iter().all(|h| h.join().unwrap());
    (t0.elapsed(), ok)
}

fn lookups_of(w: Which) -> (Duration, bool) {
    match w {
        Which::Start => lookups(coarse_lock_start::get),
        Which::Solution => lookups(coarse_lock_solution::get),
    }
}

static COARSE_LOCK: Problem = Problem {
    id: "09-pitfalls/coarse-lock",
    title: "One lock held across slow work: a cache that serialises its misses",
    target: "8 goroutines' cache misses at least 3x faster than the start's, same values",
    hint: "Trace it (playbook step 4): GORT_TRACE shows 7 goroutines blocked on the mutex while \
           one sleeps in fetch; the mutex profile names the lock. Hold the lock for the map, \
           not for the fetch",
    check: |w| {
        let rt = gort::Builder::new()
            .gomaxprocs(2)
            .build()
            .expect("gort-guide: a 2-P runtime");
        rt.block_on(move || {
            let mut ratios = Vec::new();
            for _ in 0..3 {
                let (base, _) = lookups(coarse_lock_baseline::get);
                let (t, ok) = lookups_of(w);
                if !ok {
                    return Outcome::new(false, "wrong result: get must return fetch(key)");
                }
                ratios.push(base.as_secs_f64() / t.as_secs_f64());
            }
            ratios.sort_by(f64::total_cmp);
            let r = ratios[1];
            Outcome::new(
                r >= 3.0,
                format!("{r:.1}x faster than the start (target: at least 3x)"),
            )
        })
    },
    run: |w, time| {
        crate::repeat_for(time, || {
            black_box(lookups_of(w));
        })
    },
};
