//! What a client of the `files` frontend sees when the upstream answers with an error.
//!
//! The status is decided from the upstream status alone, because Pingora sends the response
//! head before the body (where S3 puts its error code) arrives. Any 403 or redirect from the
//! upstream means bucketgate's own credentials, clock or endpoint are wrong, not the client's
//! request, so it becomes 502 and is logged loudly, once per cause. The upstream XML body is
//! swallowed (read to find the cause for the log) and replaced with a short JSON body.

use std::collections::HashSet;
use std::sync::Mutex;

use bytes::Bytes;
use once_cell::sync::Lazy;

use crate::reply::json_error;

/// How the client response replaces an upstream error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedError {
    pub status: u16,
    pub body: Bytes,
    /// `Retry-After` seconds, for 503.
    pub retry_after: Option<&'static str>,
    /// The upstream status was our misconfiguration: log the cause at error level.
    pub our_fault: bool,
}

/// Maps an upstream status of 300 or more (except 304) to the client's answer.
pub fn map_status(upstream: u16) -> MappedError {
    let (status, code, msg, our_fault) = match upstream {
        400 => (
            400,
            "bad_request",
            "the storage rejected the request",
            false,
        ),
        404 => (404, "not_found", "no such object", false),
        405 => (
            405,
            "method_not_allowed",
            "the storage does not allow this method on this object",
            false,
        ),
        409 => (
            409,
            "conflict",
            "the object is being changed by another request",
            false,
        ),
        411 => (
            411,
            "length_required",
            "a Content-Length header is required",
            false,
        ),
        412 => (
            412,
            "precondition_failed",
            "a precondition (If-Match, If-Unmodified-Since) failed",
            false,
        ),
        413 => (
            413,
            "payload_too_large",
            "the body is too large for the storage",
            false,
        ),
        416 => (
            416,
            "range_not_satisfiable",
            "the requested range is outside the object",
            false,
        ),
        503 => (503, "slow_down", "the storage is busy; retry later", false),
        403 | 301 | 302 | 307 | 308 => (
            502,
            "upstream_misconfigured",
            "the storage refused the gateway's credentials; the operator has been told",
            true,
        ),
        500..=599 => (502, "upstream_error", "the storage failed to answer", false),
        _ => (
            502,
            "upstream_error",
            "the storage gave an unexpected answer",
            true,
        ),
    };
    MappedError {
        status,
        body: json_error(code, msg),
        retry_after: (status == 503).then_some("1"),
        our_fault,
    }
}

/// The `<Code>` of an S3 XML error body, if there is one.
pub fn s3_error_code(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<Code>")? + "<Code>".len();
    let end = text[start..].find("</Code>")? + start;
    let code = &text[start..end];
    (!code.is_empty() && code.len() <= 64 && code.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| code.to_string())
}

static LOGGED_CAUSES: Lazy<Mutex<HashSet<(String, u16, String)>>> =
    Lazy::new(|| Mutex::new(HashSet::new()));

/// Logs a misconfiguration cause at error level the first time it is seen for a pool, and at
/// debug level after that, so a broken secret does not flood the log.
pub fn report_our_fault(pool: &str, status: u16, code: Option<&str>) {
    let code = code.unwrap_or("(no error code)").to_string();
    let first = LOGGED_CAUSES
        .lock()
        .map(|mut seen| seen.insert((pool.to_string(), status, code.clone())))
        .unwrap_or(true);
    let hint = match code.as_str() {
        "SignatureDoesNotMatch" => "the secret access key of this upstream is wrong",
        "InvalidAccessKeyId" => "the access key id of this upstream is unknown to the storage",
        "RequestTimeTooSkewed" => "this host's clock is off by more than 15 minutes",
        "AccessDenied" => "the upstream credentials lack permission on this bucket or key",
        "ExpiredToken" | "InvalidToken" => "the upstream session token is expired or invalid",
        "PermanentRedirect" | "TemporaryRedirect" => {
            "the bucket lives in another region or endpoint"
        }
        _ => "check the upstream endpoint, region and credentials",
    };
    if first {
        log::error!(
            "upstream {pool} answered {status} {code}: {hint}; clients get 502 until this is fixed (logged once per cause)"
        );
    } else {
        log::debug!("upstream {pool} answered {status} {code}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map() {
        assert_eq!(map_status(404).status, 404);
        assert_eq!(map_status(403).status, 502);
        assert!(map_status(403).our_fault);
        assert_eq!(map_status(301).status, 502);
        assert_eq!(map_status(503).status, 503);
        assert_eq!(map_status(503).retry_after, Some("1"));
        assert_eq!(map_status(500).status, 502);
        assert_eq!(map_status(416).status, 416);
        assert_eq!(map_status(412).status, 412);
        let body = String::from_utf8(map_status(404).body.to_vec()).unwrap();
        assert!(body.contains("\"not_found\""), "{body}");
    }

    #[test]
    fn codes_parse() {
        let xml = br#"<?xml version="1.0"?><Error><Code>SignatureDoesNotMatch</Code><RequestId>x</RequestId></Error>"#;
        assert_eq!(s3_error_code(xml).as_deref(), Some("SignatureDoesNotMatch"));
        assert_eq!(s3_error_code(b"<Error><Code></Code></Error>"), None);
        assert_eq!(s3_error_code(b"<Code>a<b</Code>"), None);
        assert_eq!(s3_error_code(b"garbage"), None);
        assert_eq!(s3_error_code(&[0xff, 0xfe]), None);
    }
}
