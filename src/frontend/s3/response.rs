//! What the S3 frontend does to the upstream answers of forwarded requests: success heads are
//! filtered to S3's object headers; ListParts and the multipart results are held until complete
//! and rewritten to the client's view (the alias's key prefix stripped, its bucket name put
//! back); errors get a body of our own with the upstream's S3 code. (Key listings are driven,
//! not forwarded: [`super::paging`].)

use bytes::Bytes;
use pingora_error::Result;
use pingora_http::ResponseHeader;

use super::error::{from_upstream, S3Error};
use super::markers::MarkerSealer;
use super::operation::S3Op;
use super::plan::S3Request;
use crate::frontend::header_policy;
use crate::frontend::s3::xml::listing::rewrite_parts;
use crate::frontend::s3::xml::rewrite_result;

/// Largest listing body held for rewriting (1000 keys of 1 KiB, with room).
const MAX_LISTING: usize = 16 << 20;
/// The most bytes of an upstream error body kept to find its code.
const MAX_ERROR: usize = 16 << 10;

/// What the body phase does with the upstream body.
pub enum BodyState {
    /// Stream it through.
    Pass,
    /// Hold it, then rewrite it to the client's view.
    Rewrite(Vec<u8>),
    /// Swallow it, then send our error body.
    Error { upstream_status: u16, body: Vec<u8> },
}

/// Operations whose success body is rewritten.
fn rewrites(op: S3Op) -> bool {
    matches!(
        op,
        S3Op::ListParts | S3Op::CreateMultipartUpload | S3Op::CompleteMultipartUpload
    )
}

/// Filters the head; says what to do with the body.
pub fn on_head(plan: &S3Request, resp: &mut ResponseHeader, request_id: &str) -> Result<BodyState> {
    let status = resp.status.as_u16();
    if status < 300 || status == 304 {
        header_policy::filter_s3_response(resp);
        resp.insert_header("x-amz-request-id", request_id)?;
        if rewrites(plan.op) && status == 200 {
            resp.remove_header("content-length");
            return Ok(BodyState::Rewrite(Vec::new()));
        }
        return Ok(BodyState::Pass);
    }
    let mapped = from_upstream(status, b"");
    let mut head = ResponseHeader::build(mapped.status, Some(4))?;
    head.insert_header("content-type", "application/xml")?;
    head.insert_header("cache-control", "no-store")?;
    head.insert_header("x-amz-request-id", request_id)?;
    if mapped.status == 503 {
        head.insert_header("retry-after", "1")?;
    }
    *resp = head;
    Ok(BodyState::Error {
        upstream_status: status,
        body: Vec::new(),
    })
}

/// Handles one piece of the upstream body. `resource` is the client's path, for errors.
/// (`_markers`: no forwarded answer carries listing markers any more; key listings are driven.)
pub fn on_body(
    plan: &S3Request,
    _markers: &MarkerSealer,
    state: &mut BodyState,
    body: &mut Option<Bytes>,
    end: bool,
    resource: &str,
    request_id: &str,
) {
    match state {
        BodyState::Pass => {}
        BodyState::Rewrite(held) => {
            if let Some(piece) = body.take() {
                if held.len() + piece.len() <= MAX_LISTING {
                    held.extend_from_slice(&piece);
                } else {
                    log::error!(
                        "s3 listing from {} is larger than {MAX_LISTING} bytes; not shown",
                        plan.pool.name
                    );
                    held.clear();
                    *state = BodyState::Error {
                        upstream_status: 502,
                        body: Vec::new(),
                    };
                    return;
                }
            }
            *body = Some(if end {
                rewritten(plan, held, resource, request_id)
            } else {
                Bytes::new()
            });
        }
        BodyState::Error {
            upstream_status,
            body: held,
        } => {
            if let Some(piece) = body.take() {
                let room = MAX_ERROR.saturating_sub(held.len());
                held.extend_from_slice(&piece[..piece.len().min(room)]);
            }
            *body = Some(if end {
                let err = from_upstream(*upstream_status, held);
                log::info!(
                    "s3 upstream error: pool={} user={} upstream={} → {} {}",
                    plan.pool.name,
                    plan.identity.subject,
                    upstream_status,
                    err.status,
                    err.code
                );
                err.body(resource, request_id)
            } else {
                Bytes::new()
            });
        }
    }
}

/// The held body, rewritten to the identity's view.
fn rewritten(plan: &S3Request, held: &[u8], resource: &str, request_id: &str) -> Bytes {
    let result = if plan.op == S3Op::ListParts {
        rewrite_parts(held, &plan.client_bucket, &plan.key_prefix).map_err(|e| e.to_string())
    } else {
        rewrite_result(held, &plan.key_prefix, &plan.client_bucket)
    };
    match result {
        Ok(body) => Bytes::from(body),
        Err(why) => {
            log::error!(
                "s3 {:?} result from {} could not be rewritten: {why}",
                plan.op,
                plan.pool.name
            );
            S3Error::internal("result rewrite failed").body(resource, request_id)
        }
    }
}
