//! `GODEBUG=decoratemappings` (on by default, as in Go 1.25): goroutine stacks and GC spans
//! are named in /proc/self/maps, two mappings per stack as before. Each check runs in a child
//! process (this binary re-run), so no other test's mappings are counted.

use std::process::Command;

use gort::gc::{Gc, Trace};

#[derive(Trace)]
struct Node {
    next: Option<Gc<Node>>,
}

const STACK: &str = "[anon: gort goroutine stack]";
const SPAN: &str = "[anon: gort gc span]";

fn child(godebug: Option<&str>) -> String {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["child_maps", "--exact", "--nocapture", "--test-threads=1"])
        .env("GORT_MAPS_CHILD", "1")
        .env_remove("GODEBUG");
    if let Some(g) = godebug {
        c.env("GODEBUG", g);
    }
    let out = c.output().unwrap();
    let so = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{so}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    so
}

/// Whether this kernel names anonymous mappings (CONFIG_ANON_VMA_NAME): tried on a mapping of
/// the test's own.
fn kernel_names_mappings() -> bool {
    let len = 1 << 16;
    // SAFETY: a fresh anonymous mapping, unmapped below; nothing else refers to it.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED);
        let rc = libc::prctl(
            libc::PR_SET_VMA,
            libc::PR_SET_VMA_ANON_NAME as libc::c_ulong,
            p as libc::c_ulong,
            len as libc::c_ulong,
            c" probe".as_ptr(),
        );
        libc::munmap(p, len);
        rc == 0
    }
}

/// Run by the tests below: 100 parked goroutines and a GC-heap list, then the counts of named
/// lines in /proc/self/maps and the stacks mapped.
#[test]
fn child_maps() {
    if std::env::var_os("GORT_MAPS_CHILD").is_none() {
        return;
    }
    let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
    rt.block_on(|| {
        let mut list = None;
        for _ in 0..10_000 {
            list = Some(Gc::new(Node { next: list.take() }));
        }
        let (tx, rx) = gort::chan::bounded::<()>(0);
        let hs: Vec<_> = (0..100)
            .map(|_| {
                let rx = rx.clone();
                gort::go(move || {
                    let _ = rx.recv();
                })
            })
            .collect();
        // Let them all start (each takes its stack), then read the maps.
        while gort::debug::stack_stats().stacks_mapped < 100 {
            gort::yield_now();
        }
        for _ in 0..100 {
            gort::yield_now();
        }
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let count = |name: &str| maps.lines().filter(|l| l.ends_with(name)).count();
        println!(
            "stack_lines={} span_lines={} stacks_mapped={}",
            count(STACK),
            count(SPAN),
            gort::debug::stack_stats().stacks_mapped
        );
        tx.close().unwrap();
        for h in hs {
            h.join().unwrap();
        }
        assert!(list.is_some());
    });
}

fn counts(so: &str) -> (usize, usize, usize) {
    let line = so
        .lines()
        .find_map(|l| l.split_once("stack_lines=").map(|(_, r)| r))
        .expect("the child's counts");
    let v: Vec<usize> = line
        .split(' ')
        .map(|kv| kv.rsplit('=').next().unwrap().parse().unwrap())
        .collect();
    (v[0], v[1], v[2])
}

#[test]
fn stacks_and_spans_are_named_two_mappings_per_stack() {
    if !kernel_names_mappings() {
        eprintln!(
            "skipped: this kernel refuses PR_SET_VMA_ANON_NAME (built without \
             CONFIG_ANON_VMA_NAME), so mappings cannot be named"
        );
        // gort must run regardless (the refusal is ignored), naming nothing.
        let (stacks, spans, _) = counts(&child(None));
        assert_eq!((stacks, spans), (0, 0));
        return;
    }
    let (stacks, spans, mapped) = counts(&child(None));
    assert!(mapped >= 100);
    // Each stack is its guard page and its usable part, both named: naming did not split or
    // merge anything (gort::mappings_per_stack()).
    assert_eq!(stacks, mapped * gort::mappings_per_stack(), "stack lines");
    assert!(spans >= 1, "no GC span mapping named");

    let (stacks, spans, _) = counts(&child(Some("decoratemappings=0")));
    assert_eq!((stacks, spans), (0, 0), "decoratemappings=0 names nothing");
}
