//! The header lines' facts: `goos`, `goarch` and `cpu` as Go names them.

/// Go's `GOOS` for this build.
pub(crate) fn goos() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        os => os,
    }
}

/// Go's `GOARCH` for this build.
pub(crate) fn goarch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        arch => arch,
    }
}

/// The CPU model as Go's `internal/sysinfo.CPUName` reports it on Linux: the first
/// `model name` of `/proc/cpuinfo`; empty when unknown (the `cpu:` line is then omitted).
pub(crate) fn cpu_name() -> String {
    let Ok(info) = std::fs::read_to_string("/proc/cpuinfo") else {
        return String::new();
    };
    info.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == "model name").then(|| v.trim().to_string())
        })
        .unwrap_or_default()
}
