//! Which headers cross the proxy, in each direction.
//!
//! Both directions use allowlists rather than blocklists: a header nobody thought of (a new
//! cookie name, an SDK's auth extension, a tracing id that leaks internals) is dropped by
//! default. Client credentials (`authorization`, `cookie`, `proxy-authorization`, every
//! `x-amz-*` auth header) therefore never reach the upstream, and the upstream's request ids
//! and `server` never reach the client.
//!
//! A default-drop is wrong for one kind of header, though: one that changes how an object is
//! stored or protected (encryption, object lock, ACLs, storage class, tags). Dropping it would
//! store the object unprotected and still answer 200. So every `x-amz-*` request header belongs
//! to a [`Family`], and each family is either forwarded and signed, or refused, per frontend
//! ([`amz_header`]); the frontends refuse before anything goes upstream (`s3::protection`,
//! `files::check_headers`). The README's "Protection headers" table is this one.
//!
//! Object responses get [`harden_object_response`]: browsers must never run a stored object as
//! a page of the gateway's origin, which may also serve sign-in.

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

/// The families of `x-amz-*` request headers, each decided as a whole (README, "Protection
/// headers").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `x-amz-server-side-encryption`: SSE-S3 or SSE-KMS.
    Sse,
    /// SSE-C: the customer's key (`x-amz-server-side-encryption-customer-*`), and the source
    /// object's key on copies (`x-amz-copy-source-server-side-encryption-customer-*`).
    SseC,
    /// SSE-KMS details: the key id, the encryption context, S3 bucket keys.
    SseKms,
    /// Object lock: retention mode and date, legal hold.
    ObjectLock,
    /// `x-amz-acl` and `x-amz-grant-*`: access granted around bucketgate's grants.
    Acl,
    /// `x-amz-storage-class`.
    StorageClass,
    /// `x-amz-tagging` and `x-amz-tagging-directive`.
    Tagging,
    /// Lifting a protection: `x-amz-bypass-governance-retention`, `x-amz-mfa`.
    ProtectionOverride,
    /// `x-amz-website-redirect-location`: a redirect served by the upstream's website endpoint.
    WebsiteRedirect,
    /// The S3 operation's own headers: copy conditions and range, directives, checksums,
    /// aws-chunked framing, the multipart object size.
    Operation,
    /// `x-amz-copy-source`: rewritten by the `s3` frontend to the upstream bucket and key
    /// (after the grant check), never forwarded as the client wrote it.
    CopySource,
    /// The request's own signature (`x-amz-date`, `x-amz-content-sha256`,
    /// `x-amz-security-token`): read by bucketgate's verification, replaced by its own.
    Signing,
    /// SDK headers with no effect on what is stored, and no meaning behind a gateway that
    /// owns the buckets: `x-amz-user-agent`, `x-amz-expected-bucket-owner`,
    /// `x-amz-source-expected-bucket-owner`, `x-amz-request-payer`.
    Sdk,
    /// `x-amz-meta-*`.
    UserMetadata,
}

/// What a frontend does with a request header of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Treatment {
    /// Forwarded to the upstream, and signed.
    Forward,
    /// Forwarded in a form bucketgate makes (the copy source), and signed.
    Rewrite,
    /// Not forwarded, by design: it changes nothing about what is stored.
    Ignore,
    /// The request is refused before anything goes upstream.
    Refuse,
}

impl Family {
    /// On `s3` routes.
    pub fn on_s3(self) -> Treatment {
        use Family::*;
        match self {
            Sse | SseC | SseKms | ObjectLock | StorageClass | Tagging | Operation
            | UserMetadata => Treatment::Forward,
            CopySource => Treatment::Rewrite,
            Acl | ProtectionOverride | WebsiteRedirect => Treatment::Refuse,
            Signing | Sdk => Treatment::Ignore,
        }
    }

    /// On `files` routes, which speak plain HTTP and carry only user metadata of S3's
    /// headers: everything that would change how the object is stored is refused.
    pub fn on_files(self) -> Treatment {
        use Family::*;
        match self {
            UserMetadata => Treatment::Forward,
            Signing | Sdk => Treatment::Ignore,
            Sse | SseC | SseKms | ObjectLock | StorageClass | Tagging | Operation | CopySource
            | Acl | ProtectionOverride | WebsiteRedirect => Treatment::Refuse,
        }
    }

    /// Whether the family changes what is stored or how it is protected (so that a request
    /// carrying it where it cannot be honoured must be refused, never answered as if it was).
    pub fn protects(self) -> bool {
        use Family::*;
        match self {
            Sse | SseC | SseKms | ObjectLock | Acl | StorageClass | Tagging
            | ProtectionOverride | WebsiteRedirect | CopySource => true,
            Operation | Signing | Sdk | UserMetadata => false,
        }
    }

    /// The family's name in refusals and the README.
    pub fn describe(self) -> &'static str {
        use Family::*;
        match self {
            Sse => "server-side encryption",
            SseC => "SSE-C (customer-provided encryption keys)",
            SseKms => "SSE-KMS",
            ObjectLock => "object lock",
            Acl => {
                "ACLs (access is what bucketgate's grants allow; only `x-amz-acl: private`, \
                    the default, is accepted)"
            }
            StorageClass => "storage classes",
            Tagging => "object tags",
            ProtectionOverride => "lifting object lock or MFA delete",
            WebsiteRedirect => "website redirects",
            Operation => "S3 operation headers",
            CopySource => "copying",
            Signing => "S3 signatures",
            Sdk => "S3 SDK headers",
            UserMetadata => "user metadata",
        }
    }
}

/// Every known `x-amz-*` request header with its family; a name ending in `-` is a prefix.
/// A header on no row is unknown: the frontends refuse it where it could change what is
/// stored.
const AMZ_HEADERS: &[(&str, Family)] = &[
    ("x-amz-server-side-encryption", Family::Sse),
    (
        "x-amz-server-side-encryption-customer-algorithm",
        Family::SseC,
    ),
    ("x-amz-server-side-encryption-customer-key", Family::SseC),
    (
        "x-amz-server-side-encryption-customer-key-md5",
        Family::SseC,
    ),
    (
        "x-amz-copy-source-server-side-encryption-customer-algorithm",
        Family::SseC,
    ),
    (
        "x-amz-copy-source-server-side-encryption-customer-key",
        Family::SseC,
    ),
    (
        "x-amz-copy-source-server-side-encryption-customer-key-md5",
        Family::SseC,
    ),
    (
        "x-amz-server-side-encryption-aws-kms-key-id",
        Family::SseKms,
    ),
    ("x-amz-server-side-encryption-context", Family::SseKms),
    (
        "x-amz-server-side-encryption-bucket-key-enabled",
        Family::SseKms,
    ),
    ("x-amz-object-lock-mode", Family::ObjectLock),
    ("x-amz-object-lock-retain-until-date", Family::ObjectLock),
    ("x-amz-object-lock-legal-hold", Family::ObjectLock),
    ("x-amz-acl", Family::Acl),
    ("x-amz-grant-", Family::Acl),
    ("x-amz-storage-class", Family::StorageClass),
    ("x-amz-tagging", Family::Tagging),
    ("x-amz-tagging-directive", Family::Tagging),
    (
        "x-amz-bypass-governance-retention",
        Family::ProtectionOverride,
    ),
    ("x-amz-mfa", Family::ProtectionOverride),
    ("x-amz-website-redirect-location", Family::WebsiteRedirect),
    ("x-amz-copy-source", Family::CopySource),
    ("x-amz-copy-source-range", Family::Operation),
    ("x-amz-copy-source-if-match", Family::Operation),
    ("x-amz-copy-source-if-none-match", Family::Operation),
    ("x-amz-copy-source-if-modified-since", Family::Operation),
    ("x-amz-copy-source-if-unmodified-since", Family::Operation),
    ("x-amz-metadata-directive", Family::Operation),
    ("x-amz-checksum-crc32", Family::Operation),
    ("x-amz-checksum-crc32c", Family::Operation),
    ("x-amz-checksum-crc64nvme", Family::Operation),
    ("x-amz-checksum-sha1", Family::Operation),
    ("x-amz-checksum-sha256", Family::Operation),
    ("x-amz-checksum-algorithm", Family::Operation),
    ("x-amz-checksum-type", Family::Operation),
    ("x-amz-checksum-mode", Family::Operation),
    ("x-amz-sdk-checksum-algorithm", Family::Operation),
    ("x-amz-decoded-content-length", Family::Operation),
    ("x-amz-trailer", Family::Operation),
    ("x-amz-mp-object-size", Family::Operation),
    ("x-amz-date", Family::Signing),
    ("x-amz-content-sha256", Family::Signing),
    ("x-amz-security-token", Family::Signing),
    ("x-amz-user-agent", Family::Sdk),
    ("x-amz-expected-bucket-owner", Family::Sdk),
    ("x-amz-source-expected-bucket-owner", Family::Sdk),
    ("x-amz-request-payer", Family::Sdk),
    ("x-amz-meta-", Family::UserMetadata),
];

/// The family of an `x-amz-*` request header (`name` in lower case); `None` for an unknown one.
pub fn amz_family(name: &str) -> Option<Family> {
    if !name.starts_with("x-amz-") {
        return None;
    }
    AMZ_HEADERS.iter().find_map(|&(known, family)| {
        let hit = if known.ends_with('-') {
            name.len() > known.len() && name.starts_with(known)
        } else {
            name == known
        };
        hit.then_some(family)
    })
}

/// The one canned ACL that is accepted without being forwarded.
///
/// `private` is what every new object gets anyway (the owner, the upstream account whose keys
/// bucketgate signs with, has full control, and nobody else any), so leaving it out gives the
/// object exactly the ACL asked for. Forwarding it instead would fail on buckets whose ACLs are
/// disabled (S3's "bucket owner enforced"). rclone sends it by default.
pub const PRIVATE_ACL: &str = "private";

/// The family of a request header with its values, for the frontends' refusals: `x-amz-acl`
/// whose every value is `private` counts as an SDK header (accepted, not forwarded).
pub fn amz_header<'v>(name: &str, mut values: impl Iterator<Item = &'v [u8]>) -> Option<Family> {
    let family = amz_family(name)?;
    if name == "x-amz-acl" && values.all(|v| v.trim_ascii() == PRIVATE_ACL.as_bytes()) {
        return Some(Family::Sdk);
    }
    Some(family)
}

/// Whether an S3 route forwards the client's header `name` (lower case) as it is.
fn s3_forwards(name: &str) -> bool {
    amz_family(name).is_some_and(|f| f.on_s3() == Treatment::Forward)
}

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
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-customer-key-md5",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-context",
    "x-amz-server-side-encryption-bucket-key-enabled",
    "x-amz-object-lock-mode",
    "x-amz-object-lock-retain-until-date",
    "x-amz-object-lock-legal-hold",
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
    apply(req, |name| {
        REQUEST_ALLOW.contains(&name) || is_user_metadata(name)
    });
}

/// [`filter_request`] for S3 routes: the `x-amz-*` headers of the families S3 routes forward
/// pass too ([`Family::on_s3`]). Never ACL headers: a client must not make an object public
/// around the grants.
pub fn filter_s3_request(req: &mut RequestHeader) {
    apply(req, |name| {
        REQUEST_ALLOW.contains(&name) || s3_forwards(name)
    });
}

/// [`filter_response`] for S3 routes.
pub fn filter_s3_response(resp: &mut ResponseHeader) {
    apply(resp, |name| {
        RESPONSE_ALLOW.contains(&name)
            || S3_RESPONSE_EXTRA.contains(&name)
            || is_user_metadata(name)
    });
}

/// Removes every response header that is not object metadata, and `aws-chunked` from
/// `content-encoding` (s3s-fs stores it on objects uploaded with aws-chunked bodies).
pub fn filter_response(resp: &mut ResponseHeader) {
    apply(resp, |name| {
        RESPONSE_ALLOW.contains(&name) || is_user_metadata(name)
    });
}

/// The `Content-Security-Policy` of object responses: the object is a sandbox with an origin
/// of its own (no script, no form, no plugin, no same-origin access), and may load nothing but
/// itself as an image or a medium (so an image or video opened in a tab still shows).
pub const OBJECT_CSP: &str = "sandbox; default-src 'none'; img-src 'self'; media-src 'self'";

/// Makes an object response (a GET or HEAD of an object, status 2xx or 304) safe to open in
/// a browser on a host that may also serve sign-in: `X-Content-Type-Options: nosniff` always;
/// unless the route allows `active_content`, the sandboxing [`OBJECT_CSP`] and, when the
/// content type is one a browser renders as a document with scripts (HTML, XHTML, SVG, XML,
/// or none at all), `Content-Disposition: attachment`. The type and disposition checked are
/// the final ones, so the client's `response-content-type` and
/// `response-content-disposition` overrides cannot get around it.
pub fn harden_object_response(resp: &mut ResponseHeader, active_content: bool) {
    resp.set("x-content-type-options", "nosniff".into());
    if active_content {
        return;
    }
    resp.set("content-security-policy", OBJECT_CSP.into());
    let content_type = resp.headers.get(http::header::CONTENT_TYPE);
    if !is_active_type(content_type.map(http::HeaderValue::as_bytes)) {
        return;
    }
    let disposition = resp
        .headers
        .get(http::header::CONTENT_DISPOSITION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    if let Some(attachment) = as_attachment(disposition.as_deref()) {
        resp.set("content-disposition", attachment);
    }
}

/// Whether a browser may render a response of this `Content-Type` as a document that runs
/// scripts: HTML, XHTML, SVG and any XML (XSLT can turn XML into HTML), multipart documents,
/// and a missing or unreadable type (which a browser would sniff).
fn is_active_type(content_type: Option<&[u8]>) -> bool {
    let Some(essence) = content_type
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.split(';').next())
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| e.contains('/'))
    else {
        return true;
    };
    matches!(
        essence.as_str(),
        "text/html" | "text/xml" | "application/xml" | "text/xsl" | "*/*"
    ) || essence.ends_with("+xml")
        || essence.starts_with("multipart/")
        || essence.starts_with("unknown/")
        || essence == "application/unknown"
}

/// `disposition` with its type made `attachment` (its parameters, such as the file name,
/// kept), or `None` when it already is.
fn as_attachment(disposition: Option<&str>) -> Option<String> {
    let Some(d) = disposition else {
        return Some("attachment".into());
    };
    let (kind, params) = match d.split_once(';') {
        Some((kind, params)) => (kind.trim(), Some(params)),
        None => (d.trim(), None),
    };
    if kind.eq_ignore_ascii_case("attachment") {
        return None;
    }
    Some(match params {
        Some(params) => format!("attachment;{params}"),
        None => "attachment".into(),
    })
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

/// Keeps the headers `keep` names, and drops `aws-chunked` from `content-encoding`.
fn apply(h: &mut impl HeaderEdit, keep: impl Fn(&str) -> bool) {
    let drop: Vec<http::HeaderName> = h
        .map()
        .keys()
        .filter(|n| !keep(n.as_str()))
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
    fn protection_headers_are_forwarded_on_s3_routes() {
        let mut req = RequestHeader::build("PUT", b"/x", None).unwrap();
        let forwarded = [
            "x-amz-server-side-encryption",
            "x-amz-server-side-encryption-customer-algorithm",
            "x-amz-server-side-encryption-customer-key",
            "x-amz-server-side-encryption-customer-key-md5",
            "x-amz-copy-source-server-side-encryption-customer-algorithm",
            "x-amz-copy-source-server-side-encryption-customer-key",
            "x-amz-copy-source-server-side-encryption-customer-key-md5",
            "x-amz-server-side-encryption-aws-kms-key-id",
            "x-amz-server-side-encryption-context",
            "x-amz-server-side-encryption-bucket-key-enabled",
            "x-amz-object-lock-mode",
            "x-amz-object-lock-retain-until-date",
            "x-amz-object-lock-legal-hold",
            "x-amz-storage-class",
            "x-amz-tagging",
        ];
        for name in forwarded {
            req.insert_header(name, "v").unwrap();
        }
        for name in [
            "x-amz-grant-read",
            "x-amz-website-redirect-location",
            "x-amz-new-thing",
        ] {
            req.insert_header(name, "v").unwrap();
        }
        filter_s3_request(&mut req);
        let mut names: Vec<&str> = req.headers.keys().map(|k| k.as_str()).collect();
        names.sort();
        let mut want = forwarded.to_vec();
        want.sort();
        assert_eq!(names, want);
        // files routes forward none of them (they refuse them: `files::check_headers`).
        filter_request(&mut req);
        assert!(req.headers.is_empty(), "{:?}", req.headers);
    }

    #[test]
    fn families_and_the_private_acl() {
        let one = |v: &'static str| std::iter::once(v.as_bytes());
        assert_eq!(amz_family("x-amz-grant-full-control"), Some(Family::Acl));
        assert_eq!(amz_family("x-amz-grant-"), None);
        assert_eq!(amz_family("x-amz-meta-a"), Some(Family::UserMetadata));
        assert_eq!(amz_family("x-amz-acl-x"), None);
        assert_eq!(amz_family("x-amz-write-offset-bytes"), None);
        assert_eq!(amz_header("x-amz-acl", one("private")), Some(Family::Sdk));
        assert_eq!(amz_header("x-amz-acl", one(" private ")), Some(Family::Sdk));
        assert_eq!(
            amz_header("x-amz-acl", one("public-read")),
            Some(Family::Acl)
        );
        assert_eq!(amz_header("x-amz-acl", one("Private")), Some(Family::Acl));
        let two = [&b"private"[..], &b"public-read"[..]];
        assert_eq!(amz_header("x-amz-acl", two.into_iter()), Some(Family::Acl));
        for (name, _) in AMZ_HEADERS {
            let family = amz_family(name.trim_end_matches('-')).or(amz_family(&format!("{name}x")));
            assert!(family.is_some(), "{name}");
            // Whatever protects is never silently ignored by either frontend.
            let f = family.unwrap();
            if f.protects() {
                assert_ne!(f.on_s3(), Treatment::Ignore, "{name}");
                assert_ne!(f.on_files(), Treatment::Ignore, "{name}");
            }
        }
    }

    #[test]
    fn object_responses_are_never_active_content() {
        let head = |headers: &[(&str, &str)]| {
            let mut resp = ResponseHeader::build(200, None).unwrap();
            for (k, v) in headers {
                resp.insert_header(k.to_string(), *v).unwrap();
            }
            resp
        };
        let get = |resp: &ResponseHeader, name: &str| {
            resp.headers
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        for (ctype, disposition, want) in [
            (Some("text/html; charset=utf-8"), None, Some("attachment")),
            (Some("Image/SVG+XML"), None, Some("attachment")),
            (Some("application/xhtml+xml"), None, Some("attachment")),
            (Some("text/xml"), Some("inline"), Some("attachment")),
            (
                Some("application/xml"),
                Some("inline; filename=\"a.xml\""),
                Some("attachment; filename=\"a.xml\""),
            ),
            (
                Some("text/html"),
                Some("Attachment; filename=x.html"),
                Some("Attachment; filename=x.html"),
            ),
            (None, None, Some("attachment")),
            (Some("garbage"), None, Some("attachment")),
            (Some("multipart/x-mixed-replace"), None, Some("attachment")),
            (Some("image/png"), None, None),
            (Some("video/mp4"), Some("inline"), Some("inline")),
            (Some("text/plain"), None, None),
            (Some("application/octet-stream"), None, None),
        ] {
            let mut headers = Vec::new();
            headers.extend(ctype.map(|c| ("content-type", c)));
            headers.extend(disposition.map(|d| ("content-disposition", d)));
            let mut resp = head(&headers);
            harden_object_response(&mut resp, false);
            assert_eq!(
                get(&resp, "content-disposition").as_deref(),
                want,
                "{ctype:?} {disposition:?}"
            );
            assert_eq!(
                get(&resp, "x-content-type-options").as_deref(),
                Some("nosniff")
            );
            assert_eq!(
                get(&resp, "content-security-policy").as_deref(),
                Some(OBJECT_CSP)
            );
        }
        let mut resp = head(&[("content-type", "text/html")]);
        harden_object_response(&mut resp, true);
        assert_eq!(
            get(&resp, "x-content-type-options").as_deref(),
            Some("nosniff")
        );
        assert_eq!(get(&resp, "content-security-policy"), None);
        assert_eq!(get(&resp, "content-disposition"), None);
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
