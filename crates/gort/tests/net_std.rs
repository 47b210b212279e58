//! Conversions between gort's sockets and std's (issue 16 item 4): a crate that wants a std
//! type can be given one, and the reverse; `AsFd`, `OwnedFd` both ways.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

fn rt() -> gort::Runtime {
    gort::Builder::new().gomaxprocs(2).build().unwrap()
}

#[test]
fn tcp_listener_and_stream_go_to_std_and_back() {
    let rt = rt();
    rt.block_on(|| {
        let ln = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = ln.local_addr().unwrap();
        let fd = ln.as_fd().as_raw_fd();
        // To std: a plain thread accepts on it, blocking (std's sockets are blocking).
        let std_ln = ln.into_std().unwrap();
        assert_eq!(std_ln.as_raw_fd(), fd, "the same socket");
        let server = std::thread::spawn(move || {
            let (mut c, _) = std_ln.accept().unwrap();
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut b = [0u8; 5];
            c.read_exact(&mut b).unwrap();
            c.write_all(&b).unwrap();
            // Blocking again: a read with nothing to read waits (times out), it does not fail
            // with WouldBlock at once.
            c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            let e = c.read(&mut b).unwrap_err();
            assert!(matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ));
            b
        });
        // From std: a std stream wrapped for goroutines.
        let s = std::net::TcpStream::connect(addr).unwrap();
        let mut s = gort::net::TcpStream::from_std(s).unwrap();
        s.write_all(b"hello").unwrap();
        let mut b = [0u8; 5];
        s.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"hello");
        assert_eq!(&server.join().unwrap(), b"hello");
        // OwnedFd round trip.
        let owned: OwnedFd = s.into();
        let s = gort::net::TcpStream::try_from(owned).unwrap();
        assert!(s.peer_addr().is_ok());
    });
}

#[test]
fn udp_and_unix_convert_too() {
    let rt = rt();
    rt.block_on(|| {
        let a = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = gort::net::UdpSocket::try_from(b).unwrap();
        a.send_to(b"ping", b.local_addr().unwrap()).unwrap();
        let mut buf = [0u8; 8];
        let (n, from) = b.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr().unwrap()));
        let a = a.into_std().unwrap();
        a.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        assert!(
            a.recv_from(&mut buf).is_err(),
            "blocking std socket times out"
        );

        let (x, y) = gort::net::UnixStream::pair().unwrap();
        let mut x = x.into_std().unwrap();
        let mut y = y;
        x.write_all(b"unix").unwrap();
        let mut b4 = [0u8; 4];
        y.read_exact(&mut b4).unwrap();
        assert_eq!(&b4, b"unix");
        let mut x = gort::net::UnixStream::from_std(x.try_clone().unwrap()).unwrap();
        x.write_all(b"back").unwrap();
        y.read_exact(&mut b4).unwrap();
        assert_eq!(&b4, b"back");
    });
}
