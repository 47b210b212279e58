//! `/debug/pprof/*` over HTTP/1.1 on gort's own TCP listener (Go's `net/http/pprof`), so
//! `go tool pprof http://HOST:PORT/debug/pprof/profile?seconds=5` works against a gort
//! program, and `/debug/metrics`, the runtime metrics in Prometheus' text format
//! ([`crate::metrics`]), so Prometheus can scrape the same port.
//!
//! One request per connection (`Connection: close`), parsed from its request line only: the
//! handlers need the path and the query, nothing else. Mount [`handle`] in your own server,
//! or run [`serve`] / [`listen_and_serve`] in a goroutine.

use std::io::{self, Read, Write};
use std::time::Duration;

use crate::net::{TcpListener, TcpStream};

/// A response: status code, content type, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Body.
    pub body: Vec<u8>,
}

fn query_param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

fn text(status: u16, s: String) -> Response {
    Response {
        status,
        content_type: "text/plain; charset=utf-8",
        body: s.into_bytes(),
    }
}

fn index() -> Response {
    let mut s = String::from(
        "<html><head><title>/debug/pprof/</title></head><body>\n/debug/pprof/<br>\n<br>\n\
         Types of profiles available:\n<table>\n",
    );
    for name in super::profile_names() {
        s.push_str(&format!(
            "<tr><td><a href='{name}?debug=1'>{name}</a></td></tr>\n"
        ));
    }
    s.push_str(
        "<tr><td><a href='profile'>profile</a></td></tr>\n</table>\n\
         <p><a href='/debug/metrics'>/debug/metrics</a>: runtime metrics, Prometheus text format.</p>\n\
         <p>profile: CPU profile; add ?seconds=N (default 30). Open with \
         <code>go tool pprof http://HOST/debug/pprof/profile?seconds=5</code>.</p>\n\
         </body></html>\n",
    );
    Response {
        status: 200,
        content_type: "text/html; charset=utf-8",
        body: s.into_bytes(),
    }
}

/// The Prometheus text exposition's content type (format 0.0.4).
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The response for a GET of `target` (path and optional query), as Go's `net/http/pprof`
/// answers it; `/debug/metrics` answers with [`crate::metrics::write_prometheus`]'s text
/// (Prometheus' scrape target). `/debug/pprof/profile` blocks the calling goroutine for
/// `seconds`.
pub fn respond(target: &str) -> Response {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path == "/debug/metrics" {
        let mut body = Vec::new();
        if let Err(e) = crate::metrics::write_prometheus(&mut body) {
            return text(500, format!("{e}\n"));
        }
        return Response {
            status: 200,
            content_type: METRICS_CONTENT_TYPE,
            body,
        };
    }
    if path == "/debug/flightrecorder" {
        // A snapshot of the running flight recorder (gort::trace::FlightRecorder), as trace
        // JSON for `gort trace` or ui.perfetto.dev.
        let mut body = Vec::new();
        return match crate::trace::write_flight_recorder_snapshot(&mut body) {
            Ok(_) => Response {
                status: 200,
                content_type: "application/json",
                body,
            },
            Err(crate::trace::TraceError::RecorderNotStarted) => text(
                404,
                "no flight recorder is running: start one with gort::trace::FlightRecorder\n"
                    .into(),
            ),
            Err(e) => text(500, format!("{e}\n")),
        };
    }
    let Some(name) = path.strip_prefix("/debug/pprof/") else {
        return text(404, "404 page not found\n".into());
    };
    let debug: u32 = query_param(query, "debug")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let proto = |r: io::Result<Vec<u8>>| match r {
        Ok(body) => Response {
            status: 200,
            content_type: "application/octet-stream",
            body,
        },
        Err(e) => text(500, format!("Could not enable CPU profiling: {e}\n")),
    };
    match name {
        "" => index(),
        "profile" => {
            let secs: u64 = query_param(query, "seconds")
                .and_then(|v| v.parse().ok())
                .filter(|&s| s > 0)
                .unwrap_or(30);
            proto(
                super::api::cpu_profile_for(Duration::from_secs(secs))
                    .and_then(super::api::encoded),
            )
        }
        name => match super::lookup(name) {
            Some(p) => {
                let mut body = Vec::new();
                if let Err(e) = p.write_to(&mut body, debug) {
                    return text(500, format!("{e}\n"));
                }
                Response {
                    status: 200,
                    content_type: if debug == 0 {
                        "application/octet-stream"
                    } else {
                        "text/plain; charset=utf-8"
                    },
                    body,
                }
            }
            None => text(404, "Unknown profile\n".into()),
        },
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Internal Server Error",
    }
}

/// Serves one request on `s` and closes it.
pub fn handle(mut s: TcpStream) {
    let _ = handle_io(&mut s);
}

fn handle_io(s: &mut TcpStream) -> io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > 16 << 10 {
            break;
        }
    }
    let line = buf
        .split(|&b| b == b'\n')
        .next()
        .map(|l| String::from_utf8_lossy(l).trim_end().to_string())
        .unwrap_or_default();
    let mut parts = line.split(' ');
    let resp = match (parts.next(), parts.next(), parts.next()) {
        (Some("GET"), Some(target), Some(v)) if v.starts_with("HTTP/1.") => respond(target),
        (Some(_), Some(_), Some(v)) if v.starts_with("HTTP/1.") => {
            text(405, "method not allowed\n".into())
        }
        _ => text(400, "bad request\n".into()),
    };
    write!(
        s,
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        resp.status,
        reason(resp.status),
        resp.content_type,
        resp.body.len()
    )?;
    if resp.content_type == "application/octet-stream" {
        s.write_all(b"Content-Disposition: attachment; filename=\"profile\"\r\n")?;
    }
    s.write_all(b"\r\n")?;
    s.write_all(&resp.body)?;
    s.flush()
}

/// Accepts connections on `l` forever, each served by [`handle`] in its own goroutine.
pub fn serve(l: &TcpListener) -> io::Result<()> {
    crate::net::serve(l, handle)
}

/// Binds `addr` and [`serve`]s it (Go's `http.ListenAndServe(addr, nil)` with
/// `net/http/pprof` imported). Call it from a goroutine.
pub fn listen_and_serve(addr: &str) -> io::Result<()> {
    let l = TcpListener::bind(addr.to_string())?;
    serve(&l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_like_go() {
        assert_eq!(respond("/nope").status, 404);
        assert_eq!(respond("/debug/pprof/nope").status, 404);
        let m = respond("/debug/metrics");
        assert_eq!((m.status, m.content_type), (200, METRICS_CONTENT_TYPE));
        assert!(String::from_utf8_lossy(&m.body)
            .contains("# TYPE go_sched_goroutines_goroutines gauge"));
        let idx = respond("/debug/pprof/");
        assert_eq!(idx.status, 200);
        assert!(String::from_utf8_lossy(&idx.body).contains("goroutine"));
        assert_eq!(query_param("a=1&debug=2", "debug"), Some("2"));
        assert_eq!(query_param("a=1", "debug"), None);
    }
}
