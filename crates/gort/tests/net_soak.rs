//! Soak: 1,000 loopback connections held for 60 s with traffic; the fd count and RSS must not
//! grow. Runs only with GORT_SOAK=1 (it takes a minute); GORT_SOAK_SECS overrides 60.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn soak_1000_connections() {
    if std::env::var("GORT_SOAK").as_deref() != Ok("1") {
        eprintln!("skipped: set GORT_SOAK=1 to run the 60 s soak");
        return;
    }
    let secs: u64 = std::env::var("GORT_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid out-pointer / pointer to an rlimit; raising soft to hard is allowed.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl);
        rl.rlim_cur = rl.rlim_max.min(65536);
        libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
    }
    let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
    rt.block_on(move || {
        let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        gort::go(move || {
            let _ = gort::net::serve(&l, |mut s| {
                let mut b = [0u8; 64];
                while let Ok(n) = s.read(&mut b) {
                    if n == 0 || s.write_all(&b[..n]).is_err() {
                        return;
                    }
                }
            });
        });
        let end = Instant::now() + Duration::from_secs(secs);
        let hs: Vec<_> = (0..1000)
            .map(|i| {
                gort::go(move || {
                    let mut c = gort::net::TcpStream::connect(addr).unwrap();
                    let mut b = [0u8; 64];
                    let mut n = 0u64;
                    while Instant::now() < end {
                        c.set_read_deadline(Some(Instant::now() + Duration::from_secs(5)));
                        c.write_all(&[i as u8; 64]).unwrap();
                        c.read_exact(&mut b).unwrap();
                        n += 1;
                        gort::time::sleep(Duration::from_millis(50 + (i % 50) as u64));
                    }
                    n
                })
            })
            .collect();
        gort::time::sleep(Duration::from_secs(5.min(secs / 4).max(1)));
        let (fd0, rss0) = (open_fds(), rss_kib());
        let mut peak = (fd0, rss0);
        while Instant::now() + Duration::from_secs(2) < end {
            gort::time::sleep(Duration::from_secs(1));
            peak = (peak.0.max(open_fds()), peak.1.max(rss_kib()));
        }
        let msgs: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        eprintln!(
            "soak {secs}s: {msgs} round trips; fds {fd0} -> peak {}; RSS {} KiB -> peak {} KiB",
            peak.0, rss0, peak.1
        );
        assert!(peak.0 <= fd0 + 8, "fd count grew: {fd0} -> {}", peak.0);
        assert!(
            peak.1 <= rss0 + rss0 / 5 + 8 * 1024,
            "RSS grew: {rss0} -> {} KiB",
            peak.1
        );
    });
}
