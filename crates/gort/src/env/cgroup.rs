//! Container-aware GOMAXPROCS (Go 1.25's `defaultGOMAXPROCS`, `runtime/cgroup_linux.go` and
//! `internal/runtime/cgroup`): the default number of Ps is the minimum of
//!
//! 1. the CPUs of the process's affinity mask (`sched_getaffinity`), and
//! 2. the CPU cgroup's average throughput limit, quota/period, rounded up, and raised to 2 if
//!    it is less (a limit of 0.5 CPU still gets 2 Ps unless the affinity mask has 1 CPU).
//!
//! The cgroup is found as Go finds it: `/proc/self/cgroup` names the process's cgroup (a v1
//! hierarchy whose controller list contains `cpu` wins over the v2 hierarchy `0::`), and the
//! first `/proc/self/mountinfo` line of a `cgroup` mount with `cpu` in its super options (v1) or
//! of a `cgroup2` mount (v2) whose root is a prefix of that cgroup gives the directory. Go reads
//! that cgroup's own limit only (not its ancestors'): v2 `cpu.max` (`max 100000` is no limit),
//! v1 `cpu.cfs_quota_us` (-1 is no limit) over `cpu.cfs_period_us`. Anything missing or
//! malformed means "no limit", as in Go.
//!
//! `GODEBUG=containermaxprocs=0` skips the cgroup (affinity only). Go also re-reads the limit
//! every second (`updatemaxprocs`, on by default) and changes GOMAXPROCS when it moves; gort's
//! P count is fixed when a runtime is built (one M per P for the runtime's life), so gort reads
//! the limit at [`Builder::build`](crate::Builder::build) only: a changed limit applies to
//! runtimes built later. `updatemaxprocs` is parsed (a bad value is an error) and otherwise
//! has no effect.
//!
//! The parsers are pure functions of the files' contents; [`cpu_limit_at`] reads the files
//! under a root directory, which tests point at a fake tree. `GORT_CGROUP_ROOT` (a test hook)
//! does the same for a whole process: the files are read under that directory instead of `/`.

use std::path::{Path, PathBuf};

/// The cgroup version of the CPU controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// cgroup v1 (`cpu.cfs_quota_us`, `cpu.cfs_period_us`).
    V1,
    /// cgroup v2 (`cpu.max`).
    V2,
}

/// The process's CPU cgroup path from `/proc/self/cgroup` contents (Go's `parseCPUCgroup`):
/// `None` when there is none or the file is malformed.
pub fn parse_cpu_cgroup(proc_self_cgroup: &str) -> Option<(String, Version)> {
    let mut v2 = None;
    for line in proc_self_cgroup.lines() {
        let (hierarchy, rest) = line.split_once(':')?;
        let (controllers, path) = rest.split_once(':')?;
        if !path.starts_with('/') {
            return None;
        }
        if hierarchy == "0" {
            v2 = Some(path.to_string());
        } else if controllers.split(',').any(|c| c == "cpu") {
            return Some((path.to_string(), Version::V1));
        }
    }
    v2.map(|p| (p, Version::V2))
}

/// The directory of `cgroup` from `/proc/self/mountinfo` contents (Go's `parseCPUMount`):
/// the first matching mount's point plus the cgroup path below the mount's root.
pub fn parse_cpu_mount(mountinfo: &str, cgroup: &str, version: Version) -> Option<PathBuf> {
    for line in mountinfo.lines() {
        let mut fields = line.split(' ');
        let root = fields.nth(3)?;
        let mnt = fields.next()?;
        // Optional fields up to the " - " separator.
        let mut rest = fields.skip_while(|f| *f != "-");
        rest.next()?;
        let ftype = rest.next()?;
        match version {
            Version::V1 => {
                let _source = rest.next();
                let opts = rest.next().unwrap_or("");
                if ftype != "cgroup" || !opts.split(',').any(|o| o == "cpu") {
                    continue;
                }
            }
            Version::V2 if ftype != "cgroup2" => continue,
            Version::V2 => {}
        }
        let root = unescape(root);
        if !root.starts_with('/') || !has_path_prefix(cgroup, &root) {
            continue;
        }
        let rel = if root == "/" {
            if cgroup == "/" {
                ""
            } else {
                cgroup
            }
        } else {
            &cgroup[root.len()..]
        };
        if has_path_prefix(rel, "/..") {
            // Outside this cgroup namespace: this mount cannot reach the cgroup.
            continue;
        }
        return Some(PathBuf::from(format!("{}{rel}", unescape(mnt))));
    }
    None
}

/// `prefix` is `p` or a leading path of it (Go's `hasPathPrefix`).
fn has_path_prefix(p: &str, prefix: &str) -> bool {
    p.starts_with(prefix)
        && (p.len() == prefix.len() || prefix.ends_with('/') || p.as_bytes()[prefix.len()] == b'/')
}

/// Undoes the kernel's octal escapes in mountinfo paths (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A v2 `cpu.max` (`"<quota> <period>\n"`, quota `max` for none): the limit in CPUs.
pub fn parse_v2_limit(cpu_max: &str) -> Option<f64> {
    let (quota, period) = cpu_max.trim_end_matches('\n').split_once(' ')?;
    if quota == "max" {
        return None;
    }
    let (q, p) = (quota.parse::<i64>().ok()?, period.parse::<i64>().ok()?);
    (p > 0 && q >= 0).then(|| q as f64 / p as f64)
}

/// A v1 quota and period (`cpu.cfs_quota_us`, -1 for none; `cpu.cfs_period_us`).
pub fn parse_v1_limit(quota: &str, period: &str) -> Option<f64> {
    let q = quota.trim_end_matches('\n').parse::<i64>().ok()?;
    if q < 0 {
        return None;
    }
    let p = period.trim_end_matches('\n').parse::<i64>().ok()?;
    (p > 0).then(|| q as f64 / p as f64)
}

/// The CPU limit of this process's cgroup, reading `proc/self/cgroup`, `proc/self/mountinfo`
/// and the cgroup's files under `root` (`/` on a real system): `None` for no limit.
pub fn cpu_limit_at(root: &Path) -> Option<f64> {
    let read = |p: &Path| std::fs::read_to_string(root.join(p.strip_prefix("/").unwrap_or(p)));
    let (cgroup, version) = parse_cpu_cgroup(&read(Path::new("proc/self/cgroup")).ok()?)?;
    let dir = parse_cpu_mount(
        &read(Path::new("proc/self/mountinfo")).ok()?,
        &cgroup,
        version,
    )?;
    match version {
        Version::V2 => parse_v2_limit(&read(&dir.join("cpu.max")).ok()?),
        Version::V1 => parse_v1_limit(
            &read(&dir.join("cpu.cfs_quota_us")).ok()?,
            &read(&dir.join("cpu.cfs_period_us")).ok()?,
        ),
    }
}

/// The CPU limit of this process's cgroup (under `GORT_CGROUP_ROOT` when set, a test hook).
pub fn cpu_limit() -> Option<f64> {
    match std::env::var_os("GORT_CGROUP_ROOT") {
        Some(r) if !r.is_empty() => cpu_limit_at(Path::new(&r)),
        _ => cpu_limit_at(Path::new("/")),
    }
}

/// Go's `adjustCgroupGOMAXPROCS`: `procs` lowered to the limit rounded up, but not below 2.
pub fn adjust(procs: usize, limit: Option<f64>) -> usize {
    match limit {
        Some(l) => procs.min((l.ceil() as usize).max(2)),
        None => procs,
    }
}

/// The CPUs in this process's affinity mask (`sched_getaffinity`), at least 1.
pub fn affinity_cpus() -> usize {
    // SAFETY: cpu_set_t is plain bits; zeroed is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a live cpu_set_t of the size passed; pid 0 is the calling thread.
    let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if r != 0 {
        // More CPUs than cpu_set_t holds (or no permission): std knows other ways.
        return std::thread::available_parallelism().map_or(1, |n| n.get());
    }
    // SAFETY: `set` was filled by the kernel above.
    (unsafe { libc::CPU_COUNT(&set) } as usize).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2_CGROUP: &str = "0::/user.slice/app.scope\n";
    const V2_MOUNTS: &str =
        "24 30 0:22 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n";
    const V1_CGROUP: &str = "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n";
    const V1_MOUNTS: &str = "\
30 25 0:26 / /sys/fs/cgroup/memory rw shared:12 - cgroup cgroup rw,memory
31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw shared:13 - cgroup cgroup rw,cpu,cpuacct
";

    #[test]
    fn finds_the_cgroup() {
        assert_eq!(
            parse_cpu_cgroup(V2_CGROUP),
            Some(("/user.slice/app.scope".into(), Version::V2))
        );
        assert_eq!(
            parse_cpu_cgroup(V1_CGROUP),
            Some(("/docker/abc".into(), Version::V1))
        );
        assert_eq!(parse_cpu_cgroup("12:memory:/x\n"), None);
        assert_eq!(parse_cpu_cgroup("garbage\n"), None);
    }

    #[test]
    fn finds_the_mount() {
        assert_eq!(
            parse_cpu_mount(V2_MOUNTS, "/user.slice/app.scope", Version::V2),
            Some("/sys/fs/cgroup/user.slice/app.scope".into())
        );
        assert_eq!(
            parse_cpu_mount(V2_MOUNTS, "/", Version::V2),
            Some("/sys/fs/cgroup".into())
        );
        assert_eq!(
            parse_cpu_mount(V1_MOUNTS, "/docker/abc", Version::V1),
            Some("/sys/fs/cgroup/cpu,cpuacct/docker/abc".into())
        );
        assert_eq!(parse_cpu_mount(V1_MOUNTS, "/x", Version::V2), None);
        // A container's namespaced mount: root /docker/abc, cgroup /docker/abc/sub.
        let ns = "40 30 0:27 /docker/abc /sys/fs\\040cg rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            parse_cpu_mount(ns, "/docker/abc/sub", Version::V2),
            Some("/sys/fs cg/sub".into())
        );
        assert_eq!(parse_cpu_mount(ns, "/docker/abcd", Version::V2), None);
        assert_eq!(parse_cpu_mount(V2_MOUNTS, "/../init", Version::V2), None);
    }

    #[test]
    fn limits() {
        assert_eq!(parse_v2_limit("max 100000\n"), None);
        assert_eq!(parse_v2_limit("150000 100000\n"), Some(1.5));
        assert_eq!(parse_v2_limit("bad\n"), None);
        assert_eq!(parse_v1_limit("-1\n", "100000\n"), None);
        assert_eq!(parse_v1_limit("250000\n", "100000\n"), Some(2.5));
        assert_eq!(parse_v1_limit("x\n", "100000\n"), None);
    }

    #[test]
    fn adjust_rounds_up_with_a_minimum_of_two() {
        assert_eq!(adjust(8, None), 8);
        assert_eq!(adjust(8, Some(1.5)), 2);
        assert_eq!(adjust(8, Some(2.1)), 3);
        assert_eq!(adjust(8, Some(0.1)), 2);
        assert_eq!(
            adjust(1, Some(0.5)),
            1,
            "the minimum of 2 never exceeds the CPUs"
        );
        assert_eq!(adjust(2, Some(6.0)), 2, "affinity smaller than the quota");
        assert_eq!(adjust(8, Some(4.0)), 4);
    }

    /// A fake root with `proc/self/{cgroup,mountinfo}` and the cgroup's files.
    fn fake_root(name: &str, cgroup: &str, mounts: &str, files: &[(&str, &str)]) -> PathBuf {
        let root = std::env::temp_dir().join(format!("gort-cgroup-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("proc/self")).unwrap();
        std::fs::write(root.join("proc/self/cgroup"), cgroup).unwrap();
        std::fs::write(root.join("proc/self/mountinfo"), mounts).unwrap();
        for (path, contents) in files {
            let p = root.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, contents).unwrap();
        }
        root
    }

    #[test]
    fn reads_a_fake_tree() {
        let v2 = fake_root(
            "v2",
            V2_CGROUP,
            V2_MOUNTS,
            &[(
                "sys/fs/cgroup/user.slice/app.scope/cpu.max",
                "250000 100000\n",
            )],
        );
        assert_eq!(cpu_limit_at(&v2), Some(2.5));
        let v2max = fake_root(
            "v2max",
            V2_CGROUP,
            V2_MOUNTS,
            &[("sys/fs/cgroup/user.slice/app.scope/cpu.max", "max 100000\n")],
        );
        assert_eq!(cpu_limit_at(&v2max), None);
        let v1 = fake_root(
            "v1",
            V1_CGROUP,
            V1_MOUNTS,
            &[
                (
                    "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us",
                    "50000\n",
                ),
                (
                    "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us",
                    "100000\n",
                ),
            ],
        );
        assert_eq!(cpu_limit_at(&v1), Some(0.5));
        let missing = fake_root("missing", V2_CGROUP, V2_MOUNTS, &[]);
        assert_eq!(cpu_limit_at(&missing), None);
        for r in [v2, v2max, v1, missing] {
            let _ = std::fs::remove_dir_all(r);
        }
    }
}
