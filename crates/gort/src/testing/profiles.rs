//! The harness's profiling flags, with `go test`'s semantics: `-cpuprofile`, `-memprofile`
//! (with `-memprofilerate`), `-mutexprofile` (with `-mutexprofilefraction`, default 1) and
//! `-blockprofile` (with `-blockprofilerate`, default 1). Rates are set and the CPU profile
//! started before the first benchmark; every file is written after the last one.

use super::flags::Config;

/// The profiles a run was asked for; [`Profiles::finish`] writes them.
pub(crate) struct Profiles {
    mem: Option<String>,
    mutex: Option<String>,
    block: Option<String>,
    cpu: bool,
    /// The benchmarking thread's CPU-profile timer (benchmark bodies run on it).
    _thread: Option<crate::rt::hooks::cputimer::ThreadGuard>,
}

impl Profiles {
    /// Sets the rates and starts the CPU profile. Errors read like Go's.
    pub(crate) fn start(cfg: &Config) -> Result<Profiles, String> {
        if cfg.memprofile.is_some() {
            if let Some(rate) = cfg.memprofilerate.filter(|&r| r > 0) {
                crate::alloc::set_mem_profile_rate(rate);
            }
        }
        if cfg.mutexprofile.is_some() && cfg.mutexprofilefraction >= 0 {
            crate::prof::set_mutex_profile_fraction(cfg.mutexprofilefraction);
        }
        if cfg.blockprofile.is_some() && cfg.blockprofilerate > 0 {
            crate::prof::set_block_profile_rate(cfg.blockprofilerate);
        }
        let mut thread = None;
        if let Some(path) = &cfg.cpuprofile {
            let f = std::fs::File::create(path).map_err(|e| format!("testing: {e}"))?;
            thread = Some(crate::rt::hooks::cputimer::register_thread());
            crate::prof::start_cpu_profile(std::io::BufWriter::new(f))
                .map_err(|e| format!("testing: can't start cpu profile: {e}"))?;
        }
        Ok(Profiles {
            mem: cfg.memprofile.clone(),
            mutex: cfg.mutexprofile.clone(),
            block: cfg.blockprofile.clone(),
            cpu: cfg.cpuprofile.is_some(),
            _thread: thread,
        })
    }

    /// Stops the CPU profile and writes the others (Go's `testing.M.after`).
    pub(crate) fn finish(self) -> Result<(), String> {
        if self.cpu {
            crate::prof::stop_cpu_profile()
                .map_err(|e| format!("testing: can't write cpu profile: {e}"))?;
        }
        for (path, name) in [
            (&self.mem, "allocs"),
            (&self.mutex, "mutex"),
            (&self.block, "block"),
        ] {
            let Some(path) = path else { continue };
            let f = std::fs::File::create(path).map_err(|e| format!("testing: {e}"))?;
            crate::prof::lookup(name)
                .expect("a known profile")
                .write_to(std::io::BufWriter::new(f), 0)
                .map_err(|e| format!("testing: can't write {path}: {e}"))?;
        }
        Ok(())
    }
}
