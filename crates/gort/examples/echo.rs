//! TCP echo server plus a client load generator, in one process on loopback.
//!
//! ```text
//! cargo run --release -p gort --example echo -- [CONNS=50] [MSGS_PER_CONN=4000] [SIZE=64]
//! cargo run --release -p gort --example echo -- serve 127.0.0.1:7000   # server only
//! ```
//!
//! Each client connection writes a SIZE-byte message and reads the echo, MSGS_PER_CONN times.
//! Prints messages/s and microseconds per message (wall time / all messages), the same
//! measure as bench/go/net_test.go's BenchmarkEcho.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gort::net::{TcpListener, TcpStream};

fn handle(mut s: TcpStream) {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if s.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

fn start_server(addr: &str) -> SocketAddr {
    let l = TcpListener::bind(addr.to_string()).expect("bind");
    let a = l.local_addr().unwrap();
    gort::go(move || gort::net::serve(&l, handle));
    a
}

#[gort::main]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("serve") {
        let a = start_server(args.get(1).map_or("127.0.0.1:7000", |s| s.as_str()));
        eprintln!("echo server on {a}");
        gort::block_forever();
    }
    let num = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (conns, msgs, size) = (num(0, 50), num(1, 4000), num(2, 64));
    let addr = start_server("127.0.0.1:0");
    // Connect first, then time only the exchange.
    let streams: Vec<TcpStream> = (0..conns)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect();
    let start = Instant::now();
    let limit = start + Duration::from_secs(120);
    let hs: Vec<_> = streams
        .into_iter()
        .map(|mut c| {
            gort::go(move || {
                let msg = vec![0x5au8; size];
                let mut back = vec![0u8; size];
                let mut lat = Vec::with_capacity(msgs);
                c.set_deadline(Some(limit));
                while lat.len() < msgs {
                    let t = Instant::now();
                    c.write_all(&msg).expect("write");
                    c.read_exact(&mut back).expect("read");
                    lat.push(t.elapsed().as_micros() as u32);
                }
                lat
            })
        })
        .collect();
    let mut lat: Vec<u32> = hs.into_iter().flat_map(|h| h.join().unwrap()).collect();
    let el = start.elapsed();
    let total = lat.len();
    lat.sort_unstable();
    let pct = |q: f64| lat[((total as f64 * q) as usize).min(total - 1)];
    println!(
        "gort echo: {conns} conns x {msgs} msgs x {size} B: {:.0} msgs/s, {:.2} us/msg \
         (GOMAXPROCS={}); round trip p50 {} us, p99 {} us, max {} us",
        total as f64 / el.as_secs_f64(),
        el.as_secs_f64() * 1e6 / total as f64,
        gort::gomaxprocs(),
        pct(0.5),
        pct(0.99),
        lat[total - 1]
    );
}
