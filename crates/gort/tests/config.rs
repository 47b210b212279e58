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

/// A fake cgroup root (`GORT_CGROUP_ROOT`): `proc/self/{cgroup,mountinfo}` and the limit files.
fn fake_cgroup(name: &str, v2: bool, files: &[(&str, &str)]) -> std::path::PathBuf {
    let root = std::env::temp_dir().join(format!("gort-config-cg-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("proc/self")).unwrap();
    let (cgroup, mounts, dir) = if v2 {
        (
            "0::/app\n",
            "24 30 0:22 / /sys/fs/cgroup rw shared:9 - cgroup2 cgroup2 rw\n",
            "sys/fs/cgroup/app",
        )
    } else {
        (
            "4:cpu,cpuacct:/docker/c1\n0::/\n",
            "31 25 0:27 / /sys/fs/cgroup/cpu rw shared:13 - cgroup cgroup rw,cpu,cpuacct\n",
            "sys/fs/cgroup/cpu/docker/c1",
        )
    };
    std::fs::write(root.join("proc/self/cgroup"), cgroup).unwrap();
    std::fs::write(root.join("proc/self/mountinfo"), mounts).unwrap();
    std::fs::create_dir_all(root.join(dir)).unwrap();
    for (file, contents) in files {
        std::fs::write(root.join(dir).join(file), contents).unwrap();
    }
    root
}

/// The GOMAXPROCS `gort-env-check` gets under a fake cgroup root (`cpus`: `taskset -c` list).
fn gomaxprocs_in(root: &std::path::Path, godebug: &str, cpus: Option<&str>) -> usize {
    let bin = env!("CARGO_BIN_EXE_gort-env-check");
    let mut cmd = match cpus {
        Some(list) => {
            let mut c = Command::new("taskset");
            c.args(["-c", list, bin]);
            c
        }
        None => Command::new(bin),
    };
    let out = cmd
        .env_remove("GOMAXPROCS")
        .env("GODEBUG", godebug)
        .env("GORT_CGROUP_ROOT", root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find_map(|l| l.strip_prefix("gomaxprocs="));
    line.unwrap_or_else(|| panic!("{stdout}")).parse().unwrap()
}

/// Go 1.25's container-aware default: min(affinity CPUs, max(2, ceil(quota/period))), with
/// `GODEBUG=containermaxprocs=0` ignoring the cgroup. Fake v1 and v2 trees (the test machine's
/// own cgroups cannot be changed by the test).
#[test]
fn default_gomaxprocs_follows_the_cgroup_limit() {
    // The affinity mask's CPUs (available_parallelism would also apply the real cgroup's quota).
    let out = Command::new("nproc").output().unwrap();
    let ncpu: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    type Case<'a> = (&'a str, bool, &'a [(&'a str, &'a str)], usize);
    let cases: [Case; 5] = [
        ("v2max", true, &[("cpu.max", "max 100000\n")], ncpu),
        (
            "v2half",
            true,
            &[("cpu.max", "50000 100000\n")],
            ncpu.min(2),
        ),
        (
            "v2frac",
            true,
            &[("cpu.max", "250000 100000\n")],
            ncpu.min(3),
        ),
        (
            "v1frac",
            false,
            &[
                ("cpu.cfs_quota_us", "150000\n"),
                ("cpu.cfs_period_us", "100000\n"),
            ],
            ncpu.min(2),
        ),
        (
            "v1none",
            false,
            &[
                ("cpu.cfs_quota_us", "-1\n"),
                ("cpu.cfs_period_us", "100000\n"),
            ],
            ncpu,
        ),
    ];
    for (name, v2, files, want) in cases {
        let root = fake_cgroup(name, v2, files);
        assert_eq!(gomaxprocs_in(&root, "", None), want, "{name}");
        assert_eq!(
            gomaxprocs_in(&root, "containermaxprocs=0,updatemaxprocs=0", None),
            ncpu,
            "{name} with containermaxprocs=0"
        );
        let _ = std::fs::remove_dir_all(root);
    }
    // One CPU in the affinity mask: the minimum of 2 never exceeds it; 64 CPUs of quota do
    // not raise it.
    for (name, quota) in [("one", "50000 100000\n"), ("wide", "6400000 100000\n")] {
        let root = fake_cgroup(name, true, &[("cpu.max", quota)]);
        assert_eq!(gomaxprocs_in(&root, "", Some("0")), 1, "{name}");
        let _ = std::fs::remove_dir_all(root);
    }
}
