//! One S3 request forwarded through the proxy phases: the upstream request re-signed under
//! the pool's credentials, the client's aws-chunked body checked on its way, and the answer's
//! head and body rewritten to the client's view ([`super::response`]).
//!
//! A listing held for rewriting counts against the buffer budget ([`crate::limit::memory`]).
//! Its head is the last moment a client can still be told `503 SlowDown`, so the room is
//! reserved then: the upstream's `Content-Length`, or [`FIRST_RESERVATION`] when it declares
//! none. Growth past that is reserved piece by piece; refused mid-body, the listing is dropped
//! like one that is too large. The small results of multipart calls are held too but not
//! refused: the upstream has already acted on them (a completed upload must not be reported as
//! a 503 the client would retry).

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use pingora_error::Result;
use pingora_http::{RequestHeader, ResponseHeader};

use super::markers::MarkerSealer;
use super::operation::S3Op;
use super::plan::S3Request;
use super::response::{self, BodyState};
use crate::frontend::{header_policy, Forward};
use crate::limit::memory::Reservation;
use crate::reply::Refusal;
use crate::upstream::client::upstream_uri;
use crate::upstream::Pool;

/// A planned S3 request and what its response body needs.
pub struct S3Forward {
    plan: Box<S3Request>,
    markers: Arc<MarkerSealer>,
    request_id: String,
    /// What happens to the upstream body, once its head arrived.
    body: Option<BodyState>,
    /// The buffer budget a held listing takes (None: nothing budgeted).
    held: Option<Reservation>,
    /// The budget was spent when a body had to be held: the client gets this refusal instead.
    busy: Option<Refusal>,
}

/// Bytes reserved for a held body whose length the upstream does not declare: a page of 1000
/// keys with long names fits.
const FIRST_RESERVATION: usize = 1 << 20;

impl S3Forward {
    pub fn new(plan: Box<S3Request>, markers: Arc<MarkerSealer>, request_id: String) -> Self {
        S3Forward {
            plan,
            markers,
            request_id,
            body: None,
            held: None,
            busy: None,
        }
    }

    /// A listing is about to be held: reserve its room now, or turn the answer into a
    /// `503 SlowDown` (the head is still ours to change).
    fn hold(&mut self, resp: &mut ResponseHeader, declared: Option<usize>) -> Result<()> {
        let mut held = Reservation::default();
        let Err(limit) = held.resize(declared.unwrap_or(FIRST_RESERVATION)) else {
            self.held = Some(held);
            return Ok(());
        };
        let refusal = Refusal::limited(&limit);
        let mut head = ResponseHeader::build(503, Some(5))?;
        head.insert_header("content-type", "application/xml")?;
        head.insert_header("cache-control", "no-store")?;
        head.insert_header("x-amz-request-id", self.request_id.as_str())?;
        for (name, value) in &refusal.headers {
            head.insert_header(name.to_string(), value.as_str())?;
        }
        *resp = head;
        log::info!(
            "s3 {:?} refused: user={} the buffer budget cannot hold its answer",
            self.plan.op,
            self.plan.identity.subject
        );
        self.busy = Some(refusal);
        Ok(())
    }
}

/// The operations whose held answer is a listing (read-only: refusing it changes nothing).
fn is_listing(op: S3Op) -> bool {
    matches!(
        op,
        S3Op::ListObjectsV1 | S3Op::ListObjectsV2 | S3Op::ListMultipartUploads | S3Op::ListParts
    )
}

/// The `Content-Length` an upstream head declares.
fn declared_length(resp: &ResponseHeader) -> Option<usize> {
    resp.headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

impl Forward for S3Forward {
    fn pool(&self) -> &Arc<Pool> {
        &self.plan.pool
    }

    fn target(&self) -> (&str, &str) {
        (&self.plan.bucket, &self.plan.key)
    }

    fn log_key(&self) -> Option<&str> {
        Some(self.plan.key.as_str()).filter(|k| !k.is_empty())
    }

    /// Upload bodies pass through the aws-chunked decoder and checksums.
    fn filters_body(&self) -> bool {
        true
    }

    /// Path, query, headers, body framing, signature.
    fn upstream_request(&mut self, req: &mut RequestHeader, host: &str) -> Result<()> {
        let plan = &self.plan;
        req.set_uri(upstream_uri(plan.upstream_path(), &plan.query)?);
        header_policy::filter_s3_request(req);
        if let Some(source) = &plan.copy_source {
            req.insert_header("x-amz-copy-source", source.as_str())?;
        }
        plan.body.edit_headers(req)?;
        req.insert_header("host", host)?;
        plan.pool
            .signer
            .sign(req, &plan.body.payload_hash, SystemTime::now());
        Ok(())
    }

    /// A forged chunk or a bad checksum stops the upload before it reaches storage.
    fn request_body(&mut self, body: &mut Option<Bytes>, end: bool) -> Result<(), Refusal> {
        let plan = &mut self.plan;
        plan.body.body_filter(body, end).map_err(|e| {
            log::warn!(
                "s3 upload refused mid-body: user={} key={:?}: {e}",
                plan.identity.subject,
                plan.key
            );
            Refusal::from(e)
        })
    }

    fn response_head(&mut self, resp: &mut ResponseHeader) -> Result<()> {
        let declared = declared_length(resp);
        let state = response::on_head(&self.plan, resp, &self.request_id)?;
        if matches!(state, BodyState::Rewrite(_)) && is_listing(self.plan.op) {
            self.hold(resp, declared)?;
        }
        self.body = Some(state);
        Ok(())
    }

    /// Object bodies stream through untouched; only rewritten bodies need the rest.
    fn response_body(&mut self, body: &mut Option<Bytes>, end: bool, req: &RequestHeader) {
        if let Some(refusal) = &self.busy {
            // The upstream's answer is dropped; the client gets the refusal.
            *body = Some(if end {
                super::error::render(refusal, req, Some(&self.request_id)).body
            } else {
                Bytes::new()
            });
            return;
        }
        let Some(state) = self.body.as_mut() else {
            return;
        };
        if matches!(state, BodyState::Pass) || req.method == http::Method::HEAD {
            return;
        }
        if let (BodyState::Rewrite(held), Some(piece), Some(budget)) =
            (&mut *state, body.as_ref(), self.held.as_mut())
        {
            if budget.reserve(held.len() + piece.len()).is_err() {
                log::warn!(
                    "s3 {:?} answer from {} dropped mid-body: the buffer budget cannot hold it",
                    self.plan.op,
                    self.plan.pool.name
                );
                *held = Vec::new();
                *state = BodyState::Error {
                    upstream_status: 502,
                    body: Vec::new(),
                };
            }
        }
        response::on_body(
            &self.plan,
            &self.markers,
            state,
            body,
            end,
            req.uri.path(),
            &self.request_id,
        );
    }
}
