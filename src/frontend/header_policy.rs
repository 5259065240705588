//! Which headers cross the proxy, in each direction.
//!
//! Both directions use allowlists rather than blocklists: a header nobody thought of (a new
//! cookie name, an SDK's auth extension, a tracing id that leaks internals) is dropped by
//! default. Client credentials (`authorization`, `cookie`, `proxy-authorization`, every
//! `x-amz-*` auth header) therefore never reach the upstream, and the upstream's request ids
//! and `server` never reach the client.

use pingora_http::{RequestHeader, ResponseHeader};

/// Client request headers forwarded to the upstream on object operations.
const REQUEST_ALLOW: &[&str] = &[
    "range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "if-range",
    "content-length",
    "content-type",
    "content-md5",
    "content-disposition",
    "content-encoding",
    "content-language",
    "cache-control",
    "expires",
    "expect",
];

/// Upstream response headers passed to the client.
const RESPONSE_ALLOW: &[&str] = &[
    "content-type",
    "content-length",
    "content-range",
    "content-encoding",
    "content-language",
    "content-disposition",
    "accept-ranges",
    "etag",
    "last-modified",
    "cache-control",
    "expires",
    "date",
    "retry-after",
    "transfer-encoding",
    "connection",
    "x-amz-version-id",
    "x-amz-delete-marker",
];

/// On S3 routes, also the headers of the S3 operations served there (copy, checksums,
/// aws-chunked). Never ACL headers: a client must not make an object public around the grants.
const S3_REQUEST_EXTRA: &[&str] = &[
    "x-amz-copy-source-range",
    "x-amz-copy-source-if-match",
    "x-amz-copy-source-if-none-match",
    "x-amz-copy-source-if-modified-since",
    "x-amz-copy-source-if-unmodified-since",
    "x-amz-metadata-directive",
    "x-amz-storage-class",
    "x-amz-tagging",
    "x-amz-tagging-directive",
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-crc64nvme",
    "x-amz-checksum-sha1",
    "x-amz-checksum-sha256",
    "x-amz-checksum-algorithm",
    "x-amz-checksum-mode",
    "x-amz-sdk-checksum-algorithm",
    "x-amz-decoded-content-length",
    "x-amz-trailer",
    "x-amz-server-side-encryption",
];

/// Upstream response headers passed to S3 clients on top of [`RESPONSE_ALLOW`].
const S3_RESPONSE_EXTRA: &[&str] = &[
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-crc64nvme",
    "x-amz-checksum-sha1",
    "x-amz-checksum-sha256",
    "x-amz-checksum-type",
    "x-amz-mp-parts-count",
    "x-amz-storage-class",
    "x-amz-server-side-encryption",
    "x-amz-tagging-count",
    "x-amz-copy-source-version-id",
    "x-amz-missing-meta",
];

/// User metadata travels both ways.
fn is_user_metadata(name: &str) -> bool {
    name.starts_with("x-amz-meta-")
}

/// Removes every request header that is not an object-operation header or user metadata.
pub fn filter_request(req: &mut RequestHeader) {
    apply(req, &[REQUEST_ALLOW]);
}

/// [`filter_request`] for S3 routes: S3 operation headers pass too.
pub fn filter_s3_request(req: &mut RequestHeader) {
    apply(req, &[REQUEST_ALLOW, S3_REQUEST_EXTRA]);
}

/// [`filter_response`] for S3 routes.
pub fn filter_s3_response(resp: &mut ResponseHeader) {
    apply(resp, &[RESPONSE_ALLOW, S3_RESPONSE_EXTRA]);
}

/// Removes every response header that is not object metadata, and `aws-chunked` from
/// `content-encoding` (s3s-fs stores it on objects uploaded with aws-chunked bodies).
pub fn filter_response(resp: &mut ResponseHeader) {
    apply(resp, &[RESPONSE_ALLOW]);
}

/// The header edits both directions need, over Pingora's two header types (which keep a
/// case map beside the `HeaderMap`, so they must be edited through their own methods).
trait HeaderEdit {
    fn map(&self) -> &http::HeaderMap;
    fn remove(&mut self, name: &http::HeaderName);
    fn set(&mut self, name: &'static str, value: String);
}

macro_rules! header_edit {
    ($t:ty) => {
        impl HeaderEdit for $t {
            fn map(&self) -> &http::HeaderMap {
                &self.headers
            }
            fn remove(&mut self, name: &http::HeaderName) {
                self.remove_header(name);
            }
            fn set(&mut self, name: &'static str, value: String) {
                // A value built from an existing valid header value is itself valid.
                let _ = self.insert_header(name, value);
            }
        }
    };
}
header_edit!(RequestHeader);
header_edit!(ResponseHeader);

/// Keeps the headers on any of the `allow` lists and user metadata, and drops `aws-chunked`
/// from `content-encoding`. (Several lists rather than one, so S3 routes extend the common
/// list without building a new one per request.)
fn apply(h: &mut impl HeaderEdit, allow: &[&[&str]]) {
    let allowed = |name: &str| allow.iter().any(|list| list.contains(&name));
    let drop: Vec<http::HeaderName> = h
        .map()
        .keys()
        .filter(|n| !allowed(n.as_str()) && !is_user_metadata(n.as_str()))
        .cloned()
        .collect();
    for name in &drop {
        h.remove(name);
    }
    let Some(value) = h.map().get(http::header::CONTENT_ENCODING) else {
        return;
    };
    let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
    let tokens: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    if !tokens.iter().any(|t| t.eq_ignore_ascii_case("aws-chunked")) {
        return;
    }
    let rest: Vec<&str> = tokens
        .into_iter()
        .filter(|t| !t.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    if rest.is_empty() {
        h.remove(&http::header::CONTENT_ENCODING);
    } else {
        h.set("content-encoding", rest.join(", "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_credentials_are_dropped() {
        let mut req = RequestHeader::build("GET", b"/x", None).unwrap();
        for (k, v) in [
            ("authorization", "Bearer secret"),
            ("cookie", "session=secret"),
            ("proxy-authorization", "Basic c2VjcmV0"),
            ("x-amz-security-token", "t"),
            ("x-amz-date", "20200101T000000Z"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ("x-forwarded-for", "1.2.3.4"),
            ("range", "bytes=0-1"),
            ("x-amz-meta-color", "blue"),
            ("content-encoding", "aws-chunked"),
        ] {
            req.insert_header(k, v).unwrap();
        }
        filter_request(&mut req);
        let mut names: Vec<&str> = req.headers.keys().map(|k| k.as_str()).collect();
        names.sort();
        assert_eq!(names, ["range", "x-amz-meta-color"]);
    }

    #[test]
    fn s3_routes_keep_operation_headers_but_not_acls() {
        let mut req = RequestHeader::build("PUT", b"/x", None).unwrap();
        for (k, v) in [
            ("authorization", "AWS4-HMAC-SHA256 Credential=x"),
            ("x-amz-acl", "public-read"),
            ("x-amz-grant-read", "uri=AllUsers"),
            ("x-amz-copy-source", "/b/k"),
            ("x-amz-checksum-crc32", "AAAAAA=="),
            ("x-amz-decoded-content-length", "5"),
            ("x-amz-security-token", "t"),
        ] {
            req.insert_header(k, v).unwrap();
        }
        filter_s3_request(&mut req);
        let mut names: Vec<&str> = req.headers.keys().map(|k| k.as_str()).collect();
        names.sort();
        assert_eq!(
            names,
            ["x-amz-checksum-crc32", "x-amz-decoded-content-length"]
        );
    }

    #[test]
    fn response_ids_are_dropped() {
        let mut resp = ResponseHeader::build(200, None).unwrap();
        for (k, v) in [
            ("x-amz-request-id", "abc"),
            ("x-amz-id-2", "def"),
            ("server", "AmazonS3"),
            ("etag", "\"e\""),
            ("content-encoding", "aws-chunked, gzip"),
            ("x-amz-meta-color", "blue"),
        ] {
            resp.insert_header(k, v).unwrap();
        }
        filter_response(&mut resp);
        assert!(resp.headers.get("x-amz-request-id").is_none());
        assert!(resp.headers.get("x-amz-id-2").is_none());
        assert!(resp.headers.get("server").is_none());
        assert_eq!(resp.headers["etag"], "\"e\"");
        assert_eq!(resp.headers["content-encoding"], "gzip");
        assert_eq!(resp.headers["x-amz-meta-color"], "blue");
    }
}
