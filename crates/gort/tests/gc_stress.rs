//! Goroutines mutate a shared graph while collections run (torture mode: a cycle every few
//! hundred allocations, each checked by `gccheckmark`); every node carries a checksum of its
//! contents, verified on every visit and by a final full traversal. A freed-and-reused or
//! poisoned (0xdb) node fails a checksum or crashes. `GORT_LONG=1` runs 50x longer.

use std::collections::HashSet;

use gort::gc::{self, Gc, GcCell, Trace};

mod gc_common;
use gc_common::{serial, Rng};

#[derive(Trace)]
struct Node {
    id: u64,
    payload: Vec<u64>,
    sum: u64,
    edges: GcCell<Vec<Gc<Node>>>,
}

#[derive(Trace)]
struct Graph {
    slots: Vec<GcCell<Gc<Node>>>,
}

fn checksum(id: u64, p: &[u64]) -> u64 {
    p.iter()
        .fold(id.wrapping_mul(0x9e37_79b9_7f4a_7c15), |a, &x| {
            (a ^ x).wrapping_mul(0x100_0000_01b3)
        })
}

fn new_node(g: &Graph, rng: &mut Rng) -> Gc<Node> {
    let id = rng.next();
    let payload: Vec<u64> = (0..1 + rng.below(8)).map(|_| rng.next()).collect();
    let edges = (0..rng.below(4))
        .map(|_| g.slots[rng.below(g.slots.len())].read().clone())
        .collect();
    Gc::new(Node {
        id,
        sum: checksum(id, &payload),
        payload,
        edges: GcCell::new(edges),
    })
}

fn verify(n: &Node) {
    assert_eq!(
        checksum(n.id, &n.payload),
        n.sum,
        "node {:#x} corrupted",
        n.id
    );
}

fn walk(start: Gc<Node>, rng: &mut Rng, steps: usize) {
    let mut cur = start;
    for _ in 0..steps {
        verify(&cur);
        let next = {
            let e = cur.edges.read();
            if e.is_empty() {
                return;
            }
            e[rng.below(e.len())].clone()
        };
        cur = next;
    }
}

fn worker(g: Gc<Graph>, seed: u64, ops: usize) {
    let mut rng = Rng(seed | 1);
    for _ in 0..ops {
        let i = rng.below(g.slots.len());
        match rng.below(5) {
            4 => {
                // Fresh objects held only by rooted handles across collections: they must
                // survive (allocated black, or found by the root scan).
                let fresh: Vec<Gc<Node>> = (0..8).map(|_| new_node(&g, &mut rng)).collect();
                for _ in 0..2 {
                    gort::yield_now();
                    let _garbage: Vec<Gc<Node>> = (0..8).map(|_| new_node(&g, &mut rng)).collect();
                }
                fresh.iter().for_each(|n| verify(n));
            }
            0 => {
                let n = new_node(&g, &mut rng);
                *g.slots[i].write() = n;
            }
            1 => {
                let a = g.slots[i].read().clone();
                let b = g.slots[rng.below(g.slots.len())].read().clone();
                let mut e = a.edges.write();
                if e.len() >= 6 {
                    let k = rng.below(e.len());
                    e.swap_remove(k);
                }
                e.push(b);
            }
            _ => {
                let s = g.slots[i].read().clone();
                walk(s, &mut rng, 8);
            }
        }
        if rng.below(64) == 0 {
            gort::yield_now();
        }
    }
}

fn full_check(g: &Graph) -> usize {
    let mut seen = HashSet::new();
    let mut stack: Vec<Gc<Node>> = g.slots.iter().map(|s| s.read().clone()).collect();
    while let Some(n) = stack.pop() {
        if !seen.insert(Gc::as_ptr(&n) as usize) {
            continue;
        }
        verify(&n);
        stack.extend(n.edges.read().iter().cloned());
    }
    seen.len()
}

#[test]
fn goroutines_mutate_a_shared_graph_under_torture() {
    let _s = serial();
    let long = std::env::var_os("GORT_LONG").is_some();
    let ops = if long { 50_000 } else { 4_000 };
    gc::set_checkmark(true);
    gc::set_torture(257);
    run_graph(ops, 0);
    gc::set_torture(0);
    gc::set_checkmark(false);
    assert!(
        gc::num_gc() > 10,
        "torture mode ran only {} cycles",
        gc::num_gc()
    );
}

/// No torture: the background worker marks concurrently with the mutators (GOGC=20 makes
/// cycles back to back), and checkmark verifies every concurrent mark at mark termination.
#[test]
fn concurrent_marking_races_mutators() {
    let _s = serial();
    let long = std::env::var_os("GORT_LONG").is_some();
    let ops = if long { 200_000 } else { 5_000 };
    gc::set_checkmark(true);
    let old = gc::set_gc_percent(20);
    let before = gc::num_gc();
    run_graph(ops, 0);
    gc::set_gc_percent(old);
    gc::set_checkmark(false);
    assert!(
        gc::num_gc() > before + 2,
        "only {} cycles",
        gc::num_gc() - before
    );
}

/// Parallel marking: three dedicated mark workers (the collector and two helper threads) and
/// assists share the work (a ballast list makes each mark long and the assist ratio high:
/// GOGC=10 leaves little runway), while goroutines and threads mutate the graph; checkmark
/// verifies every mark.
#[test]
fn parallel_workers_and_assists_race_mutators() {
    let _s = serial();
    let long = std::env::var_os("GORT_LONG").is_some();
    let ops = if long { 200_000 } else { 5_000 };
    gc::set_checkmark(true);
    gc::set_mark_workers(3);
    let old = gc::set_gc_percent(10);
    let before = gc::num_gc();
    let assists = gc::assist_total_ns();
    run_graph(ops, 150_000);
    gc::set_gc_percent(old);
    gc::set_mark_workers(0);
    gc::set_checkmark(false);
    assert!(
        gc::num_gc() > before + 2,
        "only {} cycles",
        gc::num_gc() - before
    );
    assert!(gc::assist_total_ns() > assists, "no assist ran");
}

#[derive(Trace)]
struct Ballast {
    next: Option<Gc<Ballast>>,
    #[gc(skip)]
    _pad: [u64; 2],
}

fn run_graph(ops: usize, ballast: usize) {
    let rt = gort::Builder::new().gomaxprocs(4).build().unwrap();
    let reachable = rt.block_on(move || {
        let mut list = None;
        for i in 0..ballast as u64 {
            list = Some(Gc::new(Ballast {
                next: list,
                _pad: [i; 2],
            }));
        }
        let mut rng = Rng(42);
        let mut g = Graph { slots: Vec::new() };
        for _ in 0..64 {
            let id = rng.next();
            let payload = vec![rng.next()];
            g.slots.push(GcCell::new(Gc::new(Node {
                id,
                sum: checksum(id, &payload),
                payload,
                edges: GcCell::new(Vec::new()),
            })));
        }
        let g = Gc::new(g);
        let hs: Vec<_> = (0..8u64)
            .map(|w| {
                let g = g.clone();
                gort::go(move || worker(g, 0x5eed + w * 7919, ops))
            })
            .collect();
        // Plain OS threads mutate it too.
        let ts: Vec<_> = (0..2u64)
            .map(|w| {
                let g = g.clone();
                std::thread::spawn(move || worker(g, 0xbeef + w, ops / 2))
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        for t in ts {
            t.join().unwrap();
        }
        gc::gc();
        let mut n = 0;
        let mut cur = list.as_ref();
        while let Some(b) = cur {
            n += 1;
            cur = b.next.as_ref();
        }
        assert_eq!(n, ballast);
        full_check(&g)
    });
    gc::set_torture(0);
    gc::set_checkmark(false);
    assert!(reachable >= 64);
    let before = gc::num_gc();
    gc::gc();
    assert!(gc::num_gc() > before);
    assert!(
        gc::num_gc() > 10,
        "torture mode ran only {} cycles",
        gc::num_gc()
    );
}
