//! The upstream request log (`server.upstream_log`): one line per request bucketgate sent to an
//! upstream, like the odrive gateway's `s3.log`, for the question "what did the proxy actually
//! ask S3, and what did S3 answer":
//!
//! `2026-11-24T09:12:03.456Z GET http://10.0.0.5:7480/bucket/pre/a.mp4 status=206 ms=3 sent=0
//! received=262144 peer=10.0.0.5:7480 route=videos` (one line; `error=...` when it failed).
//!
//! - **No secrets**: only the method, the URL (scheme, `Host`, path and query) and the numbers.
//!   Never a header (so never `Authorization` or a session token), and the query loses every
//!   signing parameter ([`redact_query`]) even though bucketgate signs in the header.
//! - **One `write(2)` per line** on a file opened with `O_APPEND`, so lines from all threads
//!   never interleave. A failed write is dropped: the request is already answered.
//! - **Reopened on reload**: the file belongs to the [`crate::gateway::Gateway`] of a config,
//!   so `SIGHUP` after a log rotation (`mv`) starts a new file, as nginx's `USR1` does.
//! - A connection that could not be made gets a line of its own, with the client's method, the
//!   backend's address for the URL (nothing was sent), `error=...`, and `retrying=yes` when
//!   another backend is tried next; so does a request sent on a connection that broke before an
//!   answer and is retried. The request finally sent has its own line.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::time::SystemTime;

use pingora_core::upstreams::peer::{HttpPeer, Peer};
use pingora_error::Error;
use pingora_http::RequestHeader;

/// Query parameters never logged (compared in lower case): SigV4 and SigV2 presigning.
const SECRET_PARAMS: [&str; 10] = [
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "x-amz-algorithm",
    "x-amz-date",
    "x-amz-expires",
    "x-amz-signedheaders",
    "signature",
    "awsaccesskeyid",
    "expires",
];

/// Any parameter whose name contains one of these (lower case) is dropped too.
const SECRET_WORDS: [&str; 5] = ["signature", "credential", "token", "secret", "password"];

/// The open log file of one config.
pub struct UpstreamLog {
    file: Option<File>,
}

impl UpstreamLog {
    /// Opens `path` for appending (created if missing). A failure is logged and turns the log
    /// off for this config; `bucketgate check` already made sure its directory exists.
    pub fn open(path: &str) -> UpstreamLog {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| {
                log::error!(
                    "upstream_log {path:?} cannot be opened, not logging upstream requests: {e}"
                )
            })
            .ok();
        UpstreamLog { file }
    }

    /// Appends the line of `call`.
    pub fn write(&self, call: &Call, done: &Done<'_>) {
        let Some(file) = self.file.as_ref() else {
            return;
        };
        let mut line = String::with_capacity(256);
        if !crate::observe::access_log::push_timestamp(&mut line, SystemTime::now()) {
            line.push('-');
        }
        format_line(&mut line, call, done);
        // One write on an O_APPEND file; a full disk or a closed file only loses this line.
        let _ = (&*file).write_all(line.as_bytes());
    }
}

/// One upstream request, noted while the proxy builds it.
pub struct Call {
    peer: String,
    tls: bool,
    method: String,
    host: String,
    path_and_query: String,
    /// The upstream's status (before bucketgate rewrites an error for the client).
    pub status: Option<u16>,
}

impl Call {
    /// A request about to go to `peer`.
    pub fn to(peer: &HttpPeer) -> Call {
        Call {
            peer: peer.address().to_string(),
            tls: peer.tls(),
            method: String::new(),
            host: String::new(),
            path_and_query: String::new(),
            status: None,
        }
    }

    /// Whether the request was built (a connect failure sends none).
    pub fn was_sent(&self) -> bool {
        !self.method.is_empty()
    }

    /// Notes a connection to the peer that failed before anything was sent: `method` is the
    /// client's, the URL is the peer's address.
    pub fn connect_failed(&mut self, method: &str) {
        self.method = method.to_owned();
        self.host = self.peer.clone();
        self.path_and_query.clear();
    }

    /// Notes the request as it leaves (after signing): method, `Host`, path and query.
    pub fn request(&mut self, req: &RequestHeader) {
        self.method = req.method.as_str().to_owned();
        self.host = req
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("-")
            .to_owned();
        self.path_and_query = req
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned());
    }
}

/// Notes the request on `call`, when the upstream log is on.
pub fn note_request(call: &mut Option<Call>, req: &RequestHeader) {
    if let Some(call) = call.as_mut() {
        call.request(req);
    }
}

/// How the upstream request ended, from the logging phase.
pub struct Done<'a> {
    pub upstream_ms: Option<u128>,
    /// Request body bytes written upstream (None: not tracked).
    pub sent: Option<usize>,
    /// Response body bytes read from upstream.
    pub received: usize,
    pub route: &'a str,
    pub error: Option<&'a Error>,
    /// A connect failure after which another backend is tried.
    pub retrying: bool,
}

fn format_line(line: &mut String, call: &Call, done: &Done<'_>) {
    let scheme = if call.tls { "https" } else { "http" };
    let (path, query) = match call.path_and_query.split_once('?') {
        Some((p, q)) => (p, redact_query(q)),
        None => (call.path_and_query.as_str(), String::new()),
    };
    let _ = write!(
        line,
        " {} {scheme}://{}{path}",
        printable(&call.method),
        printable(&call.host)
    );
    if !query.is_empty() {
        line.push('?');
        line.push_str(&query);
    }
    match call.status {
        Some(s) => {
            let _ = write!(line, " status={s}");
        }
        None => line.push_str(" status=-"),
    }
    match done.upstream_ms {
        Some(ms) => {
            let _ = write!(line, " ms={ms}");
        }
        None => line.push_str(" ms=-"),
    }
    match done.sent {
        Some(n) => {
            let _ = write!(line, " sent={n}");
        }
        None => line.push_str(" sent=-"),
    }
    let _ = write!(
        line,
        " received={} peer={} route={}",
        done.received,
        call.peer,
        printable(done.route)
    );
    if let Some(e) = done.error {
        let _ = write!(line, " error={}", e.etype().as_str());
    }
    if done.retrying {
        line.push_str(" retrying=yes");
    }
    line.push('\n');
}

/// `s` with spaces and control characters percent-escaped, so a line stays one line of fields.
fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if s.bytes().all(|b| b.is_ascii_graphic()) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_ascii_graphic() || (!c.is_ascii() && !c.is_control()) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out.into()
}

/// The query without signing parameters (names compared case-insensitively, after
/// percent-decoding), otherwise unchanged.
pub fn redact_query(query: &str) -> String {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            let name = pair.split_once('=').map_or(*pair, |(n, _)| n);
            let name = percent_encoding::percent_decode_str(name)
                .decode_utf8_lossy()
                .to_ascii_lowercase();
            !SECRET_PARAMS.contains(&name.as_str())
                && !SECRET_WORDS.iter().any(|w| name.contains(w))
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_parameters_are_dropped() {
        let q = "prefix=a%2F&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F2026\
                 &X-Amz-Date=20260101T000000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host\
                 &X-Amz-Signature=deadbeef&x-amz-security-token=TOK&X%2DAmz%2DSignature=beef\
                 &AWSAccessKeyId=AKIA2&Signature=sig2&Expires=1&access_token=jwt\
                 &list-type=2";
        let out = redact_query(q);
        assert_eq!(out, "prefix=a%2F&list-type=2");
        for secret in ["deadbeef", "AKIA", "TOK", "beef", "sig2", "jwt"] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
        assert_eq!(redact_query(""), "");
        assert_eq!(redact_query("uploads"), "uploads");
    }

    #[test]
    fn a_line_has_the_fields_and_no_secret() {
        let mut req = RequestHeader::build(
            "GET",
            b"/bkt/pre/a%20b.txt?X-Amz-Signature=s3cr3t&versionId=1",
            None,
        )
        .unwrap();
        req.insert_header("host", "s3.local:9000").unwrap();
        req.insert_header("authorization", "AWS4-HMAC-SHA256 Signature=s3cr3t")
            .unwrap();
        let peer = HttpPeer::new("127.0.0.1:9000", false, "s3.local".into());
        let mut call = Call::to(&peer);
        call.request(&req);
        call.status = Some(206);
        let mut line = String::new();
        format_line(
            &mut line,
            &call,
            &Done {
                upstream_ms: Some(3),
                sent: Some(0),
                received: 1024,
                route: "files",
                error: None,
                retrying: false,
            },
        );
        assert_eq!(
            line,
            " GET http://s3.local:9000/bkt/pre/a%20b.txt?versionId=1 status=206 ms=3 sent=0 \
             received=1024 peer=127.0.0.1:9000 route=files\n"
        );
        assert!(!line.contains("s3cr3t"));
    }

    #[test]
    fn a_failed_connect_has_a_line_of_its_own() {
        let peer = HttpPeer::new("10.0.0.5:7480", false, "rgw".into());
        let mut call = Call::to(&peer);
        assert!(!call.was_sent());
        call.connect_failed("GET");
        let e = Error::new(pingora_error::ErrorType::ConnectRefused);
        let mut line = String::new();
        format_line(
            &mut line,
            &call,
            &Done {
                upstream_ms: Some(1),
                sent: Some(0),
                received: 0,
                route: "videos",
                error: Some(&e),
                retrying: true,
            },
        );
        assert_eq!(
            line,
            " GET http://10.0.0.5:7480 status=- ms=1 sent=0 received=0 peer=10.0.0.5:7480 \
             route=videos error=ConnectRefused retrying=yes\n"
        );
    }

    #[test]
    fn fields_stay_on_one_line() {
        assert_eq!(printable("a b\nc"), "a%20b%0Ac");
        assert_eq!(printable("ünï"), "ünï");
    }

    #[test]
    fn lines_are_appended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s3.log");
        std::fs::write(&path, "earlier\n").unwrap();
        let log = UpstreamLog::open(&path.to_string_lossy());
        let req = RequestHeader::build("PUT", b"/b/k", None).unwrap();
        let peer = HttpPeer::new("127.0.0.1:1", true, "x".into());
        let mut call = Call::to(&peer);
        call.request(&req);
        let done = Done {
            upstream_ms: None,
            sent: None,
            received: 0,
            route: "-",
            error: None,
            retrying: false,
        };
        log.write(&call, &done);
        log.write(&call, &done);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[0], "earlier");
        assert!(
            lines[1].ends_with(
                " PUT https://-/b/k status=- ms=- sent=- received=0 peer=127.0.0.1:1 route=-"
            ),
            "{}",
            lines[1]
        );
    }
}
