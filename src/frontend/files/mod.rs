//! The `files` frontend: `GET|HEAD|PUT|DELETE <path_prefix>/<key>` on a plain HTTP path, mapped
//! to `<bucket>/<key_prefix><key>` upstream.
//!
//! Everything a client controls is checked here, before anything goes upstream: the method, the
//! key (decoded once, rewritten, then checked again so a rewrite cannot escape the prefix) and
//! the declared body length. Only a short allowlist of query parameters survives, so a client
//! cannot turn an object read into another S3 operation (`?acl`, `?tagging`, `?uploads`, ...).
//! S3's `x-amz-*` headers other than user metadata and signing headers are refused
//! ([`check_headers`]): a `files` route cannot carry encryption, object lock, ACLs, storage
//! classes or tags, and must not answer as if it had.

pub mod forward;

pub use forward::Files;

use crate::config::model::{Method, Route};
use crate::frontend::header_policy::{self, Treatment};
use crate::reply::Refusal;
use crate::s3::key::{check_key, decode_key};

/// Query parameters forwarded on GET and HEAD: S3's response-header overrides. (The S3
/// frontend forwards them on GetObject and HeadObject too.)
pub const RESPONSE_OVERRIDES: &[&str] = &[
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
];

/// What the request becomes upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRequest {
    pub method: Method,
    /// The full decoded upstream key: `key_prefix` + the rewritten client key.
    pub key: String,
    /// The raw query to forward (already filtered), without `?`; may be empty.
    pub query: String,
    /// Whether this is the route's unauthenticated health-check object.
    pub is_health_key: bool,
}

/// The parts of the client request the frontend looks at.
pub struct ClientRequest<'a> {
    pub method: &'a str,
    /// The raw path remainder after the route prefix, possibly with `?query`.
    pub rest: &'a [u8],
    pub content_length: Option<&'a str>,
    pub chunked: bool,
}

/// Plans the upstream object operation for a request on a `files` route, or says why not.
pub fn plan(route: &Route, req: &ClientRequest) -> Result<ObjectRequest, Refusal> {
    let method = allowed_method(route, req.method)?;
    let (raw_key, raw_query) = match req.rest.iter().position(|&b| b == b'?') {
        Some(i) => (&req.rest[..i], &req.rest[i + 1..]),
        None => (req.rest, &[][..]),
    };
    let raw_key = std::str::from_utf8(raw_key)
        .map_err(|_| Refusal::bad_request("invalid_key", "path is not valid UTF-8"))?;
    if raw_key.is_empty() {
        return Err(Refusal::bad_request(
            "invalid_key",
            "the path names no object key",
        ));
    }
    let decoded = decode_key(raw_key, route.allow_encoded_slash)
        .map_err(|e| Refusal::bad_request("invalid_key", e.message()))?;
    let is_health_key = matches!(method, Method::Get | Method::Head)
        && route.health_key.as_deref() == Some(decoded.as_str());
    let mut key = decoded;
    for rule in &route.rewrite {
        if let std::borrow::Cow::Owned(k) = rule.pattern.0.replace(&key, rule.replace.as_str()) {
            key = k;
        }
    }
    check_key(&key).map_err(|e| Refusal::bad_request("invalid_key", e.message()))?;
    let full = format!("{}{key}", route.key_prefix);
    check_key(&full).map_err(|e| Refusal::bad_request("invalid_key", e.message()))?;
    if method == Method::Put {
        check_body(route, req)?;
    }
    let query = if matches!(method, Method::Get | Method::Head) {
        filter_query(raw_query)
    } else {
        String::new()
    };
    Ok(ObjectRequest {
        method,
        key: full,
        query,
        is_health_key,
    })
}

fn allowed_method(route: &Route, method: &str) -> Result<Method, Refusal> {
    route
        .methods
        .iter()
        .copied()
        .find(|m| m.as_str() == method)
        .ok_or_else(|| {
            let allow: Vec<&str> = route.methods.iter().map(|m| m.as_str()).collect();
            Refusal::method_not_allowed(&allow.join(", "))
        })
}

/// A PUT must declare its length (S3 needs it, and it lets `max_body` answer before any byte
/// is read).
fn check_body(route: &Route, req: &ClientRequest) -> Result<(), Refusal> {
    if req.chunked || req.content_length.is_none() {
        return Err(Refusal::new(
            411,
            "length_required",
            "PUT needs a Content-Length header; chunked uploads without a length are not accepted",
        ));
    }
    let len: u64 = req
        .content_length
        .unwrap_or_default()
        .trim()
        .parse()
        .map_err(|_| {
            Refusal::bad_request("bad_content_length", "Content-Length is not a number")
        })?;
    if let Some(max) = route.max_body {
        if len > max.0 {
            return Err(Refusal::new(
                413,
                "payload_too_large",
                &format!(
                    "the body is {len} bytes; this route accepts at most {}",
                    max.0
                ),
            ));
        }
    }
    Ok(())
}

/// Refuses (`501 not_implemented`) a request with an `x-amz-*` header that a `files` route
/// does not forward and that is not merely a signing or SDK header: the protection headers
/// (encryption, object lock, ACLs other than `private`, storage class, tags), S3 operation
/// headers (copy, checksums, aws-chunked framing), and unknown ones. Dropping them would
/// store the object without what they asked for and still answer 200. The message names the
/// header, never its value (an SSE-C key is a secret).
pub fn check_headers(headers: &http::HeaderMap) -> Result<(), Refusal> {
    for name in headers.keys() {
        let name = name.as_str();
        if !name.starts_with("x-amz-") {
            continue;
        }
        let values = headers.get_all(name).iter().map(|v| v.as_bytes());
        let family = header_policy::amz_header(name, values);
        let what = match family {
            Some(f) if f.on_files() == Treatment::Refuse => f.describe(),
            Some(_) => continue,
            None => "this S3 header",
        };
        return Err(Refusal::new(
            501,
            "not_implemented",
            &format!(
                "this route does not support {what}: the request carries {name}; use an `s3` \
                 route for S3 features"
            ),
        )
        .logged(format!("refused header {name}")));
    }
    Ok(())
}

/// Keeps only the response-override parameters, in their original raw form.
fn filter_query(raw: &[u8]) -> String {
    let Ok(raw) = std::str::from_utf8(raw) else {
        return String::new();
    };
    raw.split('&')
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            RESPONSE_OVERRIDES.contains(&name)
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(extra: &str) -> Route {
        serde_yaml::from_str(&format!(
            "{{upstream: u, bucket: b, path_prefix: /files, key_prefix: 'pub/', methods: [GET, HEAD, PUT]{extra}}}"
        ))
        .unwrap()
    }

    fn req<'a>(method: &'a str, rest: &'a str, len: Option<&'a str>) -> ClientRequest<'a> {
        ClientRequest {
            method,
            rest: rest.as_bytes(),
            content_length: len,
            chunked: false,
        }
    }

    #[test]
    fn maps_key_under_prefix() {
        let p = plan(&route(""), &req("GET", "a%20b/c+d.txt", None)).unwrap();
        assert_eq!(p.key, "pub/a b/c+d.txt");
        assert_eq!(p.method, Method::Get);
    }

    #[test]
    fn rewrite_applies_and_is_rechecked() {
        let r = route(
            r#", rewrite: [{match: '\.bam\.bai$', replace: '.bai'}, {match: '^evil$', replace: '../x'}]"#,
        );
        assert_eq!(
            plan(&r, &req("GET", "x.bam.bai", None)).unwrap().key,
            "pub/x.bai"
        );
        let e = plan(&r, &req("GET", "evil", None)).unwrap_err();
        assert_eq!(e.status, 400);
    }

    #[test]
    fn methods_and_bodies() {
        let r = route(", max_body: 10");
        assert_eq!(plan(&r, &req("DELETE", "k", None)).unwrap_err().status, 405);
        assert_eq!(plan(&r, &req("POST", "k", None)).unwrap_err().status, 405);
        assert_eq!(plan(&r, &req("PUT", "k", None)).unwrap_err().status, 411);
        let mut chunked = req("PUT", "k", None);
        chunked.chunked = true;
        assert_eq!(plan(&r, &chunked).unwrap_err().status, 411);
        assert_eq!(
            plan(&r, &req("PUT", "k", Some("11"))).unwrap_err().status,
            413
        );
        assert_eq!(
            plan(&r, &req("PUT", "k", Some("x"))).unwrap_err().status,
            400
        );
        assert!(plan(&r, &req("PUT", "k", Some("10"))).is_ok());
    }

    #[test]
    fn query_is_filtered() {
        let p = plan(
            &route(""),
            &req(
                "GET",
                "k?acl&response-content-type=text%2Fplain&versionId=1",
                None,
            ),
        )
        .unwrap();
        assert_eq!(p.query, "response-content-type=text%2Fplain");
        assert_eq!(p.key, "pub/k");
    }

    #[test]
    fn empty_and_non_utf8_keys() {
        assert_eq!(
            plan(&route(""), &req("GET", "", None)).unwrap_err().status,
            400
        );
        let bad = ClientRequest {
            method: "GET",
            rest: b"a\xffb",
            content_length: None,
            chunked: false,
        };
        assert_eq!(plan(&route(""), &bad).unwrap_err().status, 400);
    }

    #[test]
    fn protection_headers_are_refused() {
        let check = |pairs: &[(&str, &str)]| {
            let mut map = http::HeaderMap::new();
            for (k, v) in pairs {
                map.append(
                    http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            check_headers(&map).map_err(|r| (r.status, r.code.into_owned(), r.message))
        };
        let ok = [
            ("x-amz-meta-color", "blue"),
            ("x-amz-acl", "private"),
            ("x-amz-date", "20260101T000000Z"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ("x-amz-security-token", "t"),
            ("content-type", "text/plain"),
        ];
        assert_eq!(check(&ok), Ok(()));
        for h in [
            ("x-amz-server-side-encryption", "AES256"),
            ("x-amz-server-side-encryption-customer-key", "c2VjcmV0a2V5"),
            ("x-amz-server-side-encryption-aws-kms-key-id", "k"),
            ("x-amz-object-lock-mode", "COMPLIANCE"),
            ("x-amz-object-lock-legal-hold", "ON"),
            ("x-amz-acl", "public-read"),
            ("x-amz-grant-read", "uri=AllUsers"),
            ("x-amz-storage-class", "GLACIER"),
            ("x-amz-tagging", "a=b"),
            ("x-amz-copy-source", "/b/k"),
            ("x-amz-checksum-crc32", "AAAAAA=="),
            ("x-amz-brand-new", "1"),
        ] {
            let (status, code, message) = check(&[(h.0, "Zq9-value")]).unwrap_err();
            assert_eq!((status, code.as_str()), (501, "not_implemented"), "{h:?}");
            assert!(message.contains(h.0), "{message}");
            assert!(!message.contains("Zq9"), "the value leaked: {message}");
            check(&[h]).unwrap_err();
        }
    }

    #[test]
    fn health_key_is_flagged() {
        let r = route(", health_key: 'health.txt'");
        assert!(
            plan(&r, &req("GET", "health.txt", None))
                .unwrap()
                .is_health_key
        );
        assert!(
            !plan(&r, &req("GET", "other.txt", None))
                .unwrap()
                .is_health_key
        );
    }
}
