//! DeleteObjects (`POST /bucket?delete`): the keys are in the body, so the grants can only be
//! checked once it is read. bucketgate reads the (small, capped) body itself, checks its
//! integrity and every key, rebuilds it with the upstream keys, and sends it upstream with its
//! own connection. A single key outside the grants refuses the whole request, so nothing is
//! deleted: all or nothing, never a partial delete the caller did not expect.

use std::time::SystemTime;

use base64::Engine as _;
use bucketgate_plugin::Operation;
use bytes::{Bytes, BytesMut};
use md5::Digest as _;
use pingora_core::connectors::http::Connector;
use pingora_error::{Error, ErrorType, Result};
use pingora_http::{RequestHeader, ResponseHeader};
use pingora_proxy::Session;
use sha2::{Digest as _, Sha256};

use super::error::S3Error;
use super::plan::{header_str, S3Request};
use crate::access::policy;
use crate::frontend::s3::xml::{self, parse_delete};
use crate::s3::key::check_key;
use crate::s3::normalize_query;

/// Largest DeleteObjects body read: 1000 keys of 1024 bytes, escaped, with room to spare.
const MAX_BODY: usize = 2 << 20;
/// Largest upstream DeleteResult kept.
const MAX_RESULT: usize = 8 << 20;

/// The outcome, for the caller to send: a status and XML body, or an S3 error.
pub enum Outcome {
    Done { status: u16, body: Bytes },
    Refused(S3Error),
}

pub async fn handle(
    session: &mut Session,
    plan: &S3Request,
    connector: &Connector,
) -> Result<Outcome> {
    let body = match read_body(session).await? {
        Ok(b) => b,
        Err(e) => return Ok(Outcome::Refused(e)),
    };
    if let Err(e) = check_integrity(session.req_header(), &plan.body.payload_hash, &body) {
        return Ok(Outcome::Refused(e));
    }
    let request = match parse_delete(&body) {
        Ok(r) => r,
        Err(why) => {
            return Ok(Outcome::Refused(
                S3Error::new(
                    400,
                    "MalformedXML",
                    "The XML you provided was not well-formed or did not validate against our \
                 published schema.",
                )
                .logged(why),
            ))
        }
    };
    let mut upstream_keys = Vec::with_capacity(request.objects.len());
    for entry in &request.objects {
        let full = format!("{}{}", plan.key_prefix, entry.key);
        if check_key(&full).is_err()
            || !policy::allows(&plan.identity, Operation::Delete, &plan.bucket, &full)
        {
            return Ok(Outcome::Refused(S3Error::access_denied(format!(
                "DeleteObjects refused as a whole: {} may not delete {:?} in {}",
                plan.identity.subject, full, plan.bucket
            ))));
        }
        upstream_keys.push((full, entry.version_id.clone()));
    }
    let upstream_body = Bytes::from(xml::delete_body_xml(request.quiet, &upstream_keys));
    let (status, result) = match send_upstream(plan, upstream_body, connector).await {
        Ok(r) => r,
        Err(e) => {
            log::warn!("DeleteObjects upstream {} failed: {e}", plan.pool.name);
            return Ok(Outcome::Refused(S3Error::new(
                502,
                "InternalError",
                "the storage could not be reached",
            )));
        }
    };
    if status != 200 {
        return Ok(Outcome::Refused(
            super::error::from_upstream(status, &result)
                .logged(format!("upstream answered {status} to DeleteObjects")),
        ));
    }
    match xml::rewrite_result(&result, &plan.key_prefix, &plan.client_bucket) {
        Ok(body) => Ok(Outcome::Done {
            status: 200,
            body: Bytes::from(body),
        }),
        Err(why) => Ok(Outcome::Refused(S3Error::internal(format!(
            "unreadable DeleteResult from upstream: {why}"
        )))),
    }
}

/// The whole request body, answering `Expect: 100-continue` first.
async fn read_body(session: &mut Session) -> Result<std::result::Result<Bytes, S3Error>> {
    let expects = header_str(&session.req_header().headers, "expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    if expects {
        let head = ResponseHeader::build(100, Some(0))?;
        session.write_response_header(Box::new(head), false).await?;
    }
    let mut body = BytesMut::new();
    while let Some(piece) = session.read_request_body().await? {
        if body.len() + piece.len() > MAX_BODY {
            return Ok(Err(S3Error::new(
                400,
                "MalformedXML",
                "The DeleteObjects body is larger than 2 MiB.",
            )));
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

/// POSTs the rebuilt body upstream on a connection of our own; the status and (capped) body.
async fn send_upstream(
    plan: &S3Request,
    body: Bytes,
    connector: &Connector,
) -> Result<(u16, Bytes)> {
    let target = plan
        .pool
        .pick(&plan.bucket)
        .ok_or_else(|| Error::explain(ErrorType::ConnectNoRoute, "no healthy backend"))?;
    let path = format!("{}?{}", plan.upstream_path(), normalize_query("delete"));
    let mut req = RequestHeader::build("POST", path.as_bytes(), Some(6))?;
    req.insert_header("host", target.host.as_str())?;
    req.insert_header("content-type", "application/xml")?;
    req.insert_header("content-length", body.len().to_string())?;
    req.insert_header("content-md5", content_md5(&body))?;
    let hash = hex::encode(Sha256::digest(&body));
    plan.pool.signer.sign(&mut req, &hash, SystemTime::now());
    let (mut http, _reused) = connector.get_http_session(&*target.peer).await?;
    http.write_request_header(Box::new(req)).await?;
    http.write_request_body(body, true).await?;
    http.finish_request_body().await?;
    http.read_response_header().await?;
    let status = http.response_header().map_or(502, |h| h.status.as_u16());
    let mut out = BytesMut::new();
    while let Some(piece) = http.read_response_body().await? {
        if out.len() + piece.len() > MAX_RESULT {
            return Err(Error::explain(
                ErrorType::InvalidHTTPHeader,
                "DeleteResult too large",
            ));
        }
        out.extend_from_slice(&piece);
    }
    connector
        .release_http_session(http, &*target.peer, None)
        .await;
    Ok((status, out.freeze()))
}

/// `Content-MD5`: the base64 of the body's MD5.
fn content_md5(body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(body))
}
