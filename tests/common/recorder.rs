//! A fake upstream that only records what reaches it.
//!
//! Header-hygiene tests point a gateway route at a [`Recorder`] and then check what the proxy
//! actually forwarded: that the client's `Authorization` and `Cookie` never leave, that the
//! signature is bucketgate's own, that the target is encoded as intended. It speaks just enough
//! HTTP/1.1 (keep-alive, `Content-Length` and chunked bodies, `Expect: 100-continue`) for a
//! proxy's connection pool, and answers every request with one fixed response.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    /// The request target exactly as sent (path and query, still percent-encoded).
    pub target: String,
    /// Header names as sent (not lower-cased), values as sent, in order.
    pub headers: Vec<(String, String)>,
    /// The body after undoing chunked framing, if any.
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether a header is present (case-insensitive name).
    pub fn has_header(&self, name: &str) -> bool {
        self.header(name).is_some()
    }
}

struct Shared {
    requests: Mutex<Vec<RecordedRequest>>,
    stop: AtomicBool,
    status: u16,
    extra_headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// A listening recorder on `127.0.0.1`; stops accepting when dropped.
pub struct Recorder {
    addr: String,
    shared: Arc<Shared>,
}

impl Recorder {
    /// Answers every request with `200 OK` and a short text body.
    pub fn start() -> Recorder {
        Recorder::start_with_response(200, &[("Content-Type", "text/plain")], b"recorded\n")
    }

    /// Answers every request with the given status, headers and body (`Content-Length` is
    /// added; the body is left out for HEAD).
    pub fn start_with_response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("recorder: binding 127.0.0.1:0");
        let addr = listener.local_addr().unwrap().to_string();
        let shared = Arc::new(Shared {
            requests: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            status,
            extra_headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.to_vec(),
        });
        let s = shared.clone();
        thread::Builder::new()
            .name(format!("recorder-{addr}"))
            .spawn(move || accept_loop(listener, s))
            .expect("recorder: spawning the accept thread");
        Recorder { addr, shared }
    }

    /// `127.0.0.1:PORT`, for an upstream's `endpoints`.
    pub fn endpoint(&self) -> String {
        self.addr.clone()
    }

    /// Every request recorded so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Waits (bounded) until at least `n` requests have arrived, then returns them all.
    #[track_caller]
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<RecordedRequest> {
        super::wait_until(
            &format!("{n} request(s) at the recorder {}", self.addr),
            timeout,
            || self.shared.requests.lock().unwrap().len() >= n,
        );
        self.requests()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr.parse().unwrap(), Duration::from_secs(1));
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = conn else { continue };
        let s = shared.clone();
        let _ = thread::Builder::new()
            .name("recorder-conn".into())
            .spawn(move || {
                let _ = serve(stream, &s);
            });
    }
}

fn serve(mut stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    stream.set_nodelay(true)?;
    let mut buf: Vec<u8> = Vec::new();
    loop {
        // Head.
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if !fill(&mut stream, &mut buf)? || shared.stop.load(Ordering::SeqCst) {
                return Ok(());
            }
        };
        let head: Vec<u8> = buf.drain(..end).collect();
        let text = String::from_utf8_lossy(&head).into_owned();
        let mut lines = text.split("\r\n");
        let mut first = lines.next().unwrap_or("").splitn(3, ' ');
        let method = first.next().unwrap_or("").to_string();
        let target = first.next().unwrap_or("").to_string();
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        if get("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
            stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        // Body.
        let mut body = Vec::new();
        if get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
            loop {
                let line = read_line(&mut stream, &mut buf)?;
                let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                    .map_err(|_| {
                    io::Error::new(io::ErrorKind::InvalidData, "bad chunk size")
                })?;
                if size == 0 {
                    while !read_line(&mut stream, &mut buf)?.is_empty() {}
                    break;
                }
                while buf.len() < size + 2 {
                    if !fill(&mut stream, &mut buf)? {
                        return Ok(());
                    }
                }
                body.extend_from_slice(&buf[..size]);
                buf.drain(..size + 2);
            }
        } else if let Some(cl) = get("content-length") {
            let n: usize = cl
                .parse()
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad content-length"))?;
            while buf.len() < n {
                if !fill(&mut stream, &mut buf)? {
                    break;
                }
            }
            let n = n.min(buf.len());
            body.extend(buf.drain(..n));
        }
        let close = get("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        shared.requests.lock().unwrap().push(RecordedRequest {
            method: method.clone(),
            target,
            headers,
            body,
        });
        // Response.
        let mut resp = format!("HTTP/1.1 {} {}\r\n", shared.status, reason(shared.status));
        for (k, v) in &shared.extra_headers {
            resp.push_str(&format!("{k}: {v}\r\n"));
        }
        // 204 and 304 have no body; 204 not even a length.
        let bodiless = matches!(shared.status, 204 | 304);
        if shared.status != 204 {
            resp.push_str(&format!("Content-Length: {}\r\n", shared.body.len()));
        }
        if close {
            resp.push_str("Connection: close\r\n");
        }
        resp.push_str("\r\n");
        let mut out = resp.into_bytes();
        if !bodiless && !method.eq_ignore_ascii_case("HEAD") {
            out.extend_from_slice(&shared.body);
        }
        stream.write_all(&out)?;
        if close {
            let _ = stream.shutdown(Shutdown::Write);
            return Ok(());
        }
    }
}

/// Reads more; false at EOF.
fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut tmp = [0u8; 16 * 1024];
    let n = stream.read(&mut tmp)?;
    buf.extend_from_slice(&tmp[..n]);
    Ok(n > 0)
}

fn read_line(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<String> {
    loop {
        if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
            let line: Vec<u8> = buf.drain(..i + 2).collect();
            return Ok(String::from_utf8_lossy(&line[..i]).into_owned());
        }
        if !fill(stream, buf)? {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "eof in chunked body",
            ));
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        206 => "Partial Content",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}
