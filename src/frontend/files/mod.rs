//! The `files` frontend: `GET|HEAD|PUT|DELETE <path_prefix>/<key>` on a plain HTTP path, mapped
//! to `<bucket>/<key_prefix><key>` upstream.
//!
//! Everything a client controls is checked here, before anything goes upstream: the method, the
//! key (decoded once, rewritten, then checked again so a rewrite cannot escape the prefix) and
//! the declared body length. Only a short allowlist of query parameters survives, so a client
//! cannot turn an object read into another S3 operation (`?acl`, `?tagging`, `?uploads`, ...).

pub mod forward;

pub use forward::Files;

use crate::config::model::{Method, Route};
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
