//! Settings are validated once, where they are given, with errors that name them: a builder's
//! stack size at `build()`, environment variables (also when they are not UTF-8) when the
//! runtime starts.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::Command;

#[test]
fn stack_size_is_validated_at_build_with_one_range() {
    for bad in [0, 1, 16 * 1024 - 1, (1 << 30) + 1, 2 << 30, usize::MAX] {
        match gort::Builder::new().gomaxprocs(1).stack_size(bad).build() {
            Err(gort::Error::Config(e)) => {
                assert_eq!(e.name, "stack_size");
                assert_eq!(e.value, bad.to_string());
                assert_eq!(
                    e.to_string(),
                    format!(
                        "invalid stack_size=\"{bad}\": expected between 16384 and 1073741824 bytes"
                    )
                );
            }
            Err(e) => panic!("stack_size({bad}): {e}"),
            Ok(_) => panic!("stack_size({bad}) was accepted"),
        }
    }
    // Both ends of the range build and run goroutines.
    for good in [16 * 1024, 1 << 30] {
        let rt = gort::Builder::new()
            .gomaxprocs(1)
            .stack_size(good)
            .build()
            .unwrap();
        assert_eq!(
            rt.try_block_on(move || gort::go(|| 7).join().unwrap())
                .unwrap(),
            7
        );
    }
}

/// `gort-env-check` (a `#[gort::main]` program) with `name` set to `value`.
fn env_check(name: &str, value: &OsStr) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gort-env-check"))
        .env_remove("GOMAXPROCS")
        .env_remove("GODEBUG")
        .env_remove("GOGC")
        .env_remove("GOMEMLIMIT")
        .env(name, value)
        .output()
        .unwrap()
}

#[test]
fn settings_that_are_not_utf8_are_errors() {
    let not_utf8 = OsStr::from_bytes(b"1\xff0");
    for name in ["GOMAXPROCS", "GODEBUG", "GOGC", "GOMEMLIMIT"] {
        let out = env_check(name, not_utf8);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!("invalid {name}=\"1\u{fffd}0\"")),
            "{name}: {stderr}"
        );
    }
    // And valid ones still run.
    for (name, value) in [
        ("GODEBUG", "gctrace=0"),
        ("GOGC", "50"),
        ("GOMEMLIMIT", "1GiB"),
    ] {
        let out = env_check(name, OsStr::new(value));
        assert!(out.status.success(), "{name}={value}: {out:?}");
    }
}
