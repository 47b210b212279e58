//! TCP/UDP/Unix over the netpoller: echo, deadlines, reset, half-close, many connections.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};

fn rt(n: usize) -> gort::Runtime {
    gort::Builder::new().gomaxprocs(n).build().unwrap()
}

const MS: Duration = Duration::from_millis(1);

/// A listener on a free loopback port, and its address.
fn listen() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    (l, addr)
}

fn echo_server() -> SocketAddr {
    let (l, addr) = listen();
    gort::go(move || {
        let _ = gort::net::serve(&l, |mut s| {
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
        });
    });
    addr
}

#[test]
fn echo_many_connections() {
    let rt = rt(2);
    rt.block_on(|| {
        let addr = echo_server();
        let hs: Vec<_> = (0..50)
            .map(|i| {
                gort::go(move || {
                    let mut c = TcpStream::connect(addr).unwrap();
                    let msg = [i as u8; 64];
                    let mut back = [0u8; 64];
                    for _ in 0..200 {
                        c.write_all(&msg).unwrap();
                        c.read_exact(&mut back).unwrap();
                        assert_eq!(back, msg);
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
    });
}

#[test]
fn large_transfer_both_directions() {
    let rt = rt(2);
    rt.block_on(|| {
        let addr = echo_server();
        let c = Arc::new(TcpStream::connect(addr).unwrap());
        let c2 = c.clone();
        const N: usize = 8 << 20;
        let w = gort::go(move || {
            let chunk = vec![7u8; 65536];
            for _ in 0..N / chunk.len() {
                (&*c2).write_all(&chunk).unwrap();
            }
            c2.shutdown(Shutdown::Write).unwrap();
        });
        let mut got = 0;
        let mut buf = vec![0u8; 65536];
        loop {
            let n = (&*c).read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            assert!(buf[..n].iter().all(|&b| b == 7));
            got += n;
        }
        w.join().unwrap();
        assert_eq!(got, N);
    });
}

#[test]
fn read_deadline_fires_and_clears() {
    let rt = rt(2);
    rt.block_on(|| {
        let (l, addr) = listen();
        let srv = gort::go(move || {
            let (mut s, _) = l.accept().unwrap();
            gort::time::sleep(300 * MS);
            s.write_all(b"late").unwrap();
            gort::time::sleep(100 * MS);
        });
        let mut c = TcpStream::connect(addr).unwrap();
        let mut buf = [0u8; 4];
        // Fires within generous bounds.
        let t = Instant::now();
        c.set_read_deadline(Some(Instant::now() + 50 * MS));
        let e = c.read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        let el = t.elapsed();
        assert!(el >= 50 * MS && el < Duration::from_secs(2), "{el:?}");
        // In the past: fails at once.
        c.set_read_deadline(Some(Instant::now() - MS));
        let t = Instant::now();
        assert_eq!(c.read(&mut buf).unwrap_err().kind(), ErrorKind::TimedOut);
        assert!(t.elapsed() < 50 * MS);
        // Cleared: the read waits for the data.
        c.set_read_deadline(None);
        c.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"late");
        srv.join().unwrap();
    });
}

#[test]
fn deadline_set_while_reading_wakes_the_reader() {
    let rt = rt(2);
    rt.block_on(|| {
        let (l, addr) = listen();
        let _keep = gort::go(move || {
            let (_s, _) = l.accept().unwrap();
            gort::time::sleep(500 * MS);
        });
        let c = Arc::new(TcpStream::connect(addr).unwrap());
        let c2 = c.clone();
        let r = gort::go(move || {
            let mut b = [0u8; 1];
            (&*c2).read(&mut b).map_err(|e| e.kind())
        });
        gort::time::sleep(30 * MS);
        c.set_read_deadline(Some(Instant::now()));
        assert_eq!(r.join().unwrap(), Err(ErrorKind::TimedOut));
    });
}

#[test]
fn write_deadline_on_full_buffer() {
    let rt = rt(2);
    rt.block_on(|| {
        let (l, addr) = listen();
        let srv = gort::go(move || {
            let (s, _) = l.accept().unwrap();
            gort::time::sleep(400 * MS);
            drop(s);
        });
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_write_deadline(Some(Instant::now() + 100 * MS));
        let chunk = vec![0u8; 1 << 16];
        let e = loop {
            if let Err(e) = c.write(&chunk) {
                break e;
            }
        };
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        srv.join().unwrap();
    });
}

#[test]
fn connection_reset_by_linger_zero_close() {
    let rt = rt(2);
    rt.block_on(|| {
        let (l, addr) = listen();
        let srv = gort::go(move || {
            let (s, _) = l.accept().unwrap();
            let mut b = [0u8; 1];
            (&s).read_exact(&mut b).unwrap();
            s.set_linger(Some(Duration::ZERO)).unwrap();
            drop(s); // RST
        });
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(b"x").unwrap();
        srv.join().unwrap();
        let mut buf = [0u8; 16];
        let e = c.read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e:?}");
    });
}

#[test]
fn half_close_peer_reads_eof_and_writes_back() {
    let rt = rt(2);
    rt.block_on(|| {
        let (l, addr) = listen();
        let srv = gort::go(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut all = Vec::new();
            s.read_to_end(&mut all).unwrap(); // EOF after the client's FIN
            s.write_all(&all).unwrap();
            s.write_all(b"!").unwrap();
        });
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(b"hello").unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut back = Vec::new();
        c.read_to_end(&mut back).unwrap();
        assert_eq!(back, b"hello!");
        srv.join().unwrap();
    });
}

#[test]
fn connect_refused_and_timeout_errors() {
    let rt = rt(2);
    rt.block_on(|| {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let e = TcpStream::connect(addr).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
        let e = TcpStream::connect("localhost-does-not-exist.invalid:80".to_string());
        assert!(e.is_err());
        let ok = TcpStream::connect(("localhost", 9));
        let _ = ok; // may or may not resolve/connect; must not hang
    });
}

#[test]
fn accept_deadline() {
    let rt = rt(1);
    rt.block_on(|| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_deadline(Some(Instant::now() + 30 * MS));
        assert_eq!(l.accept().unwrap_err().kind(), ErrorKind::TimedOut);
    });
}

#[test]
fn sockets_work_from_plain_threads() {
    let rt = rt(2);
    let (l, addr) = listen();
    let srv = rt.go(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut b = [0u8; 3];
        s.read_exact(&mut b).unwrap();
        s.write_all(&b).unwrap();
        gort::time::sleep(Duration::from_millis(200));
    });
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"abc").unwrap();
    let mut b = [0u8; 3];
    c.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"abc");
    c.set_read_deadline(Some(Instant::now() + 20 * MS));
    assert_eq!(c.read(&mut b).unwrap_err().kind(), ErrorKind::TimedOut);
    srv.join().unwrap();
}

#[test]
fn waiting_on_a_socket_is_not_a_deadlock() {
    let rt = rt(2);
    let std_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_l.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let (mut s, _) = std_l.accept().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        s.write_all(b"ok").unwrap();
    });
    let got = rt.block_on(move || {
        let mut c = TcpStream::connect(addr).unwrap();
        let mut b = [0u8; 2];
        c.read_exact(&mut b).unwrap();
        b
    });
    assert_eq!(&got, b"ok");
    t.join().unwrap();
}

#[test]
fn udp_round_trip_and_deadline() {
    let rt = rt(2);
    rt.block_on(|| {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let aa = a.local_addr().unwrap();
        let h = gort::go(move || {
            let mut buf = [0u8; 16];
            let (n, from) = a.recv_from(&mut buf).unwrap();
            a.send_to(&buf[..n], from).unwrap();
        });
        b.connect(aa).unwrap();
        b.send(b"ping").unwrap();
        let mut buf = [0u8; 16];
        let n = b.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"ping");
        h.join().unwrap();
        b.set_read_deadline(Some(Instant::now() + 20 * MS));
        assert_eq!(b.recv(&mut buf).unwrap_err().kind(), ErrorKind::TimedOut);
    });
}

#[test]
fn unix_stream_echo() {
    let rt = rt(2);
    let dir = std::env::temp_dir().join(format!("gort-unix-{}", std::process::id()));
    let _ = std::fs::remove_file(&dir);
    let path = dir.clone();
    rt.block_on(move || {
        let l = UnixListener::bind(&path).unwrap();
        let h = gort::go(move || {
            let mut s = l.accept().unwrap();
            let mut b = [0u8; 5];
            s.read_exact(&mut b).unwrap();
            s.write_all(&b).unwrap();
        });
        let mut c = UnixStream::connect(&path).unwrap();
        c.write_all(b"hello").unwrap();
        let mut b = [0u8; 5];
        c.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"hello");
        h.join().unwrap();
        let (x, y) = UnixStream::pair().unwrap();
        y.set_read_deadline(Some(Instant::now() + 10 * MS));
        assert_eq!((&y).read(&mut b).unwrap_err().kind(), ErrorKind::TimedOut);
        drop(x);
    });
    let _ = std::fs::remove_file(&dir);
}

#[test]
fn idle_runtime_wakes_from_the_blocking_netpoll_promptly() {
    // Every P idle: one M must be blocked in epoll, so each round trip with a plain thread
    // takes microseconds, not sysmon's 10 ms poll interval.
    let rt = rt(2);
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_nodelay(true).unwrap();
        let mut b = [0u8; 1];
        for _ in 0..200 {
            std::thread::sleep(Duration::from_micros(200)); // let every P go idle
            s.write_all(b"p").unwrap();
            s.read_exact(&mut b).unwrap();
        }
    });
    let el = rt.block_on(move || {
        let mut c = TcpStream::connect(addr).unwrap();
        let mut b = [0u8; 1];
        let t = Instant::now();
        for _ in 0..200 {
            c.read_exact(&mut b).unwrap();
            c.write_all(&b).unwrap();
        }
        t.elapsed()
    });
    peer.join().unwrap();
    eprintln!("200 round trips with an idle runtime: {el:?}");
    // 200 x 10 ms would be 2 s through sysmon alone; allow a loaded machine plenty.
    assert!(el < Duration::from_millis(1000), "{el:?}");
}

#[test]
fn concurrent_readers_of_one_stream_are_all_woken() {
    let rt = rt(2);
    rt.block_on(|| {
        let (l, addr) = listen();
        let c = Arc::new(TcpStream::connect(addr).unwrap());
        let (mut s, _) = l.accept().unwrap();
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let c = c.clone();
                gort::go(move || {
                    c.set_read_deadline(Some(Instant::now() + Duration::from_secs(5)));
                    let mut b = [0u8; 1];
                    (&*c).read(&mut b).map(|_| b[0])
                })
            })
            .collect();
        gort::time::sleep(30 * MS);
        for i in 0..3u8 {
            s.write_all(&[i]).unwrap();
            gort::time::sleep(10 * MS);
        }
        let mut got: Vec<u8> = readers
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect();
        got.sort();
        assert_eq!(got, vec![0, 1, 2]);
    });
}

/// A short read leaves the stream "drained": the next read waits for an edge without trying a
/// syscall first. Data, EOF and deadlines that arrive later must all still wake the reader,
/// from a goroutine and from a plain thread (whose poll(2) wait delivers no edge).
#[test]
fn reads_after_a_short_read_wake_on_later_data_eof_and_deadline() {
    let rt = rt(2);
    rt.block_on(|| {
        let (l, addr) = listen();
        let writer = gort::go(move || {
            let (mut s, _) = l.accept().unwrap();
            for chunk in [&b"ab"[..], b"cde", b"f"] {
                s.write_all(chunk).unwrap();
                gort::time::sleep(20 * MS);
            }
            // Then EOF.
        });
        let mut c = TcpStream::connect(addr).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            match c.read(&mut buf).unwrap() {
                0 => break,
                n => got.extend_from_slice(&buf[..n]),
            }
        }
        assert_eq!(got, b"abcdef");
        writer.join().unwrap();

        // Deadline after a short read.
        let (l, addr) = listen();
        let hold = gort::go(move || {
            let (mut s, _) = l.accept().unwrap();
            s.write_all(b"x").unwrap();
            gort::time::sleep(300 * MS);
        });
        let mut c = TcpStream::connect(addr).unwrap();
        assert_eq!(c.read(&mut buf).unwrap(), 1);
        c.set_read_deadline(Some(Instant::now() + 30 * MS));
        let e = c.read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        hold.join().unwrap();
    });

    // A plain thread reading: no goroutine polls, so no edge ever reaches the hint.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        for chunk in [&b"12"[..], b"345"] {
            s.write_all(chunk).unwrap();
            std::thread::sleep(20 * MS);
        }
    });
    let mut c = TcpStream::connect(addr).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    let start = Instant::now();
    loop {
        match c.read(&mut buf).unwrap() {
            0 => break,
            n => got.extend_from_slice(&buf[..n]),
        }
    }
    assert_eq!(got, b"12345");
    assert!(start.elapsed() < Duration::from_secs(5));
    t.join().unwrap();
}

/// Reads switch between a plain `recv` (after a short read) and `recvmsg` with `TCP_INQ`
/// (after a read that filled its buffer). A plain read that fills its buffer while more
/// bytes are queued must not leave the next read waiting for an edge that never comes.
#[test]
fn reads_of_mixed_sizes_never_wait_on_queued_bytes() {
    let rt = rt(2);
    rt.block_on(|| {
        let (l, addr) = listen();
        let (go_tx, go_rx) = gort::chan::bounded::<()>(0);
        let writer = gort::go(move || {
            let (mut s, _) = l.accept().unwrap();
            s.write_all(b"hello").unwrap();
            go_rx.recv().unwrap();
            s.write_all(b"AAAABBBBCCCC").unwrap();
            go_rx.recv().unwrap();
            s.write_all(b"DD").unwrap();
        });
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_deadline(Some(Instant::now() + Duration::from_secs(10)));
        let mut big = [0u8; 64];
        // Short read: the next read is a plain recv.
        assert_eq!(c.read(&mut big).unwrap(), 5);
        go_tx.send(()).unwrap();
        // Wait until all twelve bytes are queued, so the plain read below fills its buffer
        // with more behind it.
        gort::time::sleep(50 * MS);
        let mut four = [0u8; 4];
        c.read_exact(&mut four).unwrap();
        assert_eq!(&four, b"AAAA");
        c.read_exact(&mut four).unwrap(); // queued: must not wait
        assert_eq!(&four, b"BBBB");
        c.read_exact(&mut four).unwrap(); // the TCP_INQ read, which drains the queue
        assert_eq!(&four, b"CCCC");
        go_tx.send(()).unwrap();
        assert_eq!(c.read(&mut big).unwrap(), 2); // waits for the next edge
        assert_eq!(&big[..2], b"DD");
        writer.join().unwrap();
        assert_eq!(c.read(&mut big).unwrap(), 0);
    });
}
