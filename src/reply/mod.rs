//! Answers that bucketgate writes itself: short JSON errors and the health endpoints.
//!
//! A client never sees an internal error text or an upstream's XML with its request ids: every
//! locally generated answer is `{"error": CODE, "message": TEXT}` with a matching status.

pub mod failure;

use bytes::Bytes;
use pingora_error::Result;
use pingora_http::ResponseHeader;
use pingora_proxy::Session;

/// A request refused before anything went upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// Extra response headers, such as `Allow` or `Retry-After`.
    pub headers: Vec<(&'static str, String)>,
}

impl Reject {
    pub fn new(status: u16, code: &'static str, message: &str) -> Reject {
        Reject {
            status,
            code,
            message: message.to_string(),
            headers: Vec::new(),
        }
    }

    pub fn bad_request(code: &'static str, message: &str) -> Reject {
        Reject::new(400, code, message)
    }

    pub fn method_not_allowed(allow: &str) -> Reject {
        let mut r = Reject::new(
            405,
            "method_not_allowed",
            &format!("this route allows {allow}"),
        );
        r.headers.push(("allow", allow.to_string()));
        r
    }

    /// The JSON body.
    pub fn body(&self) -> Bytes {
        json_error(self.code, &self.message)
    }
}

/// `{"error":CODE,"message":TEXT}` as bytes.
pub fn json_error(code: &str, message: &str) -> Bytes {
    Bytes::from(serde_json::json!({ "error": code, "message": message }).to_string())
}

/// Writes `reject` as the whole response. Safe to call only before any response byte was sent.
pub async fn send_reject(session: &mut Session, reject: &Reject) -> Result<()> {
    let extra: Vec<(&str, &str)> = reject
        .headers
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    send(
        session,
        reject.status,
        "application/json",
        reject.body(),
        &extra,
    )
    .await
}

/// Writes a plugin's refusal: its status and headers, and only its public message.
pub async fn send_rejection(
    session: &mut Session,
    rejection: &bucketgate_plugin::Rejection,
) -> Result<()> {
    let code = match rejection.status {
        401 => "unauthorized",
        403 => "forbidden",
        429 => "too_many_requests",
        500..=599 => "internal_error",
        _ => "rejected",
    };
    let extra: Vec<(&str, &str)> = rejection
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let body = json_error(code, &rejection.public_message);
    send(session, rejection.status, "application/json", body, &extra).await
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
