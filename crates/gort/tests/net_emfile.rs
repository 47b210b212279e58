//! Accept under fd exhaustion: `accept` fails with EMFILE, `gort::net::serve` backs off
//! (5 ms doubling to 1 s) and serves the waiting connections once fds free up.
//!
//! A test binary of its own: it lowers this process's RLIMIT_NOFILE.

use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn accept_backs_off_on_emfile_and_recovers() {
    let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
    let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let acc = accepted.clone();
    rt.go(move || {
        let _ = gort::net::serve(&l, move |mut s| {
            acc.fetch_add(1, SeqCst);
            let mut b = [0u8; 1];
            while let Ok(1) = s.read(&mut b) {
                if s.write_all(&b).is_err() {
                    return;
                }
            }
        });
    });
    // Sockets for the late clients exist before the limit bites (connect needs no new fd).
    let late: Vec<socket2::Socket> = (0..5)
        .map(|_| socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap())
        .collect();
    let limit = (open_fds() + 16) as libc::rlim_t;
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid out-pointer to an rlimit.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) }, 0);
    let saved = rl.rlim_cur;
    rl.rlim_cur = limit;
    // SAFETY: valid pointer to an rlimit; lowering the soft limit is always allowed.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rl) }, 0);
    // Exhaust the fds.
    let mut hog = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(f) => hog.push(f),
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
                break;
            }
        }
    }
    for s in &late {
        s.connect(&addr.into()).unwrap(); // completes in the kernel's backlog
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        accepted.load(SeqCst),
        0,
        "accept cannot succeed without fds"
    );
    drop(hog);
    let deadline = Instant::now() + Duration::from_secs(10);
    while accepted.load(SeqCst) < late.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        accepted.load(SeqCst),
        late.len(),
        "serving resumed after fds freed"
    );
    for s in late {
        let mut s: std::net::TcpStream = s.into();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"z").unwrap();
        let mut b = [0u8; 1];
        match s.read_exact(&mut b) {
            Ok(()) => assert_eq!(&b, b"z"),
            Err(e) => assert_ne!(e.kind(), ErrorKind::WouldBlock, "{e}"),
        }
    }
    rl.rlim_cur = saved;
    // SAFETY: as above; restoring the saved soft limit (<= hard limit).
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rl) };
    assert!(gort::net::is_temporary(&std::io::Error::from_raw_os_error(
        libc::EMFILE
    )));
}
