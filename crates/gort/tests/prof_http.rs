//! `/debug/pprof/*` served over gort's own TCP: the index, text and protobuf profiles, a CPU
//! profile for `?seconds=N`, and `go tool pprof` fetching it by URL (when `go` is on PATH).

mod common;
use common::http_get as get;
use std::io::Read;
use std::process::Command;
use std::time::{Duration, Instant};

#[inline(never)]
fn http_busy_loop(until: Instant) -> u64 {
    common::spin_until(until)
}

#[test]
fn debug_pprof_endpoints() {
    let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
    let l = rt
        .block_on(|| gort::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = l.local_addr().unwrap().port();
    let _server = rt.go(move || gort::prof::http::serve(&l));
    let _busy = rt.go(|| loop {
        http_busy_loop(Instant::now() + Duration::from_millis(50));
        gort::yield_now();
    });

    let (head, body) = get(port, "/debug/pprof/");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("goroutine"));

    let (head, body) = get(port, "/debug/pprof/goroutine?debug=1");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let text = String::from_utf8_lossy(&body);
    assert!(text.starts_with("goroutine profile: total "), "{text}");
    assert!(text.contains("prof_http.rs"), "{text}");

    let (_, body) = get(port, "/debug/pprof/goroutine?debug=2");
    assert!(String::from_utf8_lossy(&body).contains("goroutine "));

    for p in ["heap", "allocs", "mutex", "block", "goroutine"] {
        let (head, body) = get(port, &format!("/debug/pprof/{p}"));
        assert!(head.starts_with("HTTP/1.1 200"), "{p}: {head}");
        assert_eq!(&body[..2], &[0x1f, 0x8b], "{p} is not gzip");
    }
    let (head, _) = get(port, "/debug/pprof/nope");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");

    // A CPU profile by URL: `go tool pprof` fetches it when Go is installed, else we do.
    let go = Command::new("go").arg("version").output().is_ok();
    if !go {
        eprintln!("SKIP go tool pprof by URL: `go` is not on PATH; fetching it directly");
        let (head, body) = get(port, "/debug/pprof/profile?seconds=1");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut raw)
            .unwrap();
        let name = b"http_busy_loop";
        assert!(
            raw.windows(name.len()).any(|w| w == name),
            "CPU profile lacks the busy loop"
        );
        return;
    }
    let out = Command::new("go")
        .args(["tool", "pprof", "-top"])
        .arg(format!(
            "http://127.0.0.1:{port}/debug/pprof/profile?seconds=1"
        ))
        .env("PPROF_TMPDIR", std::env::temp_dir())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("http_busy_loop"), "{text}");
}
