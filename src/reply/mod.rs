//! Answers that bucketgate writes itself: the one refusal type ([`refusal`]) and the writing of
//! small complete responses (refusals, health endpoints, locally answered API calls).
//!
//! A client never sees an internal error text or an upstream's XML with its request ids: every
//! locally made answer is built here from our own words.

pub mod refusal;

use bytes::Bytes;
use pingora_error::Result;
use pingora_http::ResponseHeader;
use pingora_proxy::Session;

pub use refusal::{json_error, Cause, Refusal, Reply};

/// Writes `reply` as the whole response. Safe to call only before any response byte was sent.
pub async fn send_reply(session: &mut Session, reply: &Reply) -> Result<()> {
    let extra: Vec<(&str, &str)> = (reply.headers.iter())
        .map(|(k, v)| (k.as_ref(), v.as_str()))
        .collect();
    send(
        session,
        reply.status,
        reply.content_type,
        reply.body.clone(),
        &extra,
    )
    .await
}

/// Writes a plugin's own complete answer.
pub async fn send_local(
    session: &mut Session,
    resp: &bucketgate_plugin::LocalResponse,
) -> Result<()> {
    let mut head = ResponseHeader::build(resp.status, Some(resp.headers.len() + 1))?;
    for (k, v) in &resp.headers {
        head.append_header(k.clone(), v.as_str())?;
    }
    head.insert_header("content-length", resp.body.len().to_string())?;
    write_whole(session, head, resp.body.clone()).await
}

/// Writes a complete small response with `Content-Length`.
pub async fn send(
    session: &mut Session,
    status: u16,
    content_type: &str,
    body: Bytes,
    extra: &[(&str, &str)],
) -> Result<()> {
    let mut resp = ResponseHeader::build(status, Some(4 + extra.len()))?;
    resp.insert_header("content-type", content_type)?;
    resp.insert_header("content-length", body.len().to_string())?;
    resp.insert_header("cache-control", "no-store")?;
    for (k, v) in extra {
        resp.append_header(k.to_string(), *v)?;
    }
    write_whole(session, resp, body).await
}

/// Sends `head` and `body` as the whole response (no body for HEAD requests).
async fn write_whole(session: &mut Session, head: ResponseHeader, body: Bytes) -> Result<()> {
    let is_head = session.req_header().method == http::Method::HEAD;
    session
        .write_response_header(Box::new(head), is_head)
        .await?;
    if !is_head {
        session.write_response_body(Some(body), true).await?;
    }
    Ok(())
}
