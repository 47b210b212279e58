//! A `std::net` echo on loopback, to price the interposed socket calls (`src/rt/interpose/`).
//!
//! ```text
//! cargo run --release -p gort --example std_echo -- threads    [CONNS=8] [MSGS=20000] [SIZE=64]
//! cargo run --release -p gort --example std_echo -- goroutines [CONNS=50] [MSGS=4000] [SIZE=64]
//! ```
//!
//! `threads`: std server and clients on plain threads, where an interposed call must cost
//! nothing (it asks one question and makes the system call). `goroutines`: a gort echo
//! server and std `TcpStream` clients in goroutines, whose blocking reads park on the
//! netpoller. Prints `std echo (MODE): ... us/msg` (wall time / all messages), as the `echo`
//! example does. `bench/interpose/run.sh` runs both with and without the `interpose` feature.

use std::io::{Read, Write};
use std::time::Instant;

fn client(addr: std::net::SocketAddr, msgs: usize, size: usize) {
    let mut c = std::net::TcpStream::connect(addr).expect("connect");
    c.set_nodelay(true).unwrap();
    let msg = vec![0x5au8; size];
    let mut back = vec![0u8; size];
    for _ in 0..msgs {
        c.write_all(&msg).expect("write");
        c.read_exact(&mut back).expect("read");
    }
}

fn echo<S: Read + Write>(mut s: S) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 || s.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map_or("threads", |s| s.as_str()).to_string();
    let num = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let threads = mode == "threads";
    let (conns, msgs, size) = if threads {
        (num(1, 8), num(2, 20000), num(3, 64))
    } else {
        (num(1, 50), num(2, 4000), num(3, 64))
    };
    let start;
    if threads {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for c in l.incoming().flatten() {
                c.set_nodelay(true).unwrap();
                std::thread::spawn(move || echo(c));
            }
        });
        start = Instant::now();
        let hs: Vec<_> = (0..conns)
            .map(|_| std::thread::spawn(move || client(addr, msgs, size)))
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
    } else {
        let rt = gort::Builder::new().build().expect("runtime");
        start = rt.block_on(move || {
            let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            gort::go(move || gort::net::serve(&l, echo));
            let start = Instant::now();
            let hs: Vec<_> = (0..conns)
                .map(|_| gort::go(move || client(addr, msgs, size)))
                .collect();
            hs.into_iter().for_each(|h| h.join().unwrap());
            start
        });
    }
    let el = start.elapsed();
    let total = conns * msgs;
    println!(
        "std echo ({mode}): {conns} conns x {msgs} msgs x {size} B: {:.0} msgs/s, {:.2} us/msg",
        total as f64 / el.as_secs_f64(),
        el.as_secs_f64() * 1e6 / total as f64
    );
}
