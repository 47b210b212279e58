//! `gort env`: the settings a gort program would get, decided by the library's own functions.

use std::process::{Command, Output};

/// `gort env ARGS` with only `vars` of gort's settings in the environment.
fn gort_env(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gort"));
    cmd.arg("env").args(args);
    for v in [
        "GOMAXPROCS",
        "GOGC",
        "GOMEMLIMIT",
        "GODEBUG",
        "GORT_STACK_SIZE",
        "GORT_CGROUP_ROOT",
    ] {
        cmd.env_remove(v);
    }
    cmd.envs(vars.iter().copied());
    cmd.output().unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "{o:?}");
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn nproc() -> String {
    let o = Command::new("nproc").output().unwrap();
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

#[test]
fn env_prints_all_settings_with_their_sources() {
    let out = stdout(&gort_env(&[], &[]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert!(
        lines[0].starts_with(&format!("GOMAXPROCS='{}' # cpus: ", nproc())),
        "{out}"
    );
    assert_eq!(lines[1], "GOGC='100' # default");
    assert_eq!(lines[2], "GOMEMLIMIT='off' # default");
    assert_eq!(
        lines[3],
        "GODEBUG='schedtrace=0,scheddetail=0,gctrace=0,gccheckmark=0,gctorture=0,\
         schedstress=0,stalltrace=100,stalldump=1000,allocfreetrace=0,tracebackancestors=0,decoratemappings=1,interpose=1,containermaxprocs=1,updatemaxprocs=1' # as gort parses it"
    );
    assert_eq!(
        lines[4],
        "GORT_STACK_SIZE='262144' # default (256 KiB per goroutine)"
    );

    let out = stdout(&gort_env(
        &[],
        &[
            ("GOMAXPROCS", "3"),
            ("GOGC", "off"),
            ("GOMEMLIMIT", "512MiB"),
            ("GODEBUG", "gctrace=1,http2client=0"),
            ("GORT_STACK_SIZE", "1MiB"),
        ],
    ));
    assert!(
        out.contains("GOMAXPROCS='3' # from the environment\n"),
        "{out}"
    );
    assert!(out.contains("GOGC='off' # from the environment\n"), "{out}");
    assert!(
        out.contains("GOMEMLIMIT='536870912' # from the environment\n"),
        "{out}"
    );
    assert!(out.contains(",gctrace=1,"), "{out}");
    assert!(
        out.contains("# as gort parses it; ignored: http2client\n"),
        "{out}"
    );
    assert!(
        out.contains("GORT_STACK_SIZE='1048576' # from the environment"),
        "{out}"
    );
}

#[test]
fn env_names_print_values_one_per_line() {
    let out = stdout(&gort_env(
        &["GOMAXPROCS", "GOGC", "NOSUCH", "GOMEMLIMIT"],
        &[("GOMAXPROCS", "5"), ("GOGC", "200")],
    ));
    assert_eq!(out, "5\n200\n\noff\n");
}

/// A fake cgroup v2 tree limiting the process to half a CPU: the default is 2 (Go's minimum),
/// or the affinity mask's CPUs when fewer; `containermaxprocs=0` ignores the cgroup.
#[test]
fn env_reports_the_cgroup_limit() {
    let root = tempfile::tempdir().unwrap();
    let p = root.path();
    std::fs::create_dir_all(p.join("proc/self")).unwrap();
    std::fs::create_dir_all(p.join("sys/fs/cgroup/app")).unwrap();
    std::fs::write(p.join("proc/self/cgroup"), "0::/app\n").unwrap();
    std::fs::write(
        p.join("proc/self/mountinfo"),
        "24 30 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
    )
    .unwrap();
    std::fs::write(p.join("sys/fs/cgroup/app/cpu.max"), "50000 100000\n").unwrap();
    let root_s = p.to_str().unwrap();
    let ncpu: usize = nproc().parse().unwrap();
    let out = stdout(&gort_env(&[], &[("GORT_CGROUP_ROOT", root_s)]));
    let first = out.lines().next().unwrap();
    if ncpu > 2 {
        assert!(
            first.starts_with("GOMAXPROCS='2' # cgroup: cgroup CPU limit 0.5"),
            "{out}"
        );
    } else {
        assert_eq!(
            first,
            format!("GOMAXPROCS='{ncpu}' # cpus: {ncpu} CPUs in the affinity mask, cgroup CPU limit 0.5")
        );
    }
    let out = stdout(&gort_env(
        &[],
        &[
            ("GORT_CGROUP_ROOT", root_s),
            ("GODEBUG", "containermaxprocs=0"),
        ],
    ));
    assert!(
        out.starts_with(&format!(
            "GOMAXPROCS='{ncpu}' # cpus: {ncpu} CPUs in the affinity mask, cgroup ignored \
             (GODEBUG=containermaxprocs=0)\n"
        )),
        "{out}"
    );
    let out = stdout(&gort_env(&["GOMAXPROCS"], &[("GORT_CGROUP_ROOT", root_s)]));
    assert_eq!(out, format!("{}\n", ncpu.min(2)));
}

#[test]
fn env_bad_values_are_one_line_errors_with_status_2() {
    for (name, value, says) in [
        (
            "GOMAXPROCS",
            "many",
            "gort: invalid GOMAXPROCS=\"many\": expected a positive integer such as 4\n",
        ),
        (
            "GOGC",
            "lots",
            "gort: invalid GOGC=\"lots\": expected a percentage such as 100, or off\n",
        ),
        (
            "GODEBUG",
            "gctrace=yes",
            "gort: invalid GODEBUG=gctrace=\"yes\": expected 0, 1 or 2\n",
        ),
        (
            "GOMEMLIMIT",
            "1MB",
            "gort: invalid GOMEMLIMIT=\"1MB\": expected",
        ),
        (
            "GORT_STACK_SIZE",
            "1KiB",
            "gort: invalid GORT_STACK_SIZE=\"1KiB\": expected at least 16KiB\n",
        ),
    ] {
        let o = gort_env(&[], &[(name, value)]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.starts_with(says), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(o.stdout.is_empty());
    }
}
