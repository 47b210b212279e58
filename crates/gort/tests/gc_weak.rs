//! Weak handles (`gort::gc::Weak`, Go's `weak.Pointer`): an upgrade returns the object while
//! it is strongly reachable (from a root or through heap edges), `None` once a collection found
//! it dead (cycles too, drops included), never a freed object, also when upgrades race
//! collections (checksummed contents; freed memory is poisoned under torture).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gort::gc::{self, Gc, GcCell, Trace, Weak};

mod gc_common;
use gc_common::{env_torture, payload, serial, verify_payload, Rng};

#[derive(Trace)]
struct Item {
    id: u64,
    data: [u64; 6],
    sum: u64,
    next: GcCell<Option<Gc<Item>>>,
}

fn item(id: u64) -> Gc<Item> {
    let (data, sum) = payload(id);
    Gc::new(Item {
        id,
        sum,
        data,
        next: GcCell::new(None),
    })
}

/// Panics unless `it` is an intact item (any id).
fn verify(it: &Item) {
    verify_payload(it.id, &it.data, it.sum);
}

#[test]
fn upgrade_returns_the_object_until_it_dies() {
    let _s = serial();
    let g = item(7);
    let w = Gc::downgrade(&g);
    let u = w.upgrade().expect("alive");
    assert!(Gc::ptr_eq(&g, &u));
    verify(&u);
    let w2 = w.clone();
    assert!(Weak::ptr_eq(&w, &w2));
    assert!(Weak::ptr_eq(&w, &Gc::downgrade(&u)));
    gc::gc();
    assert!(Gc::ptr_eq(&w2.upgrade().unwrap(), &g));
    drop((u, g));
    gc::gc();
    assert!(w.upgrade().is_none());
    assert!(w2.upgrade().is_none());
    assert!(Weak::ptr_eq(&w, &w2), "equality survives the object");
    assert!(Weak::<Item>::new().upgrade().is_none());
    assert_eq!(format!("{w:?}"), "(Weak)");
}

#[test]
fn cycles_reachable_only_through_weak_handles_are_collected() {
    let _s = serial();
    let a = item(1);
    let b = item(2);
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    let (wa, wb) = (Gc::downgrade(&a), Gc::downgrade(&b));
    drop((a, b));
    // An upgrade before the collection resurrects the cycle for as long as it is held.
    let held = wa.upgrade().unwrap();
    gc::gc();
    assert_eq!(wb.upgrade().unwrap().id, 2);
    drop(held);
    gc::gc();
    assert!(wa.upgrade().is_none());
    assert!(wb.upgrade().is_none());
}

#[derive(Trace)]
struct TreeNode {
    v: u64,
    parent: GcCell<Weak<TreeNode>>,
    children: GcCell<Vec<Gc<TreeNode>>>,
}

#[test]
fn weak_parent_pointers_in_the_heap_do_not_keep_a_tree_alive() {
    let _s = serial();
    let root = Gc::new(TreeNode {
        v: 0,
        parent: GcCell::new(Weak::new()),
        children: GcCell::new(Vec::new()),
    });
    for v in 1..=10 {
        let c = Gc::new(TreeNode {
            v,
            parent: GcCell::new(Gc::downgrade(&root)),
            children: GcCell::new(Vec::new()),
        });
        root.children.borrow_mut().push(c);
    }
    gc::gc();
    let weaks: Vec<Weak<TreeNode>> = root.children.borrow().iter().map(Gc::downgrade).collect();
    for c in root.children.borrow().iter() {
        let p = c.parent.borrow().upgrade().expect("parent alive");
        assert!(Gc::ptr_eq(&p, &root));
        assert_eq!(p.v, 0);
    }
    let wroot = Gc::downgrade(&root);
    drop(root);
    gc::gc();
    assert!(wroot.upgrade().is_none());
    assert!(weaks.iter().all(|w| w.upgrade().is_none()));
}

#[derive(Trace)]
struct Holder {
    child: Gc<Item>,
    cell: GcCell<Option<Gc<Item>>>,
}

#[test]
fn objects_reachable_through_heap_edges_stay_upgradeable() {
    let _s = serial();
    let holder = Gc::new(Holder {
        child: item(10),
        cell: GcCell::new(Some(item(11))),
    });
    let w10 = Gc::downgrade(&holder.child);
    let w11 = Gc::downgrade(holder.cell.borrow().as_ref().unwrap());
    for _ in 0..3 {
        gc::gc();
        let c = w10.upgrade().expect("reachable through a field");
        verify(&c);
        assert_eq!(c.id, 10);
        assert_eq!(w11.upgrade().expect("reachable through a cell").id, 11);
    }
    // Unlinking the cell's item kills it; the field's item lives as long as the holder.
    *holder.cell.borrow_mut() = None;
    gc::gc();
    assert!(w11.upgrade().is_none());
    assert_eq!(w10.upgrade().unwrap().id, 10);
    drop(holder);
    gc::gc();
    assert!(w10.upgrade().is_none());
}

static DROPS: AtomicUsize = AtomicUsize::new(0);
static UPGRADED_IN_DROP: AtomicUsize = AtomicUsize::new(0);

struct Probe {
    me: Arc<Mutex<Weak<Finalized>>>,
}
impl Drop for Probe {
    fn drop(&mut self) {
        DROPS.fetch_add(1, SeqCst);
        // The object is being dropped: its weak handles must already be cleared.
        if self.me.lock().unwrap().upgrade().is_some() {
            UPGRADED_IN_DROP.fetch_add(1, SeqCst);
        }
    }
}

#[derive(Trace)]
struct Finalized {
    id: u64,
    #[gc(skip)]
    probe: Probe,
    #[gc(skip)]
    tally: Arc<AtomicUsize>,
}

#[test]
fn weak_handles_are_cleared_before_drops_run_once() {
    let _s = serial();
    DROPS.store(0, SeqCst);
    UPGRADED_IN_DROP.store(0, SeqCst);
    let tally = Arc::new(AtomicUsize::new(0));
    let (mut weaks, mut strong) = (Vec::new(), Vec::new());
    for id in 0..200 {
        let me = Arc::new(Mutex::new(Weak::new()));
        let g = Gc::new(Finalized {
            id,
            probe: Probe { me: me.clone() },
            tally: tally.clone(),
        });
        *me.lock().unwrap() = Gc::downgrade(&g);
        weaks.push(Gc::downgrade(&g));
        if id % 2 == 0 {
            weaks.push(Gc::downgrade(&g)); // the same slot
        }
        strong.push(g);
    }
    gc::gc();
    assert_eq!(Arc::strong_count(&tally), 201);
    assert_eq!(DROPS.load(SeqCst), 0);
    assert!(weaks
        .iter()
        .all(|w| w.upgrade().is_some_and(|g| g.id < 200)));
    drop(strong);
    gc::gc();
    assert_eq!(DROPS.load(SeqCst), 200);
    assert_eq!(UPGRADED_IN_DROP.load(SeqCst), 0);
    assert!(weaks.iter().all(|w| w.upgrade().is_none()));
    assert_eq!(Arc::strong_count(&tally), 1, "every drop ran");
    gc::gc();
    gc::gc();
    assert_eq!(DROPS.load(SeqCst), 200, "each drop ran once");
}

#[test]
fn the_registry_drops_entries_without_weak_handles() {
    let _s = serial();
    gc::gc();
    let base = gc::weak_slots();
    let live: Vec<Gc<Item>> = (0..500).map(item).collect();
    let weaks: Vec<Weak<Item>> = live.iter().map(Gc::downgrade).collect();
    let again: Vec<Weak<Item>> = live.iter().map(Gc::downgrade).collect();
    assert_eq!(gc::weak_slots(), base + 500, "one entry per object");
    drop((weaks, again));
    gc::gc();
    assert!(
        gc::weak_slots() <= base,
        "entries of objects without weak handles pruned"
    );
    assert_eq!(live.iter().map(|g| g.id).sum::<u64>(), 500 * 499 / 2);
    let weaks: Vec<Weak<Item>> = live.iter().map(Gc::downgrade).collect();
    drop(live);
    gc::gc();
    assert!(gc::weak_slots() <= base, "entries of dead objects pruned");
    assert!(weaks.iter().all(|w| w.upgrade().is_none()));
}

const SLOTS: usize = 64;

struct Shared {
    /// The weak handle of each slot's current item and the id it must have.
    table: Vec<Mutex<(u64, Weak<Item>)>>,
    stop: AtomicBool,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Upgrades random slots until told to stop; every object it gets must be the one the slot
/// was made for, intact, and so must the items it links to. Some are held until two more
/// cycles completed (an upgrade the collector missed would be freed and poisoned or reused by
/// then).
fn upgrader(sh: &Shared, seed: u64) {
    let mut rng = Rng(seed);
    let mut held: Vec<(u64, u64, Gc<Item>)> = Vec::new();
    while !sh.stop.load(Relaxed) {
        let (id, w) = sh.table[rng.below(SLOTS)].lock().unwrap().clone();
        match w.upgrade() {
            Some(g) => {
                sh.hits.fetch_add(1, Relaxed);
                assert_eq!(g.id, id, "upgrade returned another object");
                verify(&g);
                if let Some(n) = g.next.read().as_ref() {
                    verify(n);
                }
                if held.len() < 16 {
                    held.push((gc::num_gc(), id, g));
                }
            }
            None => {
                sh.misses.fetch_add(1, Relaxed);
            }
        }
        let n = gc::num_gc();
        held.retain(|(n0, id, g)| {
            assert_eq!(g.id, *id, "a held upgrade was freed and reused");
            verify(g);
            n < n0 + 2
        });
        if rng.below(64) == 0 {
            std::thread::yield_now();
        }
    }
}

/// Replaces random slots' items (keeping some strongly, some only through another item's
/// edge, dropping the rest), so objects die while upgraders race the collector.
fn owner(sh: &Shared, seed: u64) {
    let mut rng = Rng(seed);
    let mut strong: Vec<Option<Gc<Item>>> = (0..SLOTS).map(|_| None).collect();
    let mut id = seed << 32;
    while !sh.stop.load(Relaxed) {
        let i = rng.below(SLOTS);
        id += 1;
        let g = item(id);
        let w = Gc::downgrade(&g);
        match rng.below(3) {
            0 => strong[i] = Some(g),
            1 => {
                // Reachable only through a heap edge from another kept item (if any).
                let j = rng.below(SLOTS);
                match &strong[j] {
                    Some(h) if j != i => *h.next.write() = Some(g),
                    _ => strong[i] = None,
                }
            }
            _ => strong[i] = None,
        }
        *sh.table[i].lock().unwrap() = (id, w);
        if rng.below(16) == 0 {
            std::thread::yield_now();
        }
    }
}

/// Live ballast: each cycle's concurrent mark takes a while, so upgrades land in it.
fn ballast(n: u64) -> Option<Gc<Item>> {
    let mut head = None;
    for id in 0..n {
        let it = item(id);
        *it.next.borrow_mut() = head.take();
        head = Some(it);
    }
    head
}

fn check_ballast(b: &Option<Gc<Item>>, n: u64) {
    let (mut cur, mut len) = (b.clone(), 0);
    while let Some(it) = cur {
        verify(&it);
        len += 1;
        cur = it.next.borrow().clone();
    }
    assert_eq!(len, n);
}

fn race(run_for: Duration, seed: u64) -> (u64, u64) {
    let sh = Arc::new(Shared {
        table: (0..SLOTS).map(|_| Mutex::new((0, Weak::new()))).collect(),
        stop: AtomicBool::new(false),
        hits: AtomicU64::new(0),
        misses: AtomicU64::new(0),
    });
    let mut ts = Vec::new();
    for k in 0..2 {
        let sh = sh.clone();
        ts.push(std::thread::spawn(move || upgrader(&sh, seed + k)));
    }
    {
        let sh = sh.clone();
        ts.push(std::thread::spawn(move || owner(&sh, seed + 100)));
    }
    {
        let sh = sh.clone();
        ts.push(std::thread::spawn(move || {
            while !sh.stop.load(Relaxed) {
                gc::gc();
            }
        }));
    }
    // Goroutines upgrade too.
    let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
    let gsh = sh.clone();
    let h = std::thread::spawn(move || {
        rt.block_on(move || {
            let hs: Vec<_> = (0..2u64)
                .map(|k| {
                    let sh = gsh.clone();
                    gort::go(move || upgrader(&sh, seed + 10 + k))
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        })
    });
    let end = Instant::now() + run_for;
    while Instant::now() < end && !ts.iter().any(|t| t.is_finished()) {
        std::thread::sleep(Duration::from_millis(10));
    }
    sh.stop.store(true, Relaxed);
    for t in ts {
        t.join().unwrap();
    }
    h.join().unwrap();
    // All strong handles are gone now (the owner's and the upgraders'): everything dies.
    gc::gc();
    for s in &sh.table {
        assert!(s.lock().unwrap().1.upgrade().is_none());
    }
    (sh.hits.load(Relaxed), sh.misses.load(Relaxed))
}

#[test]
fn upgrades_race_collections() {
    let _s = serial();
    let b = ballast(20_000);
    let (hits, misses) = race(Duration::from_millis(500), 0x5eed);
    assert!(hits > 0 && misses > 0, "hits {hits}, misses {misses}");
    // Torture: a cycle every few allocations, freed objects poisoned with 0xdb.
    let restore = env_torture();
    gc::set_torture(16);
    let r = std::panic::catch_unwind(|| race(Duration::from_millis(300), 0xbeef));
    gc::set_torture(restore);
    let (hits, _) = r.unwrap_or_else(|e| std::panic::resume_unwind(e));
    assert!(hits > 0);
    check_ballast(&b, 20_000);
}
