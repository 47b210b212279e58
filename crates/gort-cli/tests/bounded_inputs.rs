//! Regression tests for issue 20, items 7-9: crafted inputs that used to
//! cost gigabytes or minutes, and numbers that cannot be. Each runs the
//! `gort` binary under `RLIMIT_AS` = 64 x input + 64 MiB where memory is
//! the point.

mod common;

use common::{assert_bounded, gort, gort_limited, memory_bound};
use gort_cli::pprof::proto::{self, Function, Line, Location, Profile, Sample, ValueType};
use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(raw).expect("gzip");
    gz.finish().expect("gzip")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write fixture");
    p
}

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// Runs `gort <args> <file>` under the memory bound for the file's size.
fn run_bounded(args: &[&str], file: &Path) -> (std::process::Output, Duration) {
    let n = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0) as usize;
    let mut a = os(args);
    a.push(file.as_os_str().to_owned());
    let refs: Vec<&OsStr> = a.iter().map(|s| s.as_os_str()).collect();
    gort_limited(&refs, memory_bound(n))
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// One function called `name` at location 1 with `lines` lines, and one
/// sample whose stack is location 1 repeated `depth` times.
fn deep_profile(name: &str, lines: usize, depth: usize, value: i64) -> Profile {
    Profile {
        sample_type: vec![ValueType { r#type: 1, unit: 2 }],
        string_table: vec![
            String::new(),
            "cpu".into(),
            "nanoseconds".into(),
            name.into(),
        ],
        function: vec![Function {
            id: 1,
            name: 3,
            ..Default::default()
        }],
        location: vec![Location {
            id: 1,
            line: vec![
                Line {
                    function_id: 1,
                    ..Default::default()
                };
                lines
            ],
            ..Default::default()
        }],
        sample: vec![Sample {
            location_id: vec![1; depth],
            value: vec![value],
            label: Vec::new(),
        }],
        ..Default::default()
    }
}

// ---- Item 7: pprof and trace reader amplification -------------------------

#[test]
fn pprof_long_name_times_deep_stack_stays_small() {
    // 10 KB name, 100k location ids: a few hundred bytes of gzip that used
    // to expand to 100k copies of the name (986 MB).
    let dir = tempfile::tempdir().unwrap();
    let p = deep_profile(&"f".repeat(10_000), 1, 100_000, 7);
    let file = write(dir.path(), "deep.pprof", &proto::encode(&p));
    assert!(std::fs::metadata(&file).unwrap().len() < 1000);
    let (out, _) = run_bounded(&["pprof", "top"], &file);
    assert_bounded(&out, "pprof top");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("7ns   100%   100%        7ns   100%"),
        "{}",
        &text[..300]
    );
    // The flame graph would be one 1 GB line: refused, in one line.
    let svg = dir.path().join("deep.svg");
    let mut a = os(&["pprof", "flame", "-o"]);
    a.push(svg.clone().into());
    a.push(file.clone().into());
    let refs: Vec<&OsStr> = a.iter().map(|s| s.as_os_str()).collect();
    let (out, _) = gort_limited(&refs, memory_bound(1000));
    assert_bounded(&out, "pprof flame");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("fold to"), "{}", stderr(&out));
}

#[test]
fn pprof_many_lines_times_deep_stack_is_refused() {
    // A location with 2,000 inlined lines referenced 100k times: 2e8
    // frames from a few KB (the 292-byte kind that passed 4 GB).
    let dir = tempfile::tempdir().unwrap();
    let p = deep_profile("g", 2_000, 100_000, 1);
    let file = write(dir.path(), "wide.pprof", &proto::encode(&p));
    let (out, took) = run_bounded(&["pprof", "top"], &file);
    assert_bounded(&out, "pprof top");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("stack frames"), "{}", stderr(&out));
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

#[test]
fn pprof_gzip_of_empty_strings_or_samples_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // Field 6 (string table) or field 2 (sample), length 0, ten million
    // times: 20 MB that gzips to ~20 KB and decodes to gigabytes.
    for (name, tag) in [("strings", 0x32u8), ("samples", 0x12u8)] {
        let raw: Vec<u8> = [tag, 0].repeat(10_000_000);
        let file = write(dir.path(), name, &gzip(&raw));
        let (out, _) = run_bounded(&["pprof", "top"], &file);
        assert_bounded(&out, name);
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(stderr(&out).contains("crafted profile"), "{}", stderr(&out));
    }
    // A gzip bomb proper: 1 GB of zeros is about 1 MB of gzip.
    let raw = vec![0u8; 200 << 20];
    let file = write(dir.path(), "bomb", &gzip(&raw));
    let (out, _) = run_bounded(&["pprof", "top"], &file);
    assert_bounded(&out, "bomb");
    assert!(stderr(&out).contains("gzip bomb"), "{}", stderr(&out));
}

#[test]
fn endless_inputs_are_refused() {
    for args in [
        &["pprof", "top", "/dev/zero"][..],
        &["trace", "/dev/urandom"],
        &["benchstat", "/dev/zero"],
        &["gctrace", "/dev/zero"],
    ] {
        let a = os(args);
        let refs: Vec<&OsStr> = a.iter().map(|s| s.as_os_str()).collect();
        let (out, took) = gort_limited(&refs, memory_bound(0));
        assert_bounded(&out, &args.join(" "));
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out).contains("character device"),
            "{}",
            stderr(&out)
        );
        assert!(took < Duration::from_secs(10));
    }
}

#[test]
fn endless_pipe_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let mut writer = std::process::Command::new("sh")
        .arg("-c")
        .arg("cat /dev/zero > \"$0\" 2>/dev/null")
        .arg(&fifo)
        .spawn()
        .expect("writer");
    let mut a = os(&["trace"]);
    a.push(fifo.clone().into());
    let refs: Vec<&OsStr> = a.iter().map(|s| s.as_os_str()).collect();
    // The stream cap is 256 MiB: reading it needs about twice that.
    let (out, _) = gort_limited(&refs, 1 << 30);
    let _ = writer.kill();
    let _ = writer.wait();
    assert_bounded(&out, "trace fifo");
    assert!(
        stderr(&out).contains("more than 256 MiB"),
        "{}",
        stderr(&out)
    );
}

// ---- Item 8: benchstat complexity and overflow warnings ---------------------

fn keys_file(k: usize) -> String {
    let mut s = String::new();
    for i in 0..k {
        s.push_str(&format!(
            "key{i}: value{i}\nBenchmarkX-8 100 {} ns/op\n",
            i + 1
        ));
    }
    s
}

#[test]
fn benchstat_many_keys_is_linear() {
    // Each result adds a key: 2,000 configurations, 2,000 tables. The old
    // code cloned every configuration and printed every key per table
    // (quadratic output); Go's benchstat prints only the keys that change.
    let dir = tempfile::tempdir().unwrap();
    let k = 2_000;
    let file = write(dir.path(), "keys.txt", keys_file(k).as_bytes());
    let (out, took) = run_bounded(&["benchstat"], &file);
    assert_bounded(&out, "benchstat keys");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines = text.lines().count();
    assert!(lines < 10 * k, "{lines} lines of output for {k} keys");
    assert!(
        text.starts_with("key0: value0\nkey1: \n"),
        "{}",
        &text[..200]
    );
    assert!(text.contains("\nkey1999: value1999\n"));
    // Generous: it takes well under a second in a debug build.
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

#[test]
fn benchstat_many_names_is_linear() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = String::from("goos: linux\npkg: p\n");
    for r in 0..6 {
        for i in 0..20_000 {
            s.push_str(&format!(
                "BenchmarkN{i}-8 1000 {} ns/op\n",
                100 + i % 97 + r
            ));
        }
    }
    let file = write(dir.path(), "names.txt", s.as_bytes());
    let (out, took) = run_bounded(&["benchstat"], &file);
    assert_bounded(&out, "benchstat names");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("N19999-8"));
    // Generous (the old code took 20 s in release, minutes in debug).
    assert!(took < Duration::from_secs(60), "took {took:?}");
}

#[test]
fn benchstat_warns_per_unparsable_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "ov.txt",
        b"BenchmarkA 99999999999999999999 1 ns/op\nBenchmarkA 10 1 ns/op\n",
    );
    let out = gort(&["benchstat", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).trim(),
        format!(
            "{}:1: parsing iteration count: value out of range",
            file.display()
        )
    );
}

// ---- Item 9: numbers that cannot be, and file names ------------------------

const GC_LINE: &str = "gc 1 @0.010s 2%: 0.010+1.0+0.010 ms clock, 0.020+0.5/1.0/0.5+0.020 ms cpu, 4->5->2 MB, 5 MB goal, 0 MB stacks, 0 MB globals, 2 P";

fn gctrace_file(dir: &Path) -> PathBuf {
    let mut s = String::new();
    for i in 1..=5 {
        s.push_str(&GC_LINE.replacen("gc 1 @0.010s", &format!("gc {i} @0.0{i}0s"), 1));
        s.push('\n');
    }
    write(dir, "gc.txt", s.as_bytes())
}

#[test]
fn what_if_rejects_impossible_settings() {
    let dir = tempfile::tempdir().unwrap();
    let file = gctrace_file(dir.path());
    let f = file.to_str().unwrap();
    for bad in [
        "GOGC=NaN",
        "GOGC=-inf",
        "GOGC=1e308",
        "GOGC=inf",
        "GOGC=1.5",
        "GOMEMLIMIT=0.5B",
        "GOMEMLIMIT=-1",
        "GOMEMLIMIT=1e30",
    ] {
        let out = gort(&["gctrace", f, "--what-if", bad]);
        assert_eq!(out.status.code(), Some(1), "{bad}: {}", stderr(&out));
        assert_eq!(stderr(&out).lines().count(), 1, "{bad}");
        assert!(out.stdout.is_empty(), "{bad}: printed before failing");
    }
    let out = gort(&["gctrace", f, "--what-if", "GOGC=0"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("limit is at or below"), "{text}");
    assert!(text.contains("goal is the live heap"), "{text}");
    let out = gort(&["gctrace", f, "--what-if", "GOGC=-1"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("none (GC off)"));
    for text in [
        String::from_utf8_lossy(&gort(&["gctrace", f, "--what-if", "GOGC=2147483647"]).stdout)
            .into_owned(),
        String::from_utf8_lossy(&gort(&["gctrace", f, "--what-if", "GOMEMLIMIT=0"]).stdout)
            .into_owned(),
    ] {
        assert!(!text.contains("NaN") && !text.contains("inf"), "{text}");
    }
}

#[test]
fn gctrace_rejects_impossible_fields() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("heap.svg");
    for (bad, why) in [
        (GC_LINE.replace("4->5->2 MB", "-4->5->2 MB"), "heap size -4"),
        (GC_LINE.replace("5 MB goal", "1e308 MB goal"), "heap goal"),
        (GC_LINE.replace("2%:", "250%:"), "GC CPU 250"),
        (GC_LINE.replace("@0.010s", "@-1s"), "time -1"),
    ] {
        let file = write(
            dir.path(),
            "bad.txt",
            format!("{GC_LINE}\n{bad}\n").as_bytes(),
        );
        let out = gort(&[
            "gctrace",
            file.to_str().unwrap(),
            "--svg",
            svg.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(1), "{bad}");
        let e = stderr(&out);
        assert!(e.contains("line 2:") && e.contains(why), "{e}");
        assert_eq!(e.lines().count(), 1);
        assert!(!svg.exists(), "wrote an SVG from {bad}");
    }
}

#[test]
fn pprof_rejects_values_that_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = deep_profile("f", 1, 1, i64::MAX);
    p.sample.push(Sample {
        location_id: vec![1],
        value: vec![i64::MIN],
        label: Vec::new(),
    });
    let file = write(dir.path(), "ext.pprof", &proto::encode(&p));
    let out = gort(&["pprof", "top", file.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(stderr(&out).contains("past 2^63-1"), "{}", stderr(&out));
    // One extreme value alone is fine and prints sensibly.
    let p = deep_profile("f", 1, 1, i64::MAX);
    let file = write(dir.path(), "max.pprof", &proto::encode(&p));
    let out = gort(&["pprof", "top", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("100%") && !text.contains("e-"), "{text}");
}

#[test]
fn trace_rejects_times_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    let text = gort_cli::trace::model::SAMPLE.replace("\"ts\":5.000,", "\"ts\":1e306,");
    let file = write(dir.path(), "t.json", text.as_bytes());
    let out = gort(&["trace", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("out of range"), "{}", stderr(&out));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("NaN"));
}

#[cfg(unix)]
#[test]
fn non_utf8_file_names_open() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let name = OsStr::from_bytes(b"bench-\xff.txt");
    let file = dir.path().join(name);
    std::fs::write(&file, "BenchmarkA 10 1 ns/op\n").unwrap();
    let gc = dir.path().join(OsStr::from_bytes(b"gc-\xfe.txt"));
    std::fs::copy(gctrace_file(dir.path()), &gc).unwrap();
    let pprof = dir.path().join(OsStr::from_bytes(b"cpu-\xfd.pprof"));
    std::fs::write(&pprof, proto::encode(&deep_profile("f", 1, 1, 1))).unwrap();
    for args in [
        vec![OsString::from("benchstat"), file.into()],
        vec!["gctrace".into(), gc.into()],
        vec!["pprof".into(), "top".into(), pprof.into()],
    ] {
        let refs: Vec<&OsStr> = args.iter().map(|s| s.as_os_str()).collect();
        let (out, _) = gort_limited(&refs, memory_bound(1 << 20));
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    }
}
