//! The CPU profile: start/stop, the collector thread that drains the ring buffer, and the
//! profile built from its samples.

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::profile::{LabelValue, Profile, Sample};
use super::symbolize::Symbolizer;
use super::{labels, ring, signal};

/// Go's default: 100 samples per second of CPU time per thread.
pub const DEFAULT_CPU_HZ: u64 = 100;

/// `(pcs, goid, label set)` -> samples.
type Counts = HashMap<(Vec<usize>, u64, u32), i64>;

struct Running {
    writer: Option<Box<dyn Write + Send>>,
    stop: Arc<AtomicBool>,
    collector: std::thread::JoinHandle<Counts>,
    started: Instant,
    started_unix: i64,
    period_ns: u64,
}

static RUNNING: Mutex<Option<Running>> = Mutex::new(None);

fn drain_into(c: &mut Counts) {
    ring::drain(|goid, labels, pcs| *c.entry((pcs.to_vec(), goid, labels)).or_insert(0) += 1);
}

/// Starts sampling every registered runtime thread at `hz` per CPU-second. `writer` receives
/// the profile at [`stop`] (None: the caller takes the profile from [`stop`] instead).
pub(crate) fn start(writer: Option<Box<dyn Write + Send>>, hz: u64) -> io::Result<()> {
    let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    if running.is_some() {
        return Err(io::Error::other("cpu profiling already in use"));
    }
    // Unwind rows for libc's frames, built here, outside the handler (alloc/cfi.rs).
    crate::alloc::cfi::ensure();
    signal::install()?;
    super::buildcheck::warn_once();
    ring::drain(|_, _, _| {}); // leftovers of an earlier profile
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let collector = std::thread::Builder::new()
        .name("gort-cpuprof".into())
        .spawn(move || {
            let mut c = Counts::new();
            while !s.load(Relaxed) {
                drain_into(&mut c);
                std::thread::sleep(Duration::from_millis(20));
            }
            drain_into(&mut c);
            c
        })?;
    let period_ns = 1_000_000_000 / hz.clamp(1, 1_000_000);
    signal::ACTIVE.store(true, Relaxed);
    crate::rt::hooks::cputimer::start(period_ns);
    *running = Some(Running {
        writer,
        stop,
        collector,
        started: Instant::now(),
        started_unix: super::now_unix_nanos(),
        period_ns,
    });
    Ok(())
}

/// Stops sampling and builds the profile; writes it to the writer given to [`start`], if any.
pub(crate) fn stop() -> io::Result<Option<Profile>> {
    let Some(r) = RUNNING.lock().unwrap_or_else(|e| e.into_inner()).take() else {
        return Ok(None);
    };
    crate::rt::hooks::cputimer::stop();
    // Signals already pending are delivered within microseconds; let them land in the ring
    // rather than be dropped by the handler.
    std::thread::sleep(Duration::from_millis(2));
    signal::ACTIVE.store(false, Relaxed);
    r.stop.store(true, Relaxed);
    let counts = r
        .collector
        .join()
        .map_err(|_| io::Error::other("cpu profile collector panicked"))?;
    let p = build(counts, r.period_ns, r.started_unix, r.started.elapsed());
    if let Some(mut w) = r.writer {
        p.write_to(&mut w)?;
        w.flush()?;
    }
    Ok(Some(p))
}

fn build(counts: Counts, period_ns: u64, started_unix: i64, took: Duration) -> Profile {
    let mut sym = Symbolizer::new();
    let mut label_cache: HashMap<u32, Vec<(String, LabelValue)>> = HashMap::new();
    let samples = counts
        .into_iter()
        .map(|((pcs, goid, lid), n)| {
            let mut lbls = label_cache
                .entry(lid)
                .or_insert_with(|| {
                    labels::resolve(lid)
                        .iter()
                        .map(|(k, v)| (k.clone(), LabelValue::Str(v.clone())))
                        .collect()
                })
                .clone();
            if goid != 0 {
                lbls.push((
                    "goroutine".into(),
                    LabelValue::Num(goid as i64, String::new()),
                ));
            }
            Sample {
                stack: sym.stack(&pcs, true),
                values: vec![n, n * period_ns as i64],
                labels: lbls,
            }
        })
        .collect();
    let t = |a: &str, b: &str| (a.to_string(), b.to_string());
    let mut comments = Vec::new();
    let lost = ring::LOST.swap(0, Relaxed);
    if lost > 0 {
        comments.push(format!("{lost} samples lost (buffer full)"));
    }
    Profile {
        sample_types: vec![t("samples", "count"), t("cpu", "nanoseconds")],
        default_sample_type: String::new(),
        period_type: t("cpu", "nanoseconds"),
        period: period_ns as i64,
        time_nanos: started_unix,
        duration_nanos: took.as_nanos() as i64,
        samples,
        comments,
    }
}
