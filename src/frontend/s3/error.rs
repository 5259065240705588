//! S3 errors as the S3 frontend's clients expect them: the status, an S3 `<Code>` their SDK
//! knows, a message, and a reason for our log that never goes to the client.

use std::borrow::Cow;

use bytes::Bytes;
use pingora_http::RequestHeader;

use crate::frontend::s3::xml::{error_code_and_message, error_xml};
use crate::frontend::upstream_errors::map_status;
use crate::reply::{Cause, Refusal, Reply};
use crate::s3::chunked::ChunkError;
use crate::s3::verify::S3AuthError;

/// A refusal on an S3 route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Error {
    pub status: u16,
    pub code: Cow<'static, str>,
    pub message: String,
    /// Extra detail for the log only (which grant was missing, which key failed).
    pub log: Option<String>,
}

impl S3Error {
    pub fn new(
        status: u16,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> S3Error {
        S3Error {
            status,
            code: code.into(),
            message: message.into(),
            log: None,
        }
    }

    /// Adds a reason for the log.
    pub fn logged(mut self, why: impl Into<String>) -> S3Error {
        self.log = Some(why.into());
        self
    }

    pub fn access_denied(why: impl Into<String>) -> S3Error {
        S3Error::new(403, "AccessDenied", "Access Denied").logged(why)
    }

    pub fn no_such_bucket(name: &str) -> S3Error {
        S3Error::new(
            404,
            "NoSuchBucket",
            format!("The specified bucket {name:?} does not exist"),
        )
    }

    pub fn not_implemented(what: impl Into<String>) -> S3Error {
        S3Error::new(
            501,
            "NotImplemented",
            "A header or query you provided implies functionality that is not implemented",
        )
        .logged(what)
    }

    pub fn invalid_argument(message: impl Into<String>) -> S3Error {
        S3Error::new(400, "InvalidArgument", message)
    }

    pub fn internal(why: impl Into<String>) -> S3Error {
        S3Error::new(
            500,
            "InternalError",
            "We encountered an internal error. Please try again.",
        )
        .logged(why)
    }

    /// The XML body for the request at `resource` (the client's path).
    pub fn body(&self, resource: &str, request_id: &str) -> Bytes {
        Bytes::from(error_xml(&self.code, &self.message, resource, request_id))
    }
}

impl From<S3Error> for Refusal {
    /// A refusal already in S3's terms: rendered with its own code.
    fn from(e: S3Error) -> Refusal {
        let mut refusal = Refusal::of(Cause::Api, e.status, e.code, &e.message);
        refusal.log = e.log;
        refusal
    }
}

/// A refusal as an S3 client gets it: S3 XML with a code its SDK knows, `x-amz-request-id`,
/// and the refusal's headers (`Retry-After`, `Allow`). An auth plugin's own answer (its sign-in
/// challenge) stays the plugin's JSON.
///
/// | cause | status and code |
/// |---|---|
/// | the `s3` frontend's own | its status and code |
/// | a rate limit | `503 SlowDown` |
/// | no healthy backend in the pool | `503 ServiceUnavailable` |
/// | upstream unreachable or broken | `502 InternalError` |
/// | upstream timeout | `503 ServiceUnavailable` |
/// | grants | `403 AccessDenied` |
/// | an S3 error answer to the internal client | as a forwarded call's error ([`from_upstream`]) |
/// | bad input before planning | its status, S3's usual code for it |
/// | bucketgate failed | `500 InternalError` |
pub fn render(refusal: &Refusal, req: &RequestHeader, request_id: Option<&str>) -> Reply {
    if refusal.cause == Cause::Plugin {
        return refusal.json();
    }
    let err = match refusal.cause {
        Cause::Api => S3Error::new(
            refusal.status,
            refusal.code.clone(),
            refusal.message.clone(),
        ),
        Cause::Limited(_) => S3Error::new(503, "SlowDown", "Please reduce your request rate."),
        Cause::NoBackend => S3Error::new(
            503,
            "ServiceUnavailable",
            "No storage backend is available right now. Please try again.",
        ),
        Cause::Upstream => S3Error::new(
            502,
            "InternalError",
            "The storage behind this gateway could not be reached. Please try again.",
        ),
        Cause::Timeout => S3Error::new(
            503,
            "ServiceUnavailable",
            "The storage behind this gateway did not answer in time. Please try again.",
        ),
        Cause::Denied => S3Error::new(403, "AccessDenied", "Access Denied"),
        Cause::Storage => from_upstream_code(refusal.status, Some(&refusal.code), &refusal.message),
        Cause::Input => S3Error::new(
            refusal.status,
            status_code_name(refusal.status),
            refusal.message.clone(),
        ),
        Cause::Internal | Cause::Plugin => S3Error::internal("refused by the gateway"),
    };
    let request_id = request_id.map_or_else(new_request_id, str::to_owned);
    let body = err.body(req.uri.path(), &request_id);
    let mut headers = vec![(Cow::Borrowed("x-amz-request-id"), request_id)];
    headers.extend(refusal.headers.iter().cloned());
    Reply {
        status: err.status,
        content_type: "application/xml",
        body,
        headers,
    }
}

impl From<S3AuthError> for S3Error {
    fn from(e: S3AuthError) -> S3Error {
        S3Error::new(e.http_status(), e.code(), e.message())
    }
}

impl From<ChunkError> for S3Error {
    fn from(e: ChunkError) -> S3Error {
        S3Error::new(e.http_status(), e.s3_code(), e.to_string())
    }
}

/// An upstream error as the S3 client sees it. Statuses that pass through keep the upstream's
/// S3 code and message (`NoSuchKey`, `InvalidRange`, `PreconditionFailed`...), in a body of our
/// own so no upstream bucket name or request id leaks; our misconfiguration (403, redirects)
/// becomes 502 `InternalError`, as in the `files` frontend. A 500 stays a 500 with the
/// upstream's code (`InternalError` when it gave none): S3 itself answers so, and SDKs retry
/// it as they would S3's; its message is ours, as it may name upstream internals. Statuses S3
/// itself never sends (502, 504, anything unknown) become 502 `InternalError`.
pub fn from_upstream(upstream_status: u16, body: &[u8]) -> S3Error {
    let parsed = error_code_and_message(body);
    let (code, message) = match &parsed {
        Some((code, message)) => (Some(code.as_str()), message.as_str()),
        None => (None, ""),
    };
    from_upstream_code(upstream_status, code, message)
}

/// [`from_upstream`] with the code and message already read from the error document.
pub fn from_upstream_code(upstream_status: u16, code: Option<&str>, message: &str) -> S3Error {
    let mapped = map_status(upstream_status);
    if upstream_status == 501 {
        // A definite answer: the upstream lacks the operation. Retrying a 502 would not help.
        return S3Error::new(
            501,
            "NotImplemented",
            "The storage behind this gateway does not implement this operation.",
        );
    }
    if mapped.status == 503 {
        return S3Error::new(503, "SlowDown", "Please reduce your request rate.");
    }
    if upstream_status == 500 {
        let code = code.filter(|c| is_s3_code(c)).unwrap_or("InternalError");
        return S3Error::new(
            500,
            code.to_owned(),
            "We encountered an internal error. Please try again.",
        );
    }
    if mapped.status != upstream_status || mapped.our_fault || upstream_status >= 500 {
        return S3Error::new(
            mapped.status,
            "InternalError",
            "The storage behind this gateway failed to answer. Please try again.",
        );
    }
    match code.filter(|c| !c.is_empty()) {
        Some(code) => S3Error::new(mapped.status, code.to_owned(), message.to_owned()),
        None => S3Error::new(
            mapped.status,
            status_code_name(mapped.status),
            "The storage refused the request.",
        ),
    }
}

/// Whether `code` looks like an S3 error code (`InternalError`), not arbitrary text.
fn is_s3_code(code: &str) -> bool {
    !code.is_empty() && code.len() <= 64 && code.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// S3's usual code for a status, when the upstream gave none (HEAD has no body).
fn status_code_name(status: u16) -> &'static str {
    match status {
        404 => "NoSuchKey",
        412 => "PreconditionFailed",
        416 => "InvalidRange",
        409 => "OperationAborted",
        411 => "MissingContentLength",
        413 => "EntityTooLarge",
        405 => "MethodNotAllowed",
        _ => "InvalidRequest",
    }
}

/// A request id for `x-amz-request-id` and `<RequestId>`: 16 random hex digits.
pub fn new_request_id() -> String {
    let mut raw = [0u8; 8];
    if getrandom::fill(&mut raw).is_err() {
        return "0000000000000000".into();
    }
    raw.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xml(code: &str, message: &str) -> Vec<u8> {
        format!("<Error><Code>{code}</Code><Message>{message}</Message></Error>").into_bytes()
    }

    #[test]
    fn an_upstream_500_keeps_its_status_and_code_but_not_its_message() {
        let e = from_upstream(
            500,
            &xml("InternalError", "disk /var/lib/ceph/osd.0 failed"),
        );
        assert_eq!((e.status, e.code.as_ref()), (500, "InternalError"));
        assert!(!e.message.contains("/var"), "{}", e.message);
        let e = from_upstream(500, &xml("XAmzContentSHA256Mismatch", "x"));
        assert_eq!(
            (e.status, e.code.as_ref()),
            (500, "XAmzContentSHA256Mismatch")
        );
        assert_eq!(from_upstream(500, b"").code, "InternalError");
        assert_eq!(
            from_upstream(500, &xml("not a code!", "x")).code,
            "InternalError"
        );
    }

    #[test]
    fn other_upstream_statuses() {
        let e = from_upstream(404, &xml("NoSuchKey", "The specified key does not exist."));
        assert_eq!((e.status, e.code.as_ref()), (404, "NoSuchKey"));
        assert_eq!(from_upstream(503, b"").code, "SlowDown");
        assert_eq!(from_upstream(501, b"").code, "NotImplemented");
        assert_eq!(from_upstream(502, b"bad gateway").code, "InternalError");
        for status in [502, 504, 403, 301] {
            let e = from_upstream(status, &xml("AccessDenied", "x"));
            assert_eq!(
                (e.status, e.code.as_ref()),
                (502, "InternalError"),
                "{status}"
            );
        }
    }
}
