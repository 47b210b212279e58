//! `AtomicGc<T>` (one-word mutable GC pointer fields): load/store/swap semantics inside and
//! outside the heap, cycles through them are collected, objects reachable only through them
//! survive, and threads and goroutines storing and loading into a shared graph while
//! collections run back to back never see a freed object (checksummed contents; `gccheckmark`
//! verifies every mark; run also under `GODEBUG=gccheckmark=1,gctorture=50`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::gc::{self, AtomicGc, Gc, GcCell, Trace, Weak};

mod gc_common;
use gc_common::{payload, serial, verify_payload, Rng};

#[derive(Trace, Debug)]
struct Item {
    id: u64,
    data: [u64; 4],
    sum: u64,
    next: AtomicGc<Item>,
}

fn item(id: u64) -> Gc<Item> {
    item_with(id, None)
}

fn item_with(id: u64, next: Option<Gc<Item>>) -> Gc<Item> {
    let (data, sum) = payload(id);
    Gc::new(Item {
        id,
        sum,
        data,
        next: AtomicGc::new(next),
    })
}

/// Panics unless `it` is an intact item (any id).
fn verify(it: &Item) {
    verify_payload(it.id, &it.data, it.sum);
}

/// Boehm's GCBench node: Go's is 24 bytes, so is this one.
#[derive(Trace)]
struct BenchNode {
    left: AtomicGc<BenchNode>,
    right: AtomicGc<BenchNode>,
    i: i32,
    j: i32,
}

#[test]
fn one_word() {
    assert_eq!(std::mem::size_of::<AtomicGc<Item>>(), 8);
    assert_eq!(std::mem::size_of::<Option<Gc<Item>>>(), 8);
    assert_eq!(std::mem::size_of::<BenchNode>(), 24);
    fn send_sync<T: Send + Sync>() {}
    send_sync::<AtomicGc<Item>>();
}

#[test]
fn load_store_swap_outside_the_heap() {
    let _s = serial();
    let a = item(1);
    let b = item(2);
    let f: AtomicGc<Item> = AtomicGc::default();
    assert!(f.is_none() && f.load().is_none() && f.take().is_none());
    assert_eq!(format!("{f:?}"), "AtomicGc(None)");
    f.store(Some(a.clone()));
    assert!(f.ptr_eq(&a) && !f.ptr_eq(&b) && !f.is_none());
    assert_eq!(f.load().unwrap().id, 1);
    let old = f.swap(Some(b.clone())).unwrap();
    assert!(Gc::ptr_eq(&old, &a));
    assert!(f.ptr_eq(&b));
    // compare_exchange by identity: fails against `a`, gives the new handle back.
    let back = f.compare_exchange(Some(&a), Some(a.clone())).unwrap_err();
    assert!(Gc::ptr_eq(back.as_ref().unwrap(), &a));
    assert!(f.compare_exchange(Some(&b), None).is_ok());
    assert!(f.is_none());
    assert!(f.compare_exchange(None, Some(a.clone())).is_ok());
    assert!(f.compare_exchange(None, Some(b.clone())).is_err());
    let g = f.into_inner().unwrap();
    assert!(Gc::ptr_eq(&g, &a));
    let h = AtomicGc::from(b.clone());
    assert_eq!(h.take().unwrap().id, 2);
    assert!(h.into_inner().is_none());
}

#[test]
fn load_store_swap_inside_the_heap() {
    let _s = serial();
    let holder = item(0);
    let a = item(1);
    let b = item(2);
    let wa = Gc::downgrade(&a);
    assert!(holder.next.is_none());
    holder.next.store(Some(a.clone()));
    assert!(holder.next.ptr_eq(&a));
    assert_eq!(holder.next.load().unwrap().id, 1);
    drop(a);
    gc::gc();
    assert_eq!(
        wa.upgrade().expect("a is reachable through the field").id,
        1
    );
    let old = holder.next.swap(Some(b.clone())).unwrap();
    assert_eq!(old.id, 1);
    let back = holder.next.compare_exchange(Some(&old), None).unwrap_err();
    assert!(back.is_none());
    assert!(holder.next.compare_exchange(Some(&b), Some(old)).is_ok());
    assert_eq!(holder.next.load().unwrap().id, 1);
    assert_eq!(holder.next.take().unwrap().id, 1);
    assert!(holder.next.is_none());
    assert!(format!("{holder:?}").contains("next: AtomicGc(None)"));
    gc::gc();
    gc::gc();
    assert!(
        wa.upgrade().is_none(),
        "a is unreachable once taken out and dropped"
    );
    verify(&holder);
    verify(&b);
}

#[test]
fn cycles_through_atomic_fields_are_collected() {
    let _s = serial();
    let mut weaks = Vec::new();
    for k in 0..200 {
        let a = item(k);
        let b = item_with(k + 1000, Some(a.clone()));
        a.next.store(Some(b.clone()));
        // A self-loop too.
        let c = item(k + 2000);
        c.next.store(Some(c.clone()));
        weaks.extend([Gc::downgrade(&a), Gc::downgrade(&b), Gc::downgrade(&c)]);
    }
    gc::gc();
    gc::gc();
    assert!(weaks.iter().all(|w| w.upgrade().is_none()));
}

#[test]
fn objects_reachable_only_through_fields_survive() {
    let _s = serial();
    // A list of 2 000 items linked only through AtomicGc fields in the heap.
    let mut head = None;
    for id in 0..2000 {
        head = Some(item_with(id, head.take()));
    }
    let head = head.unwrap();
    let tail_weak = {
        let mut cur = head.clone();
        while let Some(n) = cur.next.load() {
            cur = n;
        }
        Gc::downgrade(&cur)
    };
    for round in 0..3 {
        gc::gc();
        // Garbage in between, so freed slots would be reused.
        for id in 0..2000 {
            std::hint::black_box(item(id + 10_000 * (round + 1)));
        }
    }
    let (mut cur, mut n) = (Some(head.clone()), 0);
    while let Some(it) = cur {
        verify(&it);
        assert_eq!(it.id, 1999 - n);
        n += 1;
        cur = it.next.load();
    }
    assert_eq!(n, 2000);
    assert_eq!(tail_weak.upgrade().unwrap().id, 0);
    // Cut the list in the middle: the second half dies.
    let mut cur = head.clone();
    for _ in 0..999 {
        cur = cur.next.load().unwrap();
    }
    assert_eq!(cur.next.take().unwrap().id, 999);
    drop(cur);
    gc::gc();
    gc::gc();
    assert!(tail_weak.upgrade().is_none());
}

#[test]
fn fields_outside_the_heap_keep_targets_alive() {
    let _s = serial();
    let v: Vec<AtomicGc<Item>> = (0..500).map(|id| AtomicGc::new(Some(item(id)))).collect();
    let weaks: Vec<Weak<Item>> = v
        .iter()
        .map(|f| Gc::downgrade(&f.load().unwrap()))
        .collect();
    for round in 0..3 {
        gc::gc();
        for id in 0..1000 {
            std::hint::black_box(item(id + 10_000 * (round + 1)));
        }
    }
    for (id, f) in v.iter().enumerate() {
        let it = f.load().unwrap();
        verify(&it);
        assert_eq!(it.id, id as u64);
    }
    // Storing into an outside field releases the old target; dropping the field releases its.
    v[0].store(None);
    let last = v[1].swap(Some(item(7777))).unwrap();
    drop(v);
    gc::gc();
    gc::gc();
    assert_eq!(
        weaks[1].upgrade().unwrap().id,
        1,
        "held through the swapped-out handle"
    );
    drop(last);
    gc::gc();
    assert!(weaks.iter().all(|w| w.upgrade().is_none()));
}

#[test]
fn dropping_a_rooted_field_releases_its_target() {
    let _s = serial();
    let a = item(5);
    let w = Gc::downgrade(&a);
    let f = AtomicGc::new(Some(a));
    gc::gc();
    assert_eq!(w.upgrade().unwrap().id, 5);
    drop(f);
    gc::gc();
    assert!(w.upgrade().is_none());
}

#[derive(Trace)]
struct Bag {
    fields: GcCell<Vec<AtomicGc<Item>>>,
    #[gc(skip)]
    kept: AtomicGc<Item>,
}

/// `AtomicGc` inside a heap `GcCell` (root pass when borrowed mutably, unroot pass after) and in
/// a skipped field (stays rooted: dropped with its object).
#[test]
fn atomic_fields_in_cells_and_skipped_fields() {
    let _s = serial();
    let kept = item(9);
    let wk = Gc::downgrade(&kept);
    let bag = Gc::new(Bag {
        fields: GcCell::new((0..4).map(|id| AtomicGc::new(Some(item(id)))).collect()),
        kept: AtomicGc::new(Some(kept)),
    });
    bag.fields.borrow()[1].store(Some(item(11)));
    {
        let mut v = bag.fields.borrow_mut();
        let out = v.swap_remove(0); // a rooted field moved out of the heap
        v.push(AtomicGc::empty());
        v.push(out);
        v[2].store(None);
    }
    gc::gc();
    let ids: Vec<Option<u64>> = bag
        .fields
        .borrow()
        .iter()
        .map(|f| f.load().map(|g| g.id))
        .collect();
    assert_eq!(ids, [Some(3), Some(11), None, None, Some(0)]);
    bag.fields.borrow()[3].store(Some(item(33)));
    gc::gc();
    assert_eq!(bag.fields.borrow()[3].load().unwrap().id, 33);
    for f in bag.fields.borrow().iter() {
        if let Some(g) = f.load() {
            verify(&g)
        }
    }
    assert_eq!(bag.kept.load().unwrap().id, 9);
    drop(bag);
    gc::gc(); // the bag dies; its drop releases the skipped field's rooted handle
    gc::gc();
    assert!(wk.upgrade().is_none());
}

// ---- The race: stores and loads while collections run back to back. ----

const SLOTS: usize = 64;

#[derive(Trace)]
struct Graph {
    slots: Vec<AtomicGc<Item>>,
}

struct Stop {
    stop: AtomicBool,
    ops: AtomicU64,
}

/// Random operations on the shared graph; verifies every item it reaches.
fn mutator(g: &Graph, st: &Stop, seed: u64, goroutine: bool) {
    let mut rng = Rng(seed | 1);
    let mut id = seed << 32;
    let mut held: Vec<(u64, u64, Gc<Item>)> = Vec::new();
    let mut ops = 0;
    while !st.stop.load(Relaxed) {
        let i = rng.below(SLOTS);
        let j = rng.below(SLOTS);
        match rng.below(9) {
            0 => {
                // A fresh chain of 1..4 items stored into a slot.
                let mut head = None;
                for _ in 0..1 + rng.below(4) {
                    id += 1;
                    head = Some(item_with(id, head.take()));
                }
                g.slots[i].store(head);
            }
            1 => {
                // Link slot i's item to slot j's (cycles allowed).
                if let (Some(a), b) = (g.slots[i].load(), g.slots[j].load()) {
                    a.next.store(b);
                }
            }
            2 => {
                // Move: swap two slots' contents through the returned handles.
                let x = g.slots[i].take();
                let y = g.slots[j].swap(x);
                let _ = g.slots[i].compare_exchange(None, y);
            }
            3 => {
                // Reachable only through a heap field: hang a fresh item off slot i's item.
                if let Some(a) = g.slots[i].load() {
                    id += 1;
                    let old = a.next.swap(Some(item(id)));
                    std::hint::black_box(old);
                    if let Some(n) = a.next.load() {
                        verify(&n);
                    }
                }
            }
            4 => {
                // Unlink an item the marker may not have reached yet and hold it only by a
                // rooted handle across the next two cycles (the barrier must keep it).
                if held.len() < 8 {
                    let victim = if rng.below(2) == 0 {
                        g.slots[i].load().and_then(|a| a.next.take())
                    } else {
                        g.slots[i].take()
                    };
                    if let Some(v) = victim {
                        verify(&v);
                        held.push((gc::num_gc(), v.id, v));
                    }
                }
            }
            _ => {
                // Walk up to 16 links.
                let mut cur = g.slots[i].load();
                for _ in 0..16 {
                    match cur {
                        Some(it) => {
                            verify(&it);
                            cur = it.next.load();
                        }
                        None => break,
                    }
                }
            }
        }
        ops += 1;
        if ops % 64 == 0 {
            // Published as it goes: the driver's window waits on this count.
            st.ops.fetch_add(64, Relaxed);
        }
        let n = gc::num_gc();
        held.retain(|(n0, id, h)| {
            assert_eq!(h.id, *id, "a held item was freed and reused");
            verify(h);
            n < n0 + 2
        });
        if goroutine && rng.below(64) == 0 {
            gort::yield_now();
        }
    }
    st.ops.fetch_add(ops % 64, Relaxed);
}

/// Every item reachable from the graph, verified; returns how many.
fn full_check(g: &Graph) -> usize {
    let mut seen = std::collections::HashSet::new();
    let mut stack: Vec<Gc<Item>> = g.slots.iter().filter_map(AtomicGc::load).collect();
    while let Some(n) = stack.pop() {
        if !seen.insert(Gc::as_ptr(&n) as usize) {
            continue;
        }
        verify(&n);
        stack.extend(n.next.load());
    }
    seen.len()
}

#[test]
fn threads_store_and_load_while_collections_run() {
    let _s = serial();
    gc::set_checkmark(true);
    let run_for = Duration::from_millis(if cfg!(debug_assertions) { 1200 } else { 2000 });
    // The graph's first items, then live ballast linked through AtomicGc fields and built
    // head first, then the graph object: the root scan finds the ballast's head in the span of
    // the first items (which it has then passed) and walks the whole chain before it reaches
    // the graph's later span. Items unlinked from the graph meanwhile and held only by rooted
    // handles are kept by the barrier alone (`gccheckmark` aborts otherwise).
    let first: Vec<AtomicGc<Item>> = (0..SLOTS as u64)
        .map(|id| AtomicGc::new(Some(item(id))))
        .collect();
    let ballast = item(0);
    let mut tail = ballast.clone();
    for id in 1..20_000 {
        let n = item(id);
        tail.next.store(Some(n.clone()));
        tail = n;
    }
    drop(tail);
    let g = Gc::new(Graph { slots: first });
    let st = Arc::new(Stop {
        stop: AtomicBool::new(false),
        ops: AtomicU64::new(0),
    });
    let before = gc::num_gc();
    let mut ts = Vec::new();
    for k in 0..2u64 {
        let (g, st) = (g.clone(), st.clone());
        ts.push(std::thread::spawn(move || {
            mutator(&g, &st, 0x5eed + k, false)
        }));
    }
    {
        let st = st.clone();
        ts.push(std::thread::spawn(move || {
            while !st.stop.load(Relaxed) {
                gc::gc();
            }
        }));
    }
    let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
    let (g2, st2) = (g.clone(), st.clone());
    let t0 = Instant::now();
    rt.block_on(move || {
        let hs: Vec<_> = (0..4u64)
            .map(|k| {
                let (g, st) = (g2.clone(), st2.clone());
                gort::go(move || mutator(&g, &st, 0xbeef + k, true))
            })
            .collect();
        // At least `run_for`, and on until the mutators have done the work the asserts below
        // ask for (under GODEBUG=gctorture on a loaded machine a stall can eat the window: CI
        // saw 905 ops), within a cap that still ends a run whose mutators make no progress.
        while t0.elapsed() < run_for
            || (st2.ops.load(Relaxed) <= 1000 && t0.elapsed() < run_for * 15)
        {
            gort::time::sleep(Duration::from_millis(10));
        }
        st2.stop.store(true, Relaxed);
        for h in hs {
            h.join().unwrap();
        }
    });
    st.stop.store(true, Relaxed);
    for t in ts {
        t.join().unwrap();
    }
    gc::gc();
    let n = full_check(&g);
    assert!(n >= 1);
    // The ballast survived intact.
    let (mut cur, mut len) = (Some(ballast), 0);
    while let Some(it) = cur {
        verify(&it);
        len += 1;
        cur = it.next.load();
    }
    assert_eq!(len, 20_000);
    gc::set_checkmark(std::env::var("GODEBUG").is_ok_and(|d| d.contains("gccheckmark=1")));
    let cycles = gc::num_gc() - before;
    assert!(cycles >= 3, "only {cycles} cycles");
    assert!(
        st.ops.load(Relaxed) > 1000,
        "only {} ops",
        st.ops.load(Relaxed)
    );
}
