//! Streamed exchanges: a GetObject whose body is read piece by piece, in constant memory, and
//! the attempt code behind it, which streamed uploads ([`super::upload`]) share.
//!
//! [`Bucket::send`] holds a whole body in memory on both sides, so it can retry an exchange at
//! any point. A streamed one cannot: it is retried on another backend only until its first
//! body byte is taken from its source, and never once the response head arrived (from there
//! the caller owns the bytes). Its connection goes back to the connector's pool when the
//! answer's body was read to its end, and is closed when the [`Download`] is dropped before.
//! The upstream log gets the line of the final attempt then, with the bytes actually read.

use std::sync::Arc;
use std::time::Instant;

use bucketgate_plugin::Operation;
use bytes::{Bytes, BytesMut};
use pingora_core::connectors::http::Connector;
use pingora_core::protocols::http::client::HttpSession;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_error::{Error, ErrorType};
use pingora_http::{RequestHeader, ResponseHeader};

use super::ops::{s3_error, MAX_ERROR_BODY};
use super::upload::Source;
use super::{Bucket, Call, ClientError, Opened, Touch};
use crate::observe::metrics::record_upstream_call;
use crate::observe::upstream_log::{Call as LogCall, Done, UpstreamLog};
use crate::s3::UNSIGNED_PAYLOAD;
use crate::upstream::retry::Attempts;

/// An answer whose body is still on the wire.
pub struct Download {
    pub status: u16,
    pub head: Box<ResponseHeader>,
    /// `None` once the body is complete (the connection went back to the pool) or broke.
    http: Option<HttpSession>,
    peer: Box<HttpPeer>,
    connector: Arc<Connector>,
    line: Option<LogLine>,
    received: usize,
}

/// The upstream log line of a streamed exchange, written when it ends.
struct LogLine {
    log: Arc<UpstreamLog>,
    call: LogCall,
    route: String,
    started: Instant,
    sent: usize,
}

/// A request body streamed from a [`Source`], of exactly `length` bytes.
pub(super) struct StreamedBody<'s> {
    pub(super) source: &'s mut dyn Source,
    pub(super) length: u64,
}

/// How a streamed attempt failed.
enum Failure {
    /// The connection: retried while nothing was taken from the source.
    Upstream(Box<Error>),
    /// The source (or its length): never retried.
    Source(Box<Error>),
}

impl Bucket<'_> {
    /// GetObject of `key` (`range`: a `Range` header value, as `bytes=0-99`), streamed: the
    /// answer's status and head, with the body left to [`Download::next`]. A status other than
    /// 200 or 206 is a [`ClientError::Status`] (`NoSuchKey`, `InvalidRange`, ...).
    pub async fn get(&self, key: &str, range: Option<&str>) -> Result<Download, ClientError> {
        let mut call = Call::new(
            "GetObject",
            http::Method::GET,
            key,
            "",
            Touch::key(Operation::Read, key),
        );
        if let Some(range) = range {
            call = call.header("range", range);
        }
        let mut download = self.stream(&call, UNSIGNED_PAYLOAD, None).await?;
        if download.status != 200 && download.status != 206 {
            let body = download.read_all(MAX_ERROR_BODY).await.unwrap_or_default();
            return Err(s3_error(download.status, &body));
        }
        Ok(download)
    }

    /// Sends `call` with `body` streamed from its source (or no body), signed with
    /// `payload_hash`, and returns as soon as the answer's head arrived.
    pub(super) async fn stream(
        &self,
        call: &Call<'_>,
        payload_hash: &str,
        body: Option<StreamedBody<'_>>,
    ) -> Result<Download, ClientError> {
        let result = self.stream_inner(call, payload_hash, body).await;
        let status = result.as_ref().ok().map(|d| d.status);
        record_upstream_call(&self.pool.name, call.operation, status);
        result
    }

    async fn stream_inner(
        &self,
        call: &Call<'_>,
        payload_hash: &str,
        mut body: Option<StreamedBody<'_>>,
    ) -> Result<Download, ClientError> {
        self.check_guard(call)?;
        let mut attempts = Attempts::default();
        loop {
            let Opened {
                mut http,
                target,
                mut req,
                log,
                started,
            } = self.open(call, payload_hash, &mut attempts).await?;
            if let Some(body) = &body {
                // Not signed, so the streamed length can replace the in-memory body's.
                req.insert_header("content-length", body.length.to_string())
                    .map_err(ClientError::Failed)?;
            }
            let mut sent = 0u64;
            let result = start(&mut http, req, body.as_mut(), &mut sent).await;
            let mut line = log.zip(self.client.log.clone()).map(|(call, log)| LogLine {
                log,
                call,
                route: self.route.to_owned(),
                started,
                sent: usize::try_from(sent).unwrap_or(usize::MAX),
            });
            let (error, retry) = match result {
                Ok(head) => {
                    let status = head.status.as_u16();
                    if let Some(l) = line.as_mut() {
                        l.call.status = Some(status);
                    }
                    return Ok(Download {
                        status,
                        head,
                        http: Some(http),
                        peer: target.peer,
                        connector: self.client.connector.clone(),
                        line,
                        received: 0,
                    });
                }
                Err(Failure::Source(e)) => (ClientError::Source(e), false),
                Err(Failure::Upstream(e)) => {
                    let replayable = call.idempotent && sent == 0;
                    let retry = self.failed_after_connect(replayable, &target, &mut attempts);
                    (ClientError::Failed(e), retry)
                }
            };
            if let Some(l) = line {
                let e = match &error {
                    ClientError::Failed(e) | ClientError::Source(e) => Some(e.as_ref()),
                    _ => None,
                };
                l.write(0, e, retry);
            }
            if !retry {
                return Err(error);
            }
        }
    }
}

/// Writes the request (and its streamed body) on `http` and reads the answer's head; `sent`
/// counts the body bytes taken from the source.
async fn start(
    http: &mut HttpSession,
    req: RequestHeader,
    body: Option<&mut StreamedBody<'_>>,
    sent: &mut u64,
) -> Result<Box<ResponseHeader>, Failure> {
    let upstream = Failure::Upstream;
    http.write_request_header(Box::new(req))
        .await
        .map_err(upstream)?;
    if let Some(body) = body {
        if body.length == 0 {
            source_ends(body, 0).await?;
        }
        while *sent < body.length {
            let piece = match body.source.next().await.map_err(Failure::Source)? {
                Some(piece) => piece,
                None => return Err(wrong_length(*sent, body.length)),
            };
            *sent += piece.len() as u64;
            if *sent > body.length {
                return Err(wrong_length(*sent, body.length));
            }
            let last = *sent == body.length;
            if last {
                // The last piece completes the request: held back until the source confirms
                // it has nothing more, so an overlong body never reaches storage.
                source_ends(body, *sent).await?;
            }
            if !piece.is_empty() {
                http.write_request_body(piece, last)
                    .await
                    .map_err(upstream)?;
            }
        }
    }
    http.finish_request_body().await.map_err(upstream)?;
    http.read_response_header().await.map_err(upstream)?;
    match http.response_header() {
        Some(head) => Ok(Box::new(head.clone())),
        None => Err(Failure::Upstream(Error::explain(
            ErrorType::InvalidHTTPHeader,
            "no response head",
        ))),
    }
}

/// Ok when `body`'s source, `sent` bytes in, has nothing more to give.
async fn source_ends(body: &mut StreamedBody<'_>, sent: u64) -> Result<(), Failure> {
    while let Some(more) = body.source.next().await.map_err(Failure::Source)? {
        if !more.is_empty() {
            return Err(wrong_length(sent + more.len() as u64, body.length));
        }
    }
    Ok(())
}

fn wrong_length(got: u64, announced: u64) -> Failure {
    Failure::Source(Error::explain(
        ErrorType::InvalidHTTPHeader,
        format!("the body source gave {got} bytes or more where {announced} were announced"),
    ))
}

impl Download {
    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The answer's `Content-Length`, when it gave one.
    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length")?.trim().parse().ok()
    }

    /// The next piece of the body; `None` at its end, when the connection has gone back to
    /// the connector's pool.
    pub async fn next(&mut self) -> Result<Option<Bytes>, ClientError> {
        let Some(http) = self.http.as_mut() else {
            return Ok(None);
        };
        match http.read_response_body().await {
            Ok(Some(piece)) => {
                self.received += piece.len();
                Ok(Some(piece))
            }
            Ok(None) => {
                if let Some(http) = self.http.take() {
                    self.connector
                        .release_http_session(http, &*self.peer, None)
                        .await;
                }
                self.end(None);
                Ok(None)
            }
            Err(e) => {
                self.http = None;
                self.end(Some(&e));
                Err(ClientError::Failed(e))
            }
        }
    }

    /// The rest of the body, read whole; [`ClientError::TooLarge`] past `max` bytes (the
    /// connection is then closed).
    pub async fn read_all(&mut self, max: usize) -> Result<Bytes, ClientError> {
        let mut out = BytesMut::new();
        while let Some(piece) = self.next().await? {
            if out.len() + piece.len() > max {
                self.http = None;
                self.end(None);
                return Err(ClientError::TooLarge("the S3 answer"));
            }
            out.extend_from_slice(&piece);
        }
        Ok(out.freeze())
    }

    /// Writes the log line, once.
    fn end(&mut self, error: Option<&Error>) {
        if let Some(line) = self.line.take() {
            line.write(self.received, error, false);
        }
    }
}

impl Drop for Download {
    /// A body not read to its end closes its connection (dropped with the session); the log
    /// line shows the bytes read, with no error: the caller chose to stop.
    fn drop(&mut self) {
        self.end(None);
    }
}

impl LogLine {
    fn write(self, received: usize, error: Option<&Error>, retrying: bool) {
        self.log.write(
            &self.call,
            &Done {
                upstream_ms: Some(self.started.elapsed().as_millis()),
                sent: Some(self.sent),
                received,
                route: &self.route,
                error,
                retrying,
            },
        );
    }
}
