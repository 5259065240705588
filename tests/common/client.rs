//! A deliberately dumb HTTP/1.1 client on `std::net::TcpStream`.
//!
//! Integration tests need what real clients refuse to do: byte-exact hostile paths, bodies
//! larger than memory, hanging up mid-body, `Expect: 100-continue` handshakes and hand-written
//! request bytes. Every socket has read and write timeouts ([`IO_TIMEOUT`]), so a test can fail
//! but never hang.
//!
//! Every function comes in two forms: `try_*` returns `io::Result` (for tests that expect the
//! other side to misbehave, e.g. a truncated body), the plain one panics with a message naming
//! the address and request.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Read and write timeout of every socket this module opens.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on connecting.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest response head accepted (status line plus headers).
const MAX_HEAD: usize = 1 << 20;

/// A parsed response. Header names are lower-cased; values are kept as sent.
#[derive(Debug, Clone, Default)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Trailer fields of a chunked body (lower-cased names).
    pub trailers: Vec<(String, String)>,
    /// Whether an interim `100 Continue` came before this response.
    pub saw_100_continue: bool,
    /// How many request-body bytes were written before the response arrived or the write failed.
    pub body_bytes_sent: u64,
}

impl Response {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header, in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as text (lossy), for assertions and panic messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON; panics with the body if it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response body is not JSON ({e}); status {}, body: {}",
                self.status,
                self.text()
            )
        })
    }

    /// Panics with status, headers and body unless the status is `want`.
    #[track_caller]
    pub fn assert_status(&self, want: u16) -> &Self {
        assert_eq!(
            self.status,
            want,
            "unexpected status; headers {:?}, body: {}",
            self.headers,
            truncate_for_display(&self.body)
        );
        self
    }
}

/// At most 2 KiB of a body, lossy, for messages.
pub fn truncate_for_display(body: &[u8]) -> String {
    let cut = body.len().min(2048);
    let mut s = String::from_utf8_lossy(&body[..cut]).into_owned();
    if body.len() > cut {
        s.push_str(&format!("... ({} bytes in all)", body.len()));
    }
    s
}

/// Connects with [`CONNECT_TIMEOUT`], sets [`IO_TIMEOUT`] both ways and TCP_NODELAY.
pub fn connect(addr: &str) -> io::Result<TcpStream> {
    let mut last = io::Error::new(
        io::ErrorKind::NotFound,
        format!("{addr} resolves to nothing"),
    );
    for sa in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&sa, CONNECT_TIMEOUT) {
            Ok(s) => {
                s.set_read_timeout(Some(IO_TIMEOUT))?;
                s.set_write_timeout(Some(IO_TIMEOUT))?;
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Builds a request head. Adds `Host: addr`, `Content-Length` (when `body_len` is given) and
/// `Connection: close` unless the caller already gave that header (or `Transfer-Encoding`, for
/// `Content-Length`).
pub fn build_head(
    addr: &str,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body_len: Option<u64>,
) -> Vec<u8> {
    let has = |name: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    let mut head = format!("{method} {path_and_query} HTTP/1.1\r\n");
    if !has("host") {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(n) = body_len {
        if !has("content-length") && !has("transfer-encoding") {
            head.push_str(&format!("Content-Length: {n}\r\n"));
        }
    }
    if !has("connection") {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// Sends one request and reads the whole response.
pub fn try_request(
    addr: &str,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> io::Result<Response> {
    let mut stream = connect(addr)?;
    let mut bytes = build_head(
        addr,
        method,
        path_and_query,
        headers,
        body.map(|b| b.len() as u64),
    );
    if let Some(b) = body {
        bytes.extend_from_slice(b);
    }
    let sent = write_tolerating_early_response(&mut stream, &bytes)?;
    let mut conn = Conn::new(stream);
    let mut resp = conn.read_response(method)?;
    resp.body_bytes_sent = sent.saturating_sub(bytes.len() - body.map_or(0, |b| b.len())) as u64;
    Ok(resp)
}

/// [`try_request`], panicking on any I/O error.
#[track_caller]
pub fn request(
    addr: &str,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    try_request(addr, method, path_and_query, headers, body).unwrap_or_else(|e| {
        panic!("{method} http://{addr}{path_and_query} failed: {e} (headers {headers:?})")
    })
}

/// Shorthand for a GET with no extra headers.
#[track_caller]
pub fn get(addr: &str, path_and_query: &str) -> Response {
    request(addr, "GET", path_and_query, &[], None)
}

/// Streams a body of `total_len` bytes with `Content-Length`, asking `fill(offset, buf)` for
/// each piece (at most 256 KiB at a time), so the body is never whole in memory. If the server
/// answers early and stops reading (say 413), the write error is swallowed and that response is
/// returned; [`Response::body_bytes_sent`] says how far the upload got.
pub fn try_request_streaming_body(
    addr: &str,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    total_len: u64,
    mut fill: impl FnMut(u64, &mut [u8]),
) -> io::Result<Response> {
    let mut stream = connect(addr)?;
    stream.write_all(&build_head(
        addr,
        method,
        path_and_query,
        headers,
        Some(total_len),
    ))?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut sent = 0u64;
    while sent < total_len {
        let n = (total_len - sent).min(buf.len() as u64) as usize;
        fill(sent, &mut buf[..n]);
        match stream.write_all(&buf[..n]) {
            Ok(()) => sent += n as u64,
            Err(e) if is_peer_gone(&e) => break,
            Err(e) => return Err(e),
        }
    }
    let mut resp = Conn::new(stream).read_response(method)?;
    resp.body_bytes_sent = sent;
    Ok(resp)
}

/// [`try_request_streaming_body`], panicking on I/O errors.
#[track_caller]
pub fn request_streaming_body(
    addr: &str,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    total_len: u64,
    fill: impl FnMut(u64, &mut [u8]),
) -> Response {
    try_request_streaming_body(addr, method, path_and_query, headers, total_len, fill)
        .unwrap_or_else(|e| {
            panic!("{method} http://{addr}{path_and_query} with a {total_len}-byte streamed body failed: {e}")
        })
}

/// Sends a request whose response body is handed to `sink` piece by piece instead of being
/// collected (for downloads bigger than one wants in memory). The returned response has an
/// empty `body`.
pub fn try_request_to_sink(
    addr: &str,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    mut sink: impl FnMut(&[u8]),
) -> io::Result<Response> {
    let mut stream = connect(addr)?;
    stream.write_all(&build_head(addr, method, path_and_query, headers, None))?;
    let mut conn = Conn::new(stream);
    conn.read_response_with(method, &mut sink)
}

/// Writes `raw` verbatim (no headers added) and reads one response, framed by the response's
/// own headers. For requests no well-behaved client would send.
pub fn try_send_raw(addr: &str, raw: &[u8]) -> io::Result<Response> {
    let mut stream = connect(addr)?;
    write_tolerating_early_response(&mut stream, raw)?;
    let method = raw
        .split(|b| *b == b' ')
        .next()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .unwrap_or_default();
    Conn::new(stream).read_response(&method)
}

/// [`try_send_raw`], panicking on I/O errors.
#[track_caller]
pub fn send_raw(addr: &str, raw: &[u8]) -> Response {
    try_send_raw(addr, raw).unwrap_or_else(|e| {
        panic!(
            "raw request to {addr} failed: {e}; request began {:?}",
            String::from_utf8_lossy(&raw[..raw.len().min(200)])
        )
    })
}

/// Sends a GET, reads the response head and then `read_bytes` raw bytes after it (or less if
/// the body ends first), then drops the socket: the way ffmpeg abandons a download. The
/// returned `body` holds the bytes read (raw, so chunked framing stays in).
pub fn try_start_get_and_hang_up(
    addr: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    read_bytes: usize,
) -> io::Result<Response> {
    let mut stream = connect(addr)?;
    stream.write_all(&build_head(addr, "GET", path_and_query, headers, None))?;
    let mut conn = Conn::new(stream);
    let mut resp = conn.read_head()?;
    while conn.buffered() < read_bytes {
        if conn.fill()? == 0 {
            break;
        }
    }
    let n = conn.buffered().min(read_bytes);
    resp.body = conn.take(n);
    // Dropping with unread data in the receive buffer makes Linux send a RST, like a client
    // that gave up.
    drop(conn);
    Ok(resp)
}

/// [`try_start_get_and_hang_up`], panicking on I/O errors.
#[track_caller]
pub fn start_get_and_hang_up(
    addr: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    read_bytes: usize,
) -> Response {
    try_start_get_and_hang_up(addr, path_and_query, headers, read_bytes)
        .unwrap_or_else(|e| panic!("GET http://{addr}{path_and_query} (to hang up) failed: {e}"))
}

/// The outcome of an `Expect: 100-continue` exchange.
#[derive(Debug)]
pub struct ContinueOutcome {
    /// The final response.
    pub response: Response,
    /// A `100 Continue` arrived before the final response.
    pub saw_100: bool,
    /// The body was sent (after a 100, or after `wait` passed with no answer at all).
    pub body_sent: bool,
}

/// Sends the head with `Expect: 100-continue` and `Content-Length`, then waits up to `wait` for
/// an answer. On `100 Continue` it sends the body and reads the final response; on a final
/// response (a rejection) it returns that without sending the body; on silence it sends the
/// body anyway, as RFC 9110 allows clients to.
pub fn try_request_expect_continue(
    addr: &str,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    wait: Duration,
) -> io::Result<ContinueOutcome> {
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    if !all.iter().any(|(k, _)| k.eq_ignore_ascii_case("expect")) {
        all.push(("Expect", "100-continue"));
    }
    let mut stream = connect(addr)?;
    stream.write_all(&build_head(
        addr,
        method,
        path_and_query,
        &all,
        Some(body.len() as u64),
    ))?;
    let mut conn = Conn::new(stream);
    // A zero timeout means "block forever" to the OS (and an error to std): wait at least 1 ms.
    let wait = wait.max(Duration::from_millis(1));
    conn.stream.set_read_timeout(Some(wait))?;
    let first = conn.try_fill_head(wait);
    conn.stream.set_read_timeout(Some(IO_TIMEOUT))?;
    match first {
        Ok(true) => {
            let head = conn.read_head_raw()?;
            if head.status == 100 {
                conn.stream.write_all(body)?;
                let mut response = conn.read_response(method)?;
                response.saw_100_continue = true;
                response.body_bytes_sent = body.len() as u64;
                Ok(ContinueOutcome {
                    response,
                    saw_100: true,
                    body_sent: true,
                })
            } else {
                let mut response = head;
                conn.read_body(method, &mut response, &mut None)?;
                Ok(ContinueOutcome {
                    response,
                    saw_100: false,
                    body_sent: false,
                })
            }
        }
        Ok(false) => {
            // Nothing within `wait`: send the body anyway.
            conn.stream.write_all(body)?;
            let mut response = conn.read_response(method)?;
            response.body_bytes_sent = body.len() as u64;
            let saw_100 = response.saw_100_continue;
            Ok(ContinueOutcome {
                response,
                saw_100,
                body_sent: true,
            })
        }
        Err(e) => Err(e),
    }
}

/// [`try_request_expect_continue`], panicking on I/O errors.
#[track_caller]
pub fn request_expect_continue(
    addr: &str,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    wait: Duration,
) -> ContinueOutcome {
    try_request_expect_continue(addr, method, path_and_query, headers, body, wait).unwrap_or_else(
        |e| panic!("{method} http://{addr}{path_and_query} with Expect: 100-continue failed: {e}"),
    )
}

/// Builds a `Transfer-Encoding: chunked` body from pieces (empty pieces are skipped, since an
/// empty chunk ends the body), with an optional trailer section.
pub fn chunked_body(pieces: &[&[u8]], trailers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in pieces.iter().filter(|p| !p.is_empty()) {
        out.extend_from_slice(format!("{:x}\r\n", p.len()).as_bytes());
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n");
    for (k, v) in trailers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn is_peer_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
    )
}

/// Writes everything; if the peer stops reading and resets, returns how much was written so
/// the caller can still read the (early) response.
fn write_tolerating_early_response(stream: &mut TcpStream, bytes: &[u8]) -> io::Result<usize> {
    let mut written = 0;
    while written < bytes.len() {
        match stream.write(&bytes[written..]) {
            Ok(0) => break,
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if is_peer_gone(&e) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(written)
}

/// Where a body goes when it is not collected.
type Sink<'a> = Option<&'a mut dyn FnMut(&[u8])>;

/// A socket with a read buffer, so bytes read past the head belong to the body.
pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub fn new(stream: TcpStream) -> Conn {
        Conn {
            stream,
            buf: Vec::with_capacity(64 * 1024),
        }
    }

    /// A fresh connection (see [`connect`]) for several requests in a row.
    pub fn connect(addr: &str) -> io::Result<Conn> {
        Ok(Conn::new(connect(addr)?))
    }

    /// Sends one request on this connection and reads its response. Unlike [`request`], no
    /// `Connection: close` is added (give one to end the connection), so the next call reuses
    /// the socket. `Host` is set to the peer address unless given.
    pub fn send(
        &mut self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> io::Result<Response> {
        let peer = self.stream.peer_addr()?.to_string();
        let mut all = headers.to_vec();
        if !all
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("connection"))
        {
            all.push(("Connection", "keep-alive"));
        }
        let mut bytes = build_head(
            &peer,
            method,
            path_and_query,
            &all,
            body.map(|b| b.len() as u64),
        );
        if let Some(b) = body {
            bytes.extend_from_slice(b);
        }
        self.stream.write_all(&bytes)?;
        let mut resp = self.read_response(method)?;
        resp.body_bytes_sent = body.map_or(0, |b| b.len() as u64);
        Ok(resp)
    }

    fn buffered(&self) -> usize {
        self.buf.len()
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        self.buf.drain(..n).collect()
    }

    /// Reads more into the buffer; 0 at EOF.
    fn fill(&mut self) -> io::Result<usize> {
        let mut tmp = [0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut tmp) {
                Ok(n) => {
                    self.buf.extend_from_slice(&tmp[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "no data from the server within the read timeout ({} bytes buffered)",
                            self.buf.len()
                        ),
                    ))
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits up to `wait` for a complete head in the buffer: Ok(false) on silence.
    fn try_fill_head(&mut self, wait: Duration) -> io::Result<bool> {
        let deadline = Instant::now() + wait;
        while find_head_end(&self.buf).is_none() {
            if Instant::now() >= deadline {
                return Ok(false);
            }
            match self.fill() {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed before a response head",
                    ))
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::TimedOut => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Reads one head (interim or final) and parses it.
    fn read_head_raw(&mut self) -> io::Result<Response> {
        let end = loop {
            if let Some(end) = find_head_end(&self.buf) {
                break end;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "response head over 1 MiB",
                ));
            }
            if self.fill()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "connection closed before a complete response head (got {:?})",
                        String::from_utf8_lossy(&self.buf)
                    ),
                ));
            }
        };
        let head = self.take(end);
        parse_head(&head)
    }

    /// Reads heads until a final (non-1xx) one; remembers whether a 100 went by.
    pub fn read_head(&mut self) -> io::Result<Response> {
        let mut saw_100 = false;
        loop {
            let resp = self.read_head_raw()?;
            if (100..200).contains(&resp.status) && resp.status != 101 {
                saw_100 |= resp.status == 100;
                continue;
            }
            let mut resp = resp;
            resp.saw_100_continue = saw_100;
            return Ok(resp);
        }
    }

    /// Reads a whole response to a request with `method`.
    pub fn read_response(&mut self, method: &str) -> io::Result<Response> {
        let mut resp = self.read_head()?;
        self.read_body(method, &mut resp, &mut None)?;
        Ok(resp)
    }

    fn read_response_with(
        &mut self,
        method: &str,
        sink: &mut dyn FnMut(&[u8]),
    ) -> io::Result<Response> {
        let mut resp = self.read_head()?;
        self.read_body(method, &mut resp, &mut Some(sink))?;
        Ok(resp)
    }

    /// Reads the body by the response's framing into `resp.body`, or into `sink` when given.
    fn read_body(
        &mut self,
        method: &str,
        resp: &mut Response,
        sink: &mut Sink<'_>,
    ) -> io::Result<()> {
        let mut emit = |conn: &mut Conn, n: usize, resp: &mut Response| {
            let data = conn.take(n);
            match sink {
                Some(s) => s(&data),
                None => resp.body.extend_from_slice(&data),
            }
        };
        if method.eq_ignore_ascii_case("HEAD")
            || resp.status == 204
            || resp.status == 304
            || (100..200).contains(&resp.status)
        {
            return Ok(());
        }
        let chunked = resp
            .header("transfer-encoding")
            .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
        if chunked {
            loop {
                let line = self.read_line()?;
                let size_str = line.split(';').next().unwrap_or("").trim();
                let size = usize::from_str_radix(size_str, 16).map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("bad chunk size line {line:?}"),
                    )
                })?;
                if size == 0 {
                    loop {
                        let t = self.read_line()?;
                        if t.is_empty() {
                            return Ok(());
                        }
                        if let Some((k, v)) = t.split_once(':') {
                            resp.trailers
                                .push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                        }
                    }
                }
                let mut left = size;
                while left > 0 {
                    if self.buf.is_empty() && self.fill()? == 0 {
                        return Err(truncated("chunked body", resp.body.len(), None));
                    }
                    let n = left.min(self.buf.len());
                    emit(self, n, resp);
                    left -= n;
                }
                let crlf = self.read_line()?;
                if !crlf.is_empty() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("chunk not followed by CRLF but {crlf:?}"),
                    ));
                }
            }
        } else if let Some(cl) = resp.header("content-length") {
            let total: u64 = cl.trim().parse().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad Content-Length {cl:?}"),
                )
            })?;
            let mut got = 0u64;
            while got < total {
                if self.buf.is_empty() && self.fill()? == 0 {
                    return Err(truncated("body", got as usize, Some(total)));
                }
                let n = ((total - got) as usize).min(self.buf.len());
                emit(self, n, resp);
                got += n as u64;
            }
            Ok(())
        } else {
            loop {
                if !self.buf.is_empty() {
                    let n = self.buf.len();
                    emit(self, n, resp);
                }
                if self.fill()? == 0 {
                    return Ok(());
                }
            }
        }
    }

    /// One CRLF-terminated line, without the CRLF.
    fn read_line(&mut self) -> io::Result<String> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.take(i + 2);
                return Ok(String::from_utf8_lossy(&line[..i]).into_owned());
            }
            if self.buf.len() > MAX_HEAD {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "line over 1 MiB",
                ));
            }
            if self.fill()? == 0 {
                return Err(truncated("chunked framing", 0, None));
            }
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

fn truncated(what: &str, got: usize, total: Option<u64>) -> io::Error {
    let msg = match total {
        Some(t) => format!("connection closed after {got} of {t} {what} bytes"),
        None => format!("connection closed in the middle of the {what} ({got} bytes read)"),
    };
    io::Error::new(io::ErrorKind::UnexpectedEof, msg)
}

/// The index just past `\r\n\r\n`, if the buffer holds a whole head.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

fn parse_head(head: &[u8]) -> io::Result<Response> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let bad = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad status line {status_line:?}"),
        )
    };
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().ok_or_else(bad)?;
    if !version.starts_with("HTTP/1.") {
        return Err(bad());
    }
    let status: u16 = parts.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
    let reason = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (k, v) = line.split_once(':').ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad header line {line:?}"),
            )
        })?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    Ok(Response {
        status,
        reason,
        headers,
        ..Response::default()
    })
}
