//! The GC heap's contract: reachable objects survive (whatever holds their handles), the
//! unreachable are freed (cycles too), drops run exactly once, knobs and statistics work.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;

use gort::gc::{self, Gc, GcCell, Trace};

mod gc_common;
use gc_common::serial;

#[derive(Trace)]
struct Node {
    value: u64,
    next: Option<Gc<Node>>,
}

fn list(n: u64) -> Option<Gc<Node>> {
    let mut head = None;
    for value in 0..n {
        head = Some(Gc::new(Node { value, next: head }));
    }
    head
}

fn sum(mut l: Option<&Gc<Node>>) -> u64 {
    let mut s = 0;
    while let Some(n) = l {
        s += n.value;
        l = n.next.as_ref();
    }
    s
}

#[test]
fn reachable_objects_survive_collections() {
    let _s = serial();
    let l = list(10_000);
    let boxed = Box::new(list(100));
    let v: Vec<_> = (0..50)
        .map(|i| {
            Gc::new(Node {
                value: i,
                next: None,
            })
        })
        .collect();
    for _ in 0..3 {
        gc::gc();
        let _garbage = list(1000);
    }
    assert_eq!(sum(l.as_ref()), 10_000 * 9_999 / 2);
    assert_eq!(sum(boxed.as_ref().as_ref()), 100 * 99 / 2);
    assert_eq!(v.iter().map(|n| n.value).sum::<u64>(), 50 * 49 / 2);
}

#[test]
fn garbage_is_freed_and_stats_move() {
    let _s = serial();
    gc::gc();
    let before = gort::read_mem_stats();
    {
        let _l = list(100_000);
        let live = gc::heap_live();
        // 16-byte nodes in 16-byte slots: objects carry no header.
        assert!(live >= 100_000 * 16, "{live}");
    }
    gc::gc();
    let after = gort::read_mem_stats();
    assert!(after.num_gc > before.num_gc);
    assert!(after.frees >= before.frees + 100_000);
    assert!(after.num_forced_gc > before.num_forced_gc);
    assert!(after.pause_total_ns > before.pause_total_ns);
    let newest = after.pause_ns[((after.num_gc as usize) + 255) % 256];
    assert!(newest > 0);
    assert!(after.next_gc >= 4 << 20);
    assert!(after.gc_heap_alloc < 2 << 20, "{}", after.gc_heap_alloc);
}

#[derive(Trace)]
struct CycleNode {
    other: GcCell<Option<Gc<CycleNode>>>,
    #[gc(skip)]
    _tracker: Tracker,
}

static DROPS: AtomicUsize = AtomicUsize::new(0);
struct Tracker;
impl Drop for Tracker {
    fn drop(&mut self) {
        DROPS.fetch_add(1, SeqCst);
    }
}

#[test]
fn cycles_are_collected_and_dropped_once() {
    let _s = serial();
    DROPS.store(0, SeqCst);
    for _ in 0..1000 {
        let a = Gc::new(CycleNode {
            other: GcCell::new(None),
            _tracker: Tracker,
        });
        let b = Gc::new(CycleNode {
            other: GcCell::new(Some(a.clone())),
            _tracker: Tracker,
        });
        *a.other.borrow_mut() = Some(b.clone());
    }
    // (Under GODEBUG=gctorture some pairs are collected already.)
    assert!(DROPS.load(SeqCst) <= 2000);
    gc::gc();
    assert_eq!(DROPS.load(SeqCst), 2000);
    gc::gc();
    gc::gc();
    assert_eq!(DROPS.load(SeqCst), 2000);
}

#[derive(Trace)]
struct Holder {
    slot: GcCell<Option<Gc<Node>>>,
    many: GcCell<Vec<Gc<Node>>>,
}

#[test]
fn handles_moved_out_of_cells_stay_alive() {
    let _s = serial();
    let h = Gc::new(Holder {
        slot: GcCell::new(list(10)),
        many: GcCell::new(Vec::new()),
    });
    let taken = h.slot.borrow_mut().take();
    gc::gc();
    let _garbage = list(5000);
    gc::gc();
    assert_eq!(sum(taken.as_ref()), 45);
    // Moved back in: an edge again, kept alive through `h`.
    *h.slot.borrow_mut() = taken;
    h.many.borrow_mut().extend((0..100).map(|i| {
        Gc::new(Node {
            value: i,
            next: None,
        })
    }));
    gc::gc();
    assert_eq!(sum(h.slot.borrow().as_ref()), 45);
    assert_eq!(h.many.borrow().iter().map(|n| n.value).sum::<u64>(), 4950);
    assert!(h.slot.try_borrow_mut().is_ok());
    let r = h.slot.borrow();
    assert!(h.slot.try_borrow_mut().is_err());
    drop(r);
}

static GLOBAL: Mutex<Option<Gc<Node>>> = Mutex::new(None);

#[test]
fn handles_in_statics_and_other_threads_survive() {
    let _s = serial();
    *GLOBAL.lock().unwrap() = list(1000);
    let shared = list(2000);
    let hs: Vec<_> = (0..4)
        .map(|_| {
            let mine = shared.clone();
            std::thread::spawn(move || {
                for _ in 0..20 {
                    let _g = list(500);
                }
                gc::gc();
                sum(mine.as_ref())
            })
        })
        .collect();
    for h in hs {
        assert_eq!(h.join().unwrap(), 2000 * 1999 / 2);
    }
    gc::gc();
    assert_eq!(sum(GLOBAL.lock().unwrap().as_ref()), 1000 * 999 / 2);
    *GLOBAL.lock().unwrap() = None;
}

#[test]
fn torture_and_checkmark_keep_lists_intact() {
    let _s = serial();
    gc::set_checkmark(true);
    gc::set_torture(97);
    let keep = list(3000);
    let mut rebuilt = 0;
    for round in 0..20u64 {
        let l = list(round * 10);
        rebuilt += sum(l.as_ref());
    }
    gc::set_torture(0);
    gc::set_checkmark(false);
    assert_eq!(sum(keep.as_ref()), 3000 * 2999 / 2);
    assert_eq!(
        rebuilt,
        (0..20u64)
            .map(|r| (r * 10) * (r * 10).saturating_sub(1) / 2)
            .sum()
    );
}

#[derive(Trace)]
enum Tree {
    Leaf(u32),
    Pair(Gc<Tree>, Gc<Tree>),
    Big(Box<[u64; 8192]>, #[gc(skip)] String),
}

#[test]
fn enums_large_objects_and_boxes() {
    let _s = serial();
    let big = Gc::new(Tree::Big(Box::new([7; 8192]), "x".into()));
    let t = Gc::new(Tree::Pair(Gc::new(Tree::Leaf(1)), big));
    let large = Gc::new([3u64; 10_000]); // 80 KB: a large object
    gc::gc();
    match &*t {
        Tree::Pair(a, b) => {
            assert!(matches!(**a, Tree::Leaf(1)));
            assert!(matches!(&**b, Tree::Big(v, s) if v[8191] == 7 && s == "x"));
        }
        _ => panic!(),
    }
    assert_eq!(large.iter().sum::<u64>(), 30_000);
}

#[test]
fn gogc_and_memory_limit_setters() {
    let _s = serial();
    let old = gc::set_gc_percent(50);
    assert_eq!(gc::set_gc_percent(old), 50);
    let old = gc::set_memory_limit(-1);
    assert_eq!(old, i64::MAX);
    assert_eq!(gc::set_memory_limit(1 << 40), i64::MAX);
    assert_eq!(gc::set_memory_limit(i64::MAX), 1 << 40);
}

#[test]
fn sync_pool_is_cleared_by_gc() {
    let _s = serial();
    let p = gort::sync::Pool::<u32>::empty();
    p.put(7);
    gc::gc();
    assert_eq!(p.try_get(), None);
    p.put(8);
    assert_eq!(p.try_get(), Some(8));
}

/// Spans are typed (one type per span, no per-object header): many types of one size class
/// interleaved, more than a cache keeps spans for, with and without drop glue, all survive
/// collections with their contents and their own `trace`/`drop`.
#[test]
#[allow(non_snake_case)]
fn many_types_of_one_size_class_interleave() {
    let _s = serial();
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    struct Counted;
    impl Drop for Counted {
        fn drop(&mut self) {
            DROPS.fetch_add(1, SeqCst);
        }
    }
    macro_rules! types {
        ($($t:ident),*) => {$(
            #[derive(Trace)]
            struct $t {
                tag: u32,
                next: Option<Gc<$t>>,
            }
        )*};
    }
    types!(T0, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11);
    #[derive(Trace)]
    struct D {
        next: Option<Gc<D>>,
        #[gc(skip)]
        _c: Counted,
    }
    assert_eq!(std::mem::size_of::<T0>(), 16);
    assert_eq!(std::mem::size_of::<D>(), 8);
    macro_rules! lists {
        ($($t:ident = $k:expr),*) => {{
            $(let mut $t: Option<Gc<$t>> = None;)*
            let mut d: Option<Gc<D>> = None;
            for i in 0..3000u32 {
                $($t = Some(Gc::new($t { tag: $k * 100_000 + i, next: $t.take() }));)*
                let g = Gc::new(D { next: None, _c: Counted });
                if i % 2 == 0 {
                    d = Some(Gc::new(D { next: d.take(), _c: Counted }));
                }
                drop(g);
                if i % 1000 == 999 {
                    gc::gc();
                }
            }
            gc::gc();
            $(
                let mut n = 0;
                let mut cur = $t.as_ref();
                while let Some(c) = cur {
                    assert_eq!(c.tag, $k * 100_000 + 2999 - n, "{}", stringify!($t));
                    n += 1;
                    cur = c.next.as_ref();
                }
                assert_eq!(n, 3000);
            )*
            let mut n = 0;
            let mut cur = d.as_ref();
            while let Some(c) = cur {
                n += 1;
                cur = c.next.as_ref();
            }
            assert_eq!(n, 1500);
            drop(d);
        }};
    }
    DROPS.store(0, SeqCst);
    lists!(
        T0 = 0,
        T1 = 1,
        T2 = 2,
        T3 = 3,
        T4 = 4,
        T5 = 5,
        T6 = 6,
        T7 = 7,
        T8 = 8,
        T9 = 9,
        T10 = 10,
        T11 = 11
    );
    gc::gc();
    gc::gc();
    assert_eq!(DROPS.load(SeqCst), 4500);
}

/// `gort::debug::free_os_memory` (Go's `debug.FreeOSMemory`) collects and returns every free
/// span's pages at once, past the scavenger's per-cycle rate limit.
#[test]
fn free_os_memory_returns_free_spans() {
    let _s = serial();
    // Under GODEBUG=gctorture=50 (CI) building the list would collect, and re-mark with
    // gccheckmark, every 50 allocations: quadratic, four minutes. Torture the collection,
    // not the build.
    gort::gc::set_torture(0);
    {
        let _l = list(400_000); // ~6 MB of 16-byte nodes
    }
    gort::gc::set_torture(gc_common::godebug_torture());
    gort::debug::free_os_memory();
    let m = gort::read_mem_stats();
    assert!(m.heap_released >= 4 << 20, "released {}", m.heap_released);
    assert_eq!(
        m.heap_idle, m.heap_released,
        "free spans still holding pages after free_os_memory"
    );
}

static SET_DROPS: AtomicUsize = AtomicUsize::new(0);
struct SetTracker;
impl Drop for SetTracker {
    fn drop(&mut self) {
        SET_DROPS.fetch_add(1, SeqCst);
    }
}

/// A graph node whose edges are sets of handles (pointer-identity `Hash`/`Ord` make `Gc` a
/// set element for any `T`).
#[derive(Trace)]
struct GraphNode {
    id: u64,
    out: GcCell<std::collections::HashSet<Gc<GraphNode>>>,
    ordered: GcCell<std::collections::BTreeSet<Gc<GraphNode>>>,
    hits: std::sync::atomic::AtomicU64, // atomics are Trace: no #[gc(skip)] needed
    #[gc(skip)]
    _tracker: SetTracker,
}

fn graph_node(id: u64) -> Gc<GraphNode> {
    Gc::new(GraphNode {
        id,
        out: GcCell::new(Default::default()),
        ordered: GcCell::new(Default::default()),
        hits: Default::default(),
        _tracker: SetTracker,
    })
}

#[test]
fn sets_tuples_atomics_and_arcs_trace() {
    use std::collections::{BTreeSet, HashSet};
    use std::sync::Arc;
    let _s = serial();
    SET_DROPS.store(0, SeqCst);

    // Cycles through HashSet and BTreeSet edges: members are traced, not rooted, so the
    // cycles are collected once unreachable, while a reachable node keeps its set's members.
    let keep = graph_node(0);
    for round in 0..100u64 {
        let nodes: Vec<_> = (1..=10).map(|i| graph_node(round * 100 + i)).collect();
        for (i, n) in nodes.iter().enumerate() {
            let next = nodes[(i + 1) % nodes.len()].clone();
            n.out.borrow_mut().insert(next.clone());
            n.ordered.borrow_mut().insert(next);
            n.hits.fetch_add(1, SeqCst);
        }
        if round == 0 {
            keep.out.borrow_mut().insert(nodes[0].clone());
            keep.ordered.borrow_mut().insert(nodes[3].clone());
        }
    }
    gc::gc();
    gc::gc();
    assert_eq!(
        SET_DROPS.load(SeqCst),
        990,
        "cycles through sets must be collected"
    );
    // The kept ring is intact: walk it through both kinds of set.
    let mut at = keep.out.borrow().iter().next().unwrap().clone();
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(at.id);
        let next = at.out.borrow().iter().next().unwrap().clone();
        assert!(at.ordered.borrow().contains(&next));
        at = next;
    }
    ids.sort();
    assert_eq!(ids, (1..=10).collect::<Vec<_>>());
    drop(at);
    keep.out.borrow_mut().clear();
    keep.ordered.borrow_mut().clear();
    gc::gc();
    assert_eq!(SET_DROPS.load(SeqCst), 1000);

    // Sets moved into the heap directly (the unroot pass rebuilds them), and an empty one.
    let members: Vec<_> = (0..50)
        .map(|value| Gc::new(Node { value, next: None }))
        .collect();
    let hs: Gc<HashSet<Gc<Node>>> = Gc::new(members.iter().cloned().collect());
    let bs: Gc<BTreeSet<Gc<Node>>> = Gc::new(members.iter().cloned().collect());
    let empty: Gc<HashSet<Gc<Node>>> = Gc::new(HashSet::new());
    drop(members);
    let _garbage = list(5000);
    gc::gc();
    assert_eq!(hs.iter().map(|n| n.value).sum::<u64>(), 1225);
    assert_eq!(bs.iter().map(|n| n.value).sum::<u64>(), 1225);
    assert!(bs.iter().zip(bs.iter().skip(1)).all(|(a, b)| a < b));
    assert!(empty.is_empty());

    // Tuples up to 12 and arrays visit every element.
    let t = Gc::new((
        list(3),
        1u8,
        2u16,
        3u32,
        4u64,
        5i8,
        6i16,
        7i32,
        'x',
        true,
        1.5f64,
        list(4),
    ));
    let a = Gc::new([list(2), list(5)]);
    gc::gc();
    let _garbage = list(5000);
    gc::gc();
    assert_eq!((sum(t.0.as_ref()), sum(t.11.as_ref()), t.3), (3, 6, 3));
    assert_eq!((sum(a[0].as_ref()), sum(a[1].as_ref())), (1, 10));

    // An Arc's contents stay rooted (it may be shared outside the heap): a clone taken out of
    // a dead heap object still reaches its list, which is freed only with the last Arc.
    let shared = Arc::new(std::sync::Mutex::new(list(100)));
    let holder = Gc::new((Arc::clone(&shared), 0u8));
    let out = Arc::clone(&holder.0);
    drop((holder, shared));
    gc::gc();
    let _garbage = list(5000);
    gc::gc();
    assert_eq!(sum(out.lock().unwrap().as_ref()), 4950);
    let ptr = Arc::new(std::sync::atomic::AtomicPtr::new(std::ptr::null_mut::<u8>()));
    let _g = Gc::new((ptr, std::sync::atomic::AtomicBool::new(true)));
}

#[test]
fn gc_compares_by_identity() {
    use std::collections::{BTreeMap, HashMap, HashSet};
    let _s = serial();
    // Like Go's `==` on pointers: the same object, not equal values; `T` needs no PartialEq.
    struct Opaque(#[allow(dead_code)] u32);
    // SAFETY: holds no handles.
    unsafe impl Trace for Opaque {
        fn trace<V: gort::gc::Visitor>(&self, _: &mut V) {}
        fn trace_mut<V: gort::gc::Visitor>(&mut self, _: &mut V) {}
    }
    let a = Gc::new(Opaque(1));
    let b = Gc::new(Opaque(1));
    let a2 = a.clone();
    assert!(a == a2 && a != b);
    let mut set = HashSet::new();
    assert!(set.insert(a.clone()));
    assert!(!set.insert(a2.clone()), "a clone is the same key");
    assert!(set.insert(b.clone()));
    let mut map = HashMap::new();
    map.insert(a.clone(), "a");
    assert_eq!(map.get(&a2), Some(&"a"));
    assert_eq!(map.get(&b), None);
    // Ord by address: total, consistent with ==, stable across collections (no moving).
    assert_eq!(a.cmp(&a2), std::cmp::Ordering::Equal);
    assert_eq!(a < b, Gc::as_ptr(&a) < Gc::as_ptr(&b));
    let mut tree = BTreeMap::new();
    tree.insert(b.clone(), 2);
    tree.insert(a.clone(), 1);
    let before: Vec<_> = tree.keys().map(Gc::as_ptr).collect();
    gc::gc();
    let _garbage = list(5000);
    gc::gc();
    let after: Vec<_> = tree.keys().map(Gc::as_ptr).collect();
    assert_eq!(before, after);
    assert_eq!(tree[&a2], 1);
}
