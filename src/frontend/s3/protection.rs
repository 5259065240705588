//! Protection on `s3` routes, both ways.
//!
//! **Requests.** A header that changes how an object is stored or protected (encryption,
//! object lock, ACLs, storage class, tags) is forwarded and signed, or the request is refused
//! here with an S3 error, before anything goes upstream; it is never dropped with a 200. The
//! header families and what an `s3` route does with each are [`header_policy`]'s
//! ([`Family::on_s3`]); [`check`] applies them to one request:
//! - a refused family (ACLs other than `private`, lifting object lock, website redirects):
//!   `501 NotImplemented`, naming the header;
//! - an `x-amz-*` header bucketgate does not know, on an operation that changes stored data:
//!   `501 NotImplemented` too (on reads it is ignored, as S3 ignores what it does not know);
//! - the same for `x-amz-*` parameters that a presigned URL carries in its query ("hoisted"
//!   headers, which S3 honours as headers): bucketgate forwards no such parameter, so a
//!   protection header hoisted there is refused (sign it as a header instead).
//!
//! **Responses.** A GetObject or HeadObject answer is made safe to open in a browser
//! ([`header_policy::harden_object_response`]) by [`object_response`], unless the route allows
//! `active_content`. Listings and other XML answers of the API are not objects and keep their
//! headers.

use std::sync::Arc;

use bytes::Bytes;
use http::HeaderMap;
use pingora_error::Result;
use pingora_http::{RequestHeader, ResponseHeader};

use super::operation::S3Op;
use super::S3Error;
use crate::frontend::header_policy::{self, Family, Treatment};
use crate::frontend::Forward;
use crate::reply::Refusal;
use crate::upstream::Pool;

/// The query parameters of a presigned URL's own signature (compared in lower case).
const PRESIGN_PARAMS: &[&str] = &[
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-date",
    "x-amz-expires",
    "x-amz-signedheaders",
    "x-amz-signature",
    "x-amz-security-token",
];

/// Refuses a verified request whose `x-amz-*` headers (or presigned query parameters, given
/// decoded) would ask for protection this route cannot give; see the module docs.
pub fn check<'q>(
    op: S3Op,
    headers: &HeaderMap,
    query: impl IntoIterator<Item = (&'q str, &'q str)>,
) -> Result<(), S3Error> {
    for name in headers.keys() {
        let name = name.as_str();
        if !name.starts_with("x-amz-") {
            continue;
        }
        let values = headers.get_all(name).iter().map(|v| v.as_bytes());
        let family = header_policy::amz_header(name, values);
        match family.map(Family::on_s3) {
            Some(Treatment::Refuse) => return Err(refused(name, family)),
            None if changes_storage(op) => return Err(refused(name, None)),
            _ => {}
        }
    }
    for (name, value) in query {
        let name = name.to_ascii_lowercase();
        if !name.starts_with("x-amz-") || PRESIGN_PARAMS.contains(&name.as_str()) {
            continue;
        }
        let family = header_policy::amz_header(&name, std::iter::once(value.as_bytes()));
        match family {
            Some(f) if f.on_s3() == Treatment::Refuse => return Err(refused(&name, family)),
            // A protection header in the query would be dropped: bucketgate forwards only
            // the operation's own parameters.
            Some(f) if f.protects() => return Err(hoisted(&name, f)),
            None if changes_storage(op) => return Err(refused(&name, None)),
            _ => {}
        }
    }
    Ok(())
}

/// Whether `op` writes or deletes stored data (where an unknown `x-amz-*` header might have
/// asked for something bucketgate would not do).
fn changes_storage(op: S3Op) -> bool {
    match op {
        S3Op::PutObject
        | S3Op::CopyObject
        | S3Op::DeleteObject
        | S3Op::DeleteObjects
        | S3Op::CreateMultipartUpload
        | S3Op::UploadPart
        | S3Op::UploadPartCopy
        | S3Op::CompleteMultipartUpload
        | S3Op::AbortMultipartUpload
        | S3Op::CreateBucket => true,
        S3Op::ListBuckets
        | S3Op::HeadBucket
        | S3Op::GetBucketLocation
        | S3Op::ListObjectsV1
        | S3Op::ListObjectsV2
        | S3Op::ListMultipartUploads
        | S3Op::GetObject
        | S3Op::HeadObject
        | S3Op::ListParts => false,
    }
}

/// `501 NotImplemented` for header `name` of `family` (`None`: unknown). Names only, never
/// values: a value may be a secret (an SSE-C key).
fn refused(name: &str, family: Option<Family>) -> S3Error {
    let message = match family {
        Some(f) => format!(
            "This gateway does not support {}: the request carries {name}.",
            f.describe()
        ),
        None => format!(
            "This gateway does not know the header {name}, which may change how the object is \
             stored or protected; the request was refused rather than the header ignored."
        ),
    };
    S3Error::new(501, "NotImplemented", message).logged(format!("refused header {name}"))
}

/// `501 NotImplemented` for a protection header hoisted into a presigned URL's query.
fn hoisted(name: &str, family: Family) -> S3Error {
    S3Error::new(
        501,
        "NotImplemented",
        format!(
            "This gateway does not take {name} ({}) from a presigned URL's query; sign it as \
             a header instead (the client then sends it with the request).",
            family.describe()
        ),
    )
    .logged(format!("refused presigned query parameter {name}"))
}

/// The forward of `op`, with its object responses hardened for browsers unless the route
/// allows `active_content`.
pub fn object_response(
    op: S3Op,
    active_content: bool,
    inner: Box<dyn Forward>,
) -> Box<dyn Forward> {
    if matches!(op, S3Op::GetObject | S3Op::HeadObject) {
        Box::new(HardenedObject {
            inner,
            active_content,
        })
    } else {
        inner
    }
}

/// A forwarded GetObject or HeadObject: everything as the inner forward does it, then the
/// response head of a success (2xx, 304) hardened. Error answers are the frontend's own XML.
struct HardenedObject {
    inner: Box<dyn Forward>,
    active_content: bool,
}

impl Forward for HardenedObject {
    fn pool(&self) -> &Arc<Pool> {
        self.inner.pool()
    }

    fn target(&self) -> (&str, &str) {
        self.inner.target()
    }

    fn log_key(&self) -> Option<&str> {
        self.inner.log_key()
    }

    fn filters_body(&self) -> bool {
        self.inner.filters_body()
    }

    fn upstream_request(&mut self, req: &mut RequestHeader, host: &str) -> Result<()> {
        self.inner.upstream_request(req, host)
    }

    fn request_body(&mut self, body: &mut Option<Bytes>, end: bool) -> Result<(), Refusal> {
        self.inner.request_body(body, end)
    }

    fn response_head(&mut self, resp: &mut ResponseHeader) -> Result<()> {
        self.inner.response_head(resp)?;
        let status = resp.status.as_u16();
        if (200..300).contains(&status) || status == 304 {
            header_policy::harden_object_response(resp, self.active_content);
        }
        Ok(())
    }

    fn response_body(&mut self, body: &mut Option<Bytes>, end: bool, req: &RequestHeader) {
        self.inner.response_body(body, end, req)
    }

    fn finished(&self) {
        self.inner.finished()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query as `check` gets it: decoded pairs (these tests need no percent-decoding).
    fn params(raw: &str) -> Vec<(&str, &str)> {
        raw.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').unwrap_or((p, "")))
            .collect()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        map
    }

    fn code(op: S3Op, pairs: &[(&str, &str)], query: &str) -> Option<String> {
        check(op, &headers(pairs), params(query))
            .err()
            .map(|e| format!("{} {}", e.status, e.code))
    }

    fn ni() -> Option<String> {
        Some("501 NotImplemented".into())
    }

    #[test]
    fn forwarded_families_pass() {
        let sse_c = [
            ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
            ("x-amz-server-side-encryption-customer-key", "a2V5"),
            ("x-amz-server-side-encryption-customer-key-md5", "bWQ1"),
        ];
        for op in [
            S3Op::PutObject,
            S3Op::GetObject,
            S3Op::HeadObject,
            S3Op::UploadPart,
        ] {
            assert_eq!(code(op, &sse_c, ""), None, "{op:?}");
        }
        let put = [
            ("x-amz-server-side-encryption", "aws:kms"),
            ("x-amz-server-side-encryption-aws-kms-key-id", "k"),
            ("x-amz-object-lock-mode", "GOVERNANCE"),
            (
                "x-amz-object-lock-retain-until-date",
                "2030-01-01T00:00:00Z",
            ),
            ("x-amz-object-lock-legal-hold", "ON"),
            ("x-amz-storage-class", "STANDARD"),
            ("x-amz-tagging", "a=b"),
            ("x-amz-acl", "private"),
            ("x-amz-date", "20260101T000000Z"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ("x-amz-expected-bucket-owner", "1"),
            ("x-amz-checksum-crc32", "AAAAAA=="),
            ("x-amz-meta-a", "b"),
        ];
        assert_eq!(code(S3Op::PutObject, &put, ""), None);
    }

    #[test]
    fn acls_and_unknown_headers_on_writes_are_refused() {
        for h in [
            ("x-amz-acl", "public-read"),
            (
                "x-amz-grant-read",
                "uri=http://acs.amazonaws.com/groups/global/AllUsers",
            ),
            ("x-amz-grant-full-control", "id=x"),
            ("x-amz-website-redirect-location", "https://evil.example"),
            ("x-amz-bypass-governance-retention", "true"),
        ] {
            assert_eq!(code(S3Op::PutObject, &[h], ""), ni(), "{h:?}");
            // Refused families are refused on reads too.
            assert_eq!(code(S3Op::GetObject, &[h], ""), ni(), "{h:?}");
        }
        let unknown = [("x-amz-write-offset-bytes", "0")];
        for op in [
            S3Op::PutObject,
            S3Op::DeleteObject,
            S3Op::DeleteObjects,
            S3Op::CreateMultipartUpload,
            S3Op::CreateBucket,
        ] {
            assert_eq!(code(op, &unknown, ""), ni(), "{op:?}");
        }
        assert_eq!(code(S3Op::GetObject, &unknown, ""), None);
        assert_eq!(code(S3Op::ListObjectsV2, &unknown, ""), None);
    }

    #[test]
    fn refusals_never_show_header_values() {
        let e = check(
            S3Op::PutObject,
            &headers(&[("x-amz-unknown-secret", "s3cr3tvalue")]),
            [],
        )
        .unwrap_err();
        assert!(e.message.contains("x-amz-unknown-secret"), "{}", e.message);
        assert!(!e.message.contains("s3cr3tvalue"));
        assert!(!e.log.unwrap_or_default().contains("s3cr3tvalue"));
    }

    #[test]
    fn hoisted_query_parameters() {
        let presigned = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a&X-Amz-Date=d\
                         &X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00";
        assert_eq!(code(S3Op::PutObject, &[], presigned), None);
        for q in [
            "x-amz-acl=public-read",
            "X-Amz-Acl=public-read",
            "x-amz-server-side-encryption=AES256",
            "x-amz-server-side-encryption-customer-key=a2V5",
            "x-amz-object-lock-mode=COMPLIANCE",
            "x-amz-storage-class=GLACIER",
            "x-amz-tagging=a:b",
            "x-amz-copy-source=/b/k",
            "x-amz-something-new=1",
        ] {
            assert_eq!(
                code(S3Op::PutObject, &[], &format!("{presigned}&{q}")),
                ni(),
                "{q}"
            );
        }
        // Accepted: the private ACL, and operation headers (checksums the JS SDK hoists).
        for q in [
            "x-amz-acl=private",
            "x-amz-checksum-crc32=AAAAAA",
            "x-amz-sdk-checksum-algorithm=CRC32",
        ] {
            assert_eq!(
                code(S3Op::PutObject, &[], &format!("{presigned}&{q}")),
                None,
                "{q}"
            );
        }
        assert_eq!(code(S3Op::GetObject, &[], "x-amz-something-new=1"), None);
    }
}
