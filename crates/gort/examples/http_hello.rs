//! An HTTP/1.1 keep-alive "hello" server (parsing with `httparse`), for `wrk`.
//!
//! ```text
//! cargo run --release -p gort --example http_hello -- 127.0.0.1:8080
//! wrk -t2 -c100 -d10s http://127.0.0.1:8080/
//! ```
//!
//! One goroutine per connection; pipelined requests are answered in order; a connection
//! closes on `Connection: close`, EOF, a parse error, or 60 s without a request.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use gort::net::TcpStream;

const BODY: &[u8] = b"Hello, World!\n";
const IDLE: Duration = Duration::from_secs(60);

fn handle(mut s: TcpStream) {
    let mut buf = vec![0u8; 8192];
    let mut filled = 0;
    let mut out = Vec::with_capacity(4096);
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        BODY.len()
    );
    loop {
        s.set_read_deadline(Some(Instant::now() + IDLE));
        let n = match s.read(&mut buf[filled..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        filled += n;
        let mut used = 0;
        let mut close = false;
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(&buf[used..filled]) {
                Ok(httparse::Status::Complete(len)) => {
                    used += len;
                    close = req.headers.iter().any(|h| {
                        h.name.eq_ignore_ascii_case("connection")
                            && h.value.eq_ignore_ascii_case(b"close")
                    }) || req.version == Some(0);
                    out.extend_from_slice(head.as_bytes());
                    out.extend_from_slice(BODY);
                    if close {
                        break;
                    }
                }
                Ok(httparse::Status::Partial) => break,
                Err(_) => {
                    let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
                    return;
                }
            }
        }
        if !out.is_empty() {
            if s.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
        if close {
            return;
        }
        buf.copy_within(used..filled, 0);
        filled -= used;
        if filled == buf.len() {
            return; // request head too large
        }
    }
}

#[gort::main]
fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let l = gort::net::TcpListener::bind(addr).expect("bind");
    eprintln!("gort http_hello on http://{}/", l.local_addr().unwrap());
    gort::net::serve(&l, handle).expect("serve");
}
