//! Go's own `go tool pprof` reads every profile kind gort writes and names the functions
//! that should be there. Skips (with a message) only when `go` is not on PATH.
//!
//! One `#[test]`: profiling state is process-wide.

mod common;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use gort::alloc::{set_mem_profile_rate, CountingAlloc, DEFAULT_MEM_PROFILE_RATE};

#[global_allocator]
static A: CountingAlloc = CountingAlloc::system();

/// Burns `budget` of CPU time (not wall time: the profile's samples count CPU time).
#[inline(never)]
fn gotool_cpu_burner(budget: Duration) -> u64 {
    common::spin_cpu(budget)
}

#[inline(never)]
fn gotool_allocator(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|_| black_box(vec![3u8; 4096])).collect()
}

#[inline(never)]
fn gotool_unlocker(m: &gort::sync::Mutex<u32>) {
    let g = m.lock();
    gort::time::sleep(Duration::from_millis(2));
    drop(black_box(g));
}

#[inline(never)]
fn gotool_receiver(rx: &gort::chan::Receiver<u32>) -> u32 {
    rx.recv().unwrap()
}

#[inline(never)]
fn gotool_staller(m: &std::sync::Mutex<u32>) -> u32 {
    *m.lock().unwrap() // blocks its P's thread while a plain thread holds the guard
}

fn go_available() -> bool {
    Command::new("go")
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn pprof_top(file: &Path, extra: &[&str]) -> String {
    let out = Command::new("go")
        .args(["tool", "pprof", "-top"])
        .args(extra)
        .arg(file)
        .output()
        .expect("run go tool pprof");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "go tool pprof failed on {file:?}:\n{text}"
    );
    text
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gort-prof-gotool-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn write(name: &str, f: impl FnOnce(std::fs::File)) -> PathBuf {
    let path = tmp(name);
    f(std::fs::File::create(&path).unwrap());
    path
}

#[test]
fn go_tool_pprof_reads_every_profile_kind() {
    if !go_available() {
        eprintln!("SKIP go_tool_pprof_reads_every_profile_kind: `go` is not on PATH");
        return;
    }
    let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
    set_mem_profile_rate(16 << 10);
    gort::prof::set_mutex_profile_fraction(1);
    gort::prof::set_block_profile_rate(1);

    let cpu = tmp("cpu.pprof");
    gort::prof::start_cpu_profile(std::fs::File::create(&cpu).unwrap()).unwrap();
    let goroutine = tmp("goroutine.pprof");
    let gpath = goroutine.clone();
    let leaks = tmp("goroutineleak.pprof");
    let lpath = leaks.clone();
    let kept = rt.block_on(move || {
        let burner = gort::go(|| gotool_cpu_burner(Duration::from_millis(300)));
        let kept = gotool_allocator(2000);
        let m = std::sync::Arc::new(gort::sync::Mutex::new(0));
        let hs: Vec<_> = (0..3)
            .map(|_| {
                let m = m.clone();
                gort::go(move || (0..5).for_each(|_| gotool_unlocker(&m)))
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        let (tx, rx) = gort::chan::bounded::<u32>(0);
        gort::go(move || {
            gort::time::sleep(Duration::from_millis(10));
            tx.send(1).unwrap();
        });
        gotool_receiver(&rx);
        black_box(burner.join().unwrap());
        // A goroutine parked on a channel for the goroutine profile.
        let (stop_tx, stop_rx) = gort::chan::bounded::<()>(0);
        gort::go(move || {
            let _ = stop_rx.recv();
        });
        gort::time::sleep(Duration::from_millis(5));
        // The goroutine profile is of the runtime the caller runs in (as goroutine dumps are).
        let f = std::fs::File::create(gpath).unwrap();
        gort::prof::lookup("goroutine")
            .unwrap()
            .write_to(f, 0)
            .unwrap();
        drop(stop_tx);
        // Now it can never wake (dropping does not close): the goroutineleak profile has it.
        let t = std::time::Instant::now();
        while gort::debug::num_leaked_goroutines() == 0 && t.elapsed() < Duration::from_secs(10) {
            gort::time::sleep(Duration::from_millis(1));
        }
        let f = std::fs::File::create(lpath).unwrap();
        gort::prof::lookup("goroutineleak")
            .unwrap()
            .write_to(f, 0)
            .unwrap();
        kept
    });
    gort::prof::stop_cpu_profile().unwrap();

    let top = pprof_top(&cpu, &[]);
    assert!(top.contains("gotool_cpu_burner"), "cpu:\n{top}");

    let heap = write("heap.pprof", |f| gort::prof::write_heap_profile(f).unwrap());
    let top = pprof_top(&heap, &["-sample_index=alloc_space"]);
    assert!(top.contains("gotool_allocator"), "heap:\n{top}");
    let top = pprof_top(&heap, &[]);
    assert!(top.contains("inuse_space"), "heap default type:\n{top}");

    let top = pprof_top(&goroutine, &[]);
    assert!(top.contains("gort.park(chan receive)"), "goroutine:\n{top}");
    let top = pprof_top(&leaks, &[]);
    assert!(
        top.contains("gort.park(chan receive)") && top.contains("goroutineleak"),
        "goroutineleak:\n{top}"
    );

    let mutex = write("mutex.pprof", |f| {
        gort::prof::lookup("mutex").unwrap().write_to(f, 0).unwrap()
    });
    let top = pprof_top(&mutex, &[]);
    assert!(top.contains("gotool_unlocker"), "mutex:\n{top}");

    let block = write("block.pprof", |f| {
        gort::prof::lookup("block").unwrap().write_to(f, 0).unwrap()
    });
    let top = pprof_top(&block, &[]);
    assert!(top.contains("gotool_receiver"), "block:\n{top}");

    // A stall: on a one-P runtime, a goroutine waits 300 ms in a std mutex a plain thread
    // holds, while another goroutine of that P waits for its timer.
    let m = std::sync::Arc::new(std::sync::Mutex::new(7u32));
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let holder = {
        let m = m.clone();
        std::thread::spawn(move || {
            let g = m.lock().unwrap();
            held_tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(300));
            drop(g);
        })
    };
    held_rx.recv().unwrap();
    let one = gort::Builder::new().gomaxprocs(1).build().unwrap();
    one.block_on(move || {
        let beside = gort::go(|| gort::time::sleep(Duration::from_millis(5)));
        gort::yield_now(); // it parks on the P's timer heap
        black_box(gotool_staller(&m));
        beside.join().unwrap();
    });
    holder.join().unwrap();
    assert_eq!(one.num_stalls(), 1);
    let stall = write("stall.pprof", |f| {
        gort::prof::lookup("stall").unwrap().write_to(f, 0).unwrap()
    });
    let top = pprof_top(&stall, &[]);
    assert!(
        top.contains("gotool_staller") && top.contains("gort.stall(futex wait)"),
        "stall:\n{top}"
    );

    drop(kept);
    gort::prof::set_mutex_profile_fraction(0);
    gort::prof::set_block_profile_rate(0);
    set_mem_profile_rate(DEFAULT_MEM_PROFILE_RATE);
    let _ = std::fs::remove_dir_all(cpu.parent().unwrap());
}
