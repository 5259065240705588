//! DeleteObjects (`POST /bucket?delete`): the keys are in the body, so the grants can only be
//! checked once it is read. bucketgate reads the (small, capped) body itself, checks its
//! integrity and every key, rebuilds it with the upstream keys, and sends it upstream through
//! the internal S3 client (retries on another backend, the upstream log, the grant guard again). A single key outside
//! the grants refuses the whole request, so nothing is deleted: all or nothing, never a partial delete the caller did not expect.

use async_trait::async_trait;
use base64::Engine as _;
use bucketgate_plugin::Operation;
use bytes::{Bytes, BytesMut};
use md5::Digest as _;
use pingora_error::Result;
use pingora_http::{RequestHeader, ResponseHeader};
use pingora_proxy::Session;
use sha2::{Digest as _, Sha256};

use super::driven::{answer, Driven, Failed};
use super::error::S3Error;
use super::plan::{header_str, S3Request};
use crate::access::policy;
use crate::frontend::s3::xml::{self, parse_delete};
use crate::frontend::Drive;
use crate::limit::memory::Reservation;
use crate::reply::Refusal;
use crate::s3::key::check_key;
use crate::upstream::client::Guard;
use crate::upstream::S3Client;

/// Largest DeleteObjects body read: 1000 keys of 1024 bytes, escaped, with room to spare.
const MAX_BODY: usize = 2 << 20;

/// A DeleteObjects request, driven with the internal S3 client once its body is read.
pub struct DeleteObjects {
    plan: Box<S3Request>,
    request_id: String,
    route_name: String,
}

impl DeleteObjects {
    pub fn new(plan: Box<S3Request>, request_id: String, route_name: &str) -> DeleteObjects {
        DeleteObjects {
            plan,
            request_id,
            route_name: route_name.to_string(),
        }
    }
}

#[async_trait]
impl Drive for DeleteObjects {
    async fn run(
        self: Box<Self>,
        session: &mut Session,
        client: &S3Client,
    ) -> Result<std::result::Result<(), Refusal>> {
        let outcome = self.delete(session, client).await?;
        let driven = Driven {
            what: "DeleteObjects",
            route_name: &self.route_name,
            request_id: &self.request_id,
            plan: &self.plan,
        };
        answer(session, &driven, outcome).await
    }
}

impl DeleteObjects {
    /// The client's DeleteResult, or why not.
    async fn delete(
        &self,
        session: &mut Session,
        client: &S3Client,
    ) -> Result<std::result::Result<Bytes, Failed>> {
        let plan = &self.plan;
        let mut held = Reservation::default();
        let body = match read_body(session, &mut held).await? {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        if let Err(e) = check_integrity(session.req_header(), &plan.body.payload_hash, &body) {
            return Ok(Err(Failed::S3(e)));
        }
        let request =
            match parse_delete(&body) {
                Ok(r) => r,
                Err(why) => return Ok(Err(Failed::S3(
                    S3Error::new(
                        400,
                        "MalformedXML",
                        "The XML you provided was not well-formed or did not validate against our \
                 published schema.",
                    )
                    .logged(why),
                ))),
            };
        let mut upstream_keys = Vec::with_capacity(request.objects.len());
        for entry in &request.objects {
            let full = format!("{}{}", plan.key_prefix, entry.key);
            if check_key(&full).is_err()
                || !policy::allows(&plan.identity, Operation::Delete, &plan.bucket, &full)
            {
                return Ok(Err(Failed::S3(S3Error::access_denied(format!(
                    "DeleteObjects refused as a whole: {} may not delete {:?} in {}",
                    plan.identity.subject, full, plan.bucket
                )))));
            }
            upstream_keys.push((full, entry.version_id.clone()));
        }
        let upstream_body = Bytes::from(xml::delete_body_xml(request.quiet, &upstream_keys));
        let md5 = content_md5(&upstream_body);
        let keys: Vec<&str> = upstream_keys.iter().map(|(k, _)| k.as_str()).collect();
        let guard = Guard::Caller(&plan.identity);
        let bucket = client.bucket(&plan.pool, &plan.bucket, guard, &self.route_name);
        let answer = match bucket.delete_objects_raw(&keys, upstream_body, md5).await {
            Ok(answer) => answer,
            Err(e) => return Ok(Err(Failed::Upstream(e))),
        };
        if answer.status != 200 {
            let err = super::error::from_upstream(answer.status, &answer.body).logged(format!(
                "upstream answered {} to DeleteObjects",
                answer.status
            ));
            return Ok(Err(Failed::S3(err)));
        }
        match xml::rewrite_result(&answer.body, &plan.key_prefix, &plan.client_bucket) {
            Ok(body) => Ok(Ok(Bytes::from(body))),
            Err(why) => Ok(Err(Failed::S3(S3Error::internal(format!(
                "unreadable DeleteResult from upstream: {why}"
            ))))),
        }
    }
}

/// The whole request body, answering `Expect: 100-continue` first. Its bytes are reserved
/// from the buffer budget in `held` (the declared length before anything is read, so a
/// refusal comes before the client sends the body).
async fn read_body(
    session: &mut Session,
    held: &mut Reservation,
) -> Result<std::result::Result<Bytes, Failed>> {
    let declared = header_str(&session.req_header().headers, "content-length")
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map_or(0, |n| n.min(MAX_BODY));
    if let Err(limit) = held.reserve(declared) {
        return Ok(Err(Failed::Busy(limit)));
    }
    let expects = header_str(&session.req_header().headers, "expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    if expects {
        let head = ResponseHeader::build(100, Some(0))?;
        session.write_response_header(Box::new(head), false).await?;
    }
    let mut body = BytesMut::new();
    while let Some(piece) = session.read_request_body().await? {
        if body.len() + piece.len() > MAX_BODY {
            return Ok(Err(Failed::S3(S3Error::new(
                400,
                "MalformedXML",
                "The DeleteObjects body is larger than 2 MiB.",
            ))));
        }
        if let Err(limit) = held.reserve(body.len() + piece.len()) {
            return Ok(Err(Failed::Busy(limit)));
        }
        body.extend_from_slice(&piece);
    }
    Ok(Ok(body.freeze()))
}

/// The body matches the SHA-256 the client signed and its `Content-MD5`, if any.
fn check_integrity(
    req: &RequestHeader,
    payload_hash: &str,
    body: &[u8],
) -> std::result::Result<(), S3Error> {
    if payload_hash.len() == 64 && payload_hash != hex::encode(Sha256::digest(body)) {
        return Err(S3Error::new(
            400,
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        ));
    }
    if payload_hash.starts_with("STREAMING-") {
        return Err(S3Error::not_implemented("aws-chunked DeleteObjects body"));
    }
    if let Some(md5) = header_str(&req.headers, "content-md5") {
        if md5.trim() != content_md5(body) {
            return Err(S3Error::new(
                400,
                "BadDigest",
                "The Content-MD5 you specified did not match what we received.",
            ));
        }
    }
    Ok(())
}

/// `Content-MD5`: the base64 of the body's MD5.
fn content_md5(body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(body))
}
