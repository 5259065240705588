//! The internal S3 client: the S3 calls bucketgate makes itself, for frontends that drive an
//! exchange (DeleteObjects today; a folder move, a parcel upload tomorrow) instead of
//! forwarding one call through Pingora's phases.
//!
//! It shares everything with the proxied path, so a driven call is no second-class citizen:
//! - **one connector per process**, built from the server's settings (keep-alive pool size,
//!   TLS), handed from one config to the next on reload, so its idle connections survive;
//! - **the same pools**: backend choice skips backends that already failed for this call and
//!   ejected ones, a failed connect counts towards passive ejection, and a call is retried on
//!   another backend within the pool's `max_retries` (connect failures always; failures after
//!   sending only for idempotent calls, since the whole body is held in memory);
//! - **a line in `server.upstream_log` for every attempt** and
//!   `bucketgate_upstream_calls_total{pool,operation,outcome}` for every call;
//! - **a grant guard** ([`guard::Guard`]): every key is checked against the caller's grants
//!   before a request is signed, so a driven recursive operation cannot leave them.
//!
//! [`Bucket`] is the handle frontends use: one pool, one upstream bucket, one guard. The typed
//! S3 operations on it are in [`ops`], the streamed download in [`download`], and the streamed
//! and multipart uploads in [`upload`].

pub mod download;
pub mod guard;
pub mod ops;
pub mod upload;

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use pingora_core::connectors::http::Connector;
use pingora_core::protocols::http::client::HttpSession;
use pingora_error::{Error, ErrorType};
use pingora_http::{RequestHeader, ResponseHeader};
use sha2::{Digest as _, Sha256};

pub use guard::{Guard, Touch};

use super::retry::{connect_failed, Attempts};
use super::{Pool, Target};
use crate::observe::metrics::record_upstream_call;
use crate::observe::upstream_log::{Call as LogCall, Done, UpstreamLog};
use crate::s3::{encode_key_path, normalize_query};

/// The largest response body a buffered call keeps (a listing of 1,000 long keys fits).
pub const MAX_BUFFERED: usize = 16 << 20;

/// The client of one config: the process's connector and that config's upstream log.
#[derive(Clone)]
pub struct S3Client {
    connector: Arc<Connector>,
    log: Option<Arc<UpstreamLog>>,
}

/// Why a call got no S3 answer ([`Bucket::send`] gives an S3 error answer as a [`Response`]
/// with its status; the typed operations turn it into [`ClientError::Status`]).
#[derive(Debug)]
pub enum ClientError {
    /// The guard refused a key: the caller's grants do not cover it. Nothing was sent.
    Denied(String),
    /// No healthy backend is left to try.
    NoBackend(String),
    /// The upstream could not be reached, broke off, or timed out.
    Failed(Box<Error>),
    /// The answer is larger than the call accepts.
    TooLarge(&'static str),
    /// S3 answered with an error, or with a status the operation does not expect; `code` and
    /// `message` come from its error document (empty when it had none, as for a HEAD).
    Status {
        status: u16,
        code: String,
        message: String,
    },
    /// The body source of an upload failed, or gave another length than announced. Nothing
    /// was stored (a multipart upload was aborted).
    Source(Box<Error>),
    /// The upstream's answer could not be understood (malformed XML, a missing field).
    Malformed(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Denied(why) => write!(f, "refused by the grant guard: {why}"),
            ClientError::NoBackend(pool) => write!(f, "upstream {pool}: no healthy backend"),
            ClientError::Failed(e) => write!(f, "{e}"),
            ClientError::TooLarge(what) => write!(f, "{what} is larger than accepted"),
            ClientError::Status {
                status,
                code,
                message,
            } => write!(f, "S3 answered {status} {code}: {message}"),
            ClientError::Source(e) => write!(f, "the upload's body failed: {e}"),
            ClientError::Malformed(why) => write!(f, "malformed S3 answer: {why}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// One S3 call with its whole body in memory.
pub struct Call<'a> {
    /// The S3 operation's name, for metrics (`DeleteObjects`, `HeadObject`, ...).
    pub operation: &'static str,
    pub method: http::Method,
    /// The full upstream key (decoded); empty for bucket calls.
    pub key: &'a str,
    /// The raw query, without `?` (normalized as the signer canonicalizes it when sent).
    pub query: &'a str,
    /// Extra headers; `x-amz-*` ones are signed.
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
    /// Sending it twice has the effect of sending it once (retried after a failure mid-call).
    pub idempotent: bool,
    /// Every key the call reads, writes, deletes or lists: the guard checks each.
    pub touches: Vec<Touch<'a>>,
}

impl<'a> Call<'a> {
    /// A bodiless call on `key` (empty: the bucket), which `touch` says what it does to.
    pub fn new(
        operation: &'static str,
        method: http::Method,
        key: &'a str,
        query: &'a str,
        touch: Touch<'a>,
    ) -> Self {
        let idempotent = method != http::Method::POST;
        Call {
            operation,
            method,
            key,
            query,
            headers: Vec::new(),
            body: Bytes::new(),
            idempotent,
            touches: vec![touch],
        }
    }

    /// Adds a key the call touches besides its own (a copy's source, DeleteObjects' keys).
    pub fn touch(mut self, touch: Touch<'a>) -> Self {
        self.touches.push(touch);
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn body(mut self, body: Bytes) -> Self {
        self.body = body;
        self
    }

    pub fn idempotent(mut self, yes: bool) -> Self {
        self.idempotent = yes;
        self
    }
}

/// An upstream answer, with its body read whole.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub head: Box<ResponseHeader>,
    pub body: Bytes,
}

impl Response {
    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A pool, an upstream bucket and the caller's guard: what a driven exchange works on.
pub struct Bucket<'a> {
    pub client: &'a S3Client,
    pub pool: &'a Arc<Pool>,
    pub bucket: &'a str,
    pub guard: Guard<'a>,
    /// The route's label in the upstream log.
    pub route: &'a str,
}

impl S3Client {
    pub fn new(connector: Arc<Connector>, log: Option<Arc<UpstreamLog>>) -> S3Client {
        S3Client { connector, log }
    }

    /// The process's connector (a reload hands it to the next config's client).
    pub fn connector(&self) -> &Arc<Connector> {
        &self.connector
    }

    /// A handle on `bucket` of `pool`, with the caller's guard.
    pub fn bucket<'a>(
        &'a self,
        pool: &'a Arc<Pool>,
        bucket: &'a str,
        guard: Guard<'a>,
        route: &'a str,
    ) -> Bucket<'a> {
        Bucket {
            client: self,
            pool,
            bucket,
            guard,
            route,
        }
    }
}

impl Bucket<'_> {
    /// Sends `call` (after the guard allowed its key), with retries on other backends, and
    /// reads the whole answer (at most `max_body` bytes).
    pub async fn send(&self, call: &Call<'_>, max_body: usize) -> Result<Response, ClientError> {
        let status_of = |r: &Result<Response, ClientError>| r.as_ref().ok().map(|r| r.status);
        let result = self.send_inner(call, max_body).await;
        record_upstream_call(&self.pool.name, call.operation, status_of(&result));
        result
    }

    async fn send_inner(&self, call: &Call<'_>, max_body: usize) -> Result<Response, ClientError> {
        self.check_guard(call)?;
        let hash = payload_hash(&call.body);
        let mut attempts = Attempts::default();
        loop {
            let Opened {
                mut http,
                target,
                req,
                log,
                started,
            } = self.open(call, &hash, &mut attempts).await?;
            let sent = call.body.len();
            match exchange(&mut http, req, call.body.clone(), max_body).await {
                Ok((head, body)) => {
                    let status = head.status.as_u16();
                    if let Some(mut l) = log {
                        l.status = Some(status);
                        self.log_attempt(&l, started, Some(sent), body.len(), None, false);
                    }
                    self.client
                        .connector
                        .release_http_session(http, &*target.peer, None)
                        .await;
                    return Ok(Response { status, head, body });
                }
                Err(Exchange::TooLarge) => return Err(ClientError::TooLarge("the S3 answer")),
                Err(Exchange::Failed(e)) => {
                    let retry = self.failed_after_connect(call.idempotent, &target, &mut attempts);
                    if let Some(l) = log {
                        self.log_attempt(&l, started, Some(sent), 0, Some(&e), retry);
                    }
                    if retry {
                        continue;
                    }
                    return Err(ClientError::Failed(e));
                }
            }
        }
    }

    /// Every key `call` touches, held to the guard.
    fn check_guard(&self, call: &Call<'_>) -> Result<(), ClientError> {
        for touch in &call.touches {
            self.guard
                .check(self.bucket, touch)
                .map_err(ClientError::Denied)?;
        }
        Ok(())
    }

    /// The next attempt of `call`: picks a backend this call has not failed on, signs the
    /// request head for it (with `payload_hash`) and connects. A failed connect counts towards
    /// passive ejection, gets its log line, and is retried on another backend while the pool
    /// allows.
    async fn open(
        &self,
        call: &Call<'_>,
        payload_hash: &str,
        attempts: &mut Attempts,
    ) -> Result<Opened, ClientError> {
        loop {
            attempts.count += 1;
            let target = self.pick(call.key, attempts)?;
            let req = self.request_head(call, &target, payload_hash.to_owned())?;
            let mut log = self.client.log.as_ref().map(|_| LogCall::to(&target.peer));
            if let Some(l) = log.as_mut() {
                l.request(&req);
            }
            let started = Instant::now();
            match self.client.connector.get_http_session(&*target.peer).await {
                Ok((http, reused)) => {
                    self.pool
                        .ejection
                        .record_connected(&target.peer._address, reused);
                    return Ok(Opened {
                        http,
                        target,
                        req,
                        log,
                        started,
                    });
                }
                Err(e) => {
                    let retry = connect_failed(self.pool, attempts, &target.peer._address);
                    if let Some(mut l) = log {
                        l.connect_failed(call.method.as_str());
                        self.log_attempt(&l, started, Some(0), 0, Some(&e), retry);
                    }
                    if !retry {
                        return Err(ClientError::Failed(e));
                    }
                }
            }
        }
    }

    /// An attempt on `target` failed after connecting: remembers the backend, and says whether
    /// the call may be sent again elsewhere (`replayable`: it is idempotent and its body can be
    /// sent again).
    fn failed_after_connect(
        &self,
        replayable: bool,
        target: &Target,
        attempts: &mut Attempts,
    ) -> bool {
        attempts.failed(&target.peer._address);
        replayable
            && attempts.may_retry(self.pool.max_retries)
            && self.pool.has_untried_healthy(&attempts.failed)
    }

    /// Picks a backend this call has not failed on.
    fn pick(&self, key: &str, attempts: &Attempts) -> Result<Target, ClientError> {
        (self.pool)
            .pick_for(self.bucket, key, &attempts.failed)
            .ok_or_else(|| ClientError::NoBackend(self.pool.name.clone()))
    }

    /// The signed request head of `call` for `target`.
    fn request_head(
        &self,
        call: &Call<'_>,
        target: &Target,
        payload_hash: String,
    ) -> Result<RequestHeader, ClientError> {
        let path = self.path(call.key);
        let uri = upstream_uri(path, call.query).map_err(ClientError::Failed)?;
        let failed = |e| ClientError::Failed(e);
        let mut req = RequestHeader::build(call.method.clone(), b"/", Some(4 + call.headers.len()))
            .map_err(failed)?;
        req.set_uri(uri);
        req.insert_header("host", target.host.as_str())
            .map_err(failed)?;
        for (name, value) in &call.headers {
            req.insert_header(*name, value.as_str()).map_err(failed)?;
        }
        if !call.body.is_empty()
            || call.method == http::Method::PUT
            || call.method == http::Method::POST
        {
            req.insert_header("content-length", call.body.len().to_string())
                .map_err(failed)?;
        }
        self.pool
            .signer
            .sign(&mut req, &payload_hash, SystemTime::now());
        Ok(req)
    }

    /// The upstream path of `key` (the bucket itself when empty).
    pub fn path(&self, key: &str) -> String {
        let path = self.pool.object_path(self.bucket, &encode_key_path(key));
        if key.is_empty() {
            let trimmed = path.trim_end_matches('/');
            if trimmed.is_empty() {
                return "/".into();
            }
            return trimmed.into();
        }
        path
    }

    fn log_attempt(
        &self,
        call: &LogCall,
        started: Instant,
        sent: Option<usize>,
        received: usize,
        error: Option<&Error>,
        retrying: bool,
    ) {
        if let Some(log) = self.client.log.as_ref() {
            log.write(
                call,
                &Done {
                    upstream_ms: Some(started.elapsed().as_millis()),
                    sent,
                    received,
                    route: self.route,
                    error,
                    retrying,
                },
            );
        }
    }
}

/// One attempt's connection, with the signed request head to write on it.
struct Opened {
    http: HttpSession,
    target: Target,
    req: RequestHeader,
    log: Option<LogCall>,
    started: Instant,
}

/// How one attempt on an open connection failed.
enum Exchange {
    Failed(Box<Error>),
    TooLarge,
}

/// Writes the request and reads the whole answer on `http`.
async fn exchange(
    http: &mut HttpSession,
    req: RequestHeader,
    body: Bytes,
    max_body: usize,
) -> Result<(Box<ResponseHeader>, Bytes), Exchange> {
    let failed = Exchange::Failed;
    http.write_request_header(Box::new(req))
        .await
        .map_err(failed)?;
    if !body.is_empty() {
        http.write_request_body(body, true).await.map_err(failed)?;
    }
    http.finish_request_body().await.map_err(failed)?;
    http.read_response_header().await.map_err(failed)?;
    let head = match http.response_header() {
        Some(h) => Box::new(h.clone()),
        None => {
            return Err(Exchange::Failed(Error::explain(
                ErrorType::InvalidHTTPHeader,
                "no response head",
            )))
        }
    };
    let mut out = BytesMut::new();
    while let Some(piece) = http.read_response_body().await.map_err(failed)? {
        if out.len() + piece.len() > max_body {
            return Err(Exchange::TooLarge);
        }
        out.extend_from_slice(&piece);
    }
    Ok((head, out.freeze()))
}

/// The SHA-256 of a body held in memory, as S3 wants it signed.
pub fn payload_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// `path?query`, with the query normalized the way the signer canonicalizes it.
pub fn upstream_uri(mut target: String, raw_query: &str) -> pingora_error::Result<http::Uri> {
    let query = normalize_query(raw_query);
    if !query.is_empty() {
        target.push('?');
        target.push_str(&query);
    }
    http::Uri::try_from(target)
        .map_err(|e| Error::because(ErrorType::InternalError, "building upstream uri", e))
}
