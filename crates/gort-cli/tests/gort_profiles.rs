//! `gort pprof` reads the profiles the gort runtime writes (`gort::prof`), and agrees with
//! `go tool pprof` on them when Go is installed.

use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use gort::alloc::{set_mem_profile_rate, CountingAlloc, DEFAULT_MEM_PROFILE_RATE};

#[global_allocator]
static A: CountingAlloc = CountingAlloc::system();

/// One CPU profile at a time per process (as in Go): the tests take turns.
static PROFILING: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[inline(never)]
fn cli_spin(until: Instant) -> u64 {
    let mut x = 1u64;
    while Instant::now() < until {
        x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
    x
}

#[inline(never)]
fn cli_alloc(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|_| black_box(vec![0u8; 2048])).collect()
}

fn gort_pprof_top(file: &PathBuf, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_gort"))
        .args(["pprof", "top"])
        .args(extra)
        .arg(file)
        .output()
        .expect("run gort pprof top");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "gort pprof top failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn gort_pprof_reads_runtime_profiles() {
    let _turn = PROFILING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let cpu = dir.path().join("cpu.pprof");
    let heap = dir.path().join("heap.pprof");
    set_mem_profile_rate(4096);
    let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
    gort::prof::start_cpu_profile(std::fs::File::create(&cpu).unwrap()).unwrap();
    let kept = rt.block_on(|| {
        black_box(cli_spin(Instant::now() + Duration::from_millis(400)));
        cli_alloc(1000)
    });
    gort::prof::stop_cpu_profile().unwrap();
    gort::prof::write_heap_profile(std::fs::File::create(&heap).unwrap()).unwrap();
    drop(kept);
    set_mem_profile_rate(DEFAULT_MEM_PROFILE_RATE);

    let top = gort_pprof_top(&cpu, &[]);
    assert!(top.contains("cli_spin"), "{top}");
    let top = gort_pprof_top(&heap, &[]);
    assert!(top.contains("inuse_space"), "{top}");
}

#[inline(never)]
fn churn(until: Instant) -> usize {
    let mut n = 0;
    while Instant::now() < until {
        for i in 0..64 {
            let v = black_box(vec![i as u8; 48 + i]);
            let s = black_box(i.to_string());
            n += v.len() + s.len();
        }
    }
    n
}

/// The doctor on a CPU profile gort wrote of an allocation-heavy goroutine: it names
/// allocation, and does not charge the goroutine's samples to the scheduler frames at the
/// root of its stack.
#[test]
fn doctor_names_allocation_in_a_gort_cpu_profile() {
    let _turn = PROFILING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let cpu = dir.path().join("cpu.pprof");
    let rt = gort::Builder::new().gomaxprocs(1).build().unwrap();
    gort::prof::start_cpu_profile(std::fs::File::create(&cpu).unwrap()).unwrap();
    let n = rt.block_on(|| {
        gort::go(|| churn(Instant::now() + Duration::from_millis(600)))
            .join()
            .unwrap()
    });
    gort::prof::stop_cpu_profile().unwrap();
    assert!(n > 0);
    let out = Command::new(env!("CARGO_BIN_EXE_gort"))
        .args(["doctor", "--profile"])
        .arg(&cpu)
        .output()
        .expect("run gort doctor");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("Bottleneck: allocation"), "{text}");
    let sched = text
        .lines()
        .take_while(|l| !l.starts_with("Evidence"))
        .find(|l| l.trim_end().ends_with("  scheduler"))
        .and_then(|l| l.split('%').next()?.trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(
        sched < 10.0,
        "goroutine work charged to the scheduler: {text}"
    );
}
