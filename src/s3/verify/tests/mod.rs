//! Tests of the SigV4 verifier as a whole: AWS's published examples, requests recorded from
//! real awscli / boto3 / curl (tests/data/sigv4/), round trips through our own [`Signer`], and
//! hostile input. Shared helpers live here.
//!
//! [`Signer`]: crate::s3::Signer

mod aws_examples;
mod hostile;
mod recorded;
mod roundtrip;

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderValue;
use pingora_http::RequestHeader;

use super::{S3AuthError, Secret};

/// The key store of the tests: identity = a name.
pub(super) type Keys = HashMap<String, Secret<&'static str>>;

pub(super) fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// A store with `(access key id, secret, session token, identity)` entries.
pub(super) fn keys(entries: &[(&str, &str, Option<&str>, &'static str)]) -> Keys {
    entries
        .iter()
        .map(|(akid, secret, token, identity)| {
            let mut s = Secret::new(*secret, *identity);
            if let Some(token) = token {
                s = s.with_session_token(*token);
            }
            ((*akid).to_owned(), s)
        })
        .collect()
}

/// A request with `target` (path and query, as sent) and headers in order; `None` if Pingora
/// would not hold such a request.
pub(super) fn try_request<K: AsRef<str>, V: AsRef<[u8]>>(
    method: &str,
    target: &[u8],
    headers: &[(K, V)],
) -> Option<RequestHeader> {
    let mut req = RequestHeader::build(method, target, None).ok()?;
    for (k, v) in headers {
        let value = HeaderValue::from_bytes(v.as_ref()).ok()?;
        req.append_header(k.as_ref().to_owned(), value).ok()?;
    }
    Some(req)
}

/// [`try_request`] for requests that must build.
pub(super) fn request(method: &str, target: &str, headers: &[(&str, &str)]) -> RequestHeader {
    try_request(method, target.as_bytes(), headers).expect("a valid request")
}

/// The headers of `req`, as text.
pub(super) fn header_pairs(req: &RequestHeader) -> Vec<(String, String)> {
    req.headers
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// The error must not leak any of `secrets` (secret keys, tokens, signatures) in its code,
/// message, `Display` or `Debug`.
pub(super) fn assert_clean(err: &S3AuthError, secrets: &[&str]) {
    let shown = format!("{err} {err:?} {}", err.message());
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        assert!(!shown.contains(secret), "error {shown:?} leaks {secret:?}");
    }
}
