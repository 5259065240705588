//! Which S3 operation a request is, from its method, addressing, query and headers, and which
//! query parameters that operation may carry upstream. Everything else is `NotImplemented`:
//! a request bucketgate does not understand is never passed through, so no sub-resource
//! (`?acl`, `?policy`, `?versioning`...) can be reached around the grants.

use super::query::Query;
use crate::frontend::files::RESPONSE_OVERRIDES;

/// The operations the S3 frontend serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3Op {
    ListBuckets,
    /// Answered for existing buckets only (`BucketAlreadyOwnedByYou`, as S3 does): clients
    /// such as rclone create the bucket before their first upload.
    CreateBucket,
    HeadBucket,
    GetBucketLocation,
    ListObjectsV1,
    ListObjectsV2,
    ListMultipartUploads,
    DeleteObjects,
    GetObject,
    HeadObject,
    PutObject,
    CopyObject,
    DeleteObject,
    CreateMultipartUpload,
    UploadPart,
    UploadPartCopy,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
}

/// Query parameters that do not select an operation, and are never forwarded: the ones that
/// sign the request itself (presigned URLs), and `x-id`, the operation name the JS SDK v3
/// appends to every request as a hint for itself.
fn is_auth_param(name: &str) -> bool {
    name.starts_with("X-Amz-") || name.starts_with("x-amz-") || name == "x-id"
}

/// What kind of request this is, from the canonical query. `Err` names what is not implemented, for the message.
pub fn classify(
    method: &str,
    has_bucket: bool,
    has_key: bool,
    query: &Query,
    copy_source: bool,
) -> Result<S3Op, String> {
    let sub: Vec<&str> = query.names().filter(|k| !is_auth_param(k)).collect();
    let has = |name: &str| query.has(name);
    let only = |allowed: &[&[&str]]| sub.iter().all(|k| allowed.iter().any(|l| l.contains(k)));
    let op = match (method, has_bucket, has_key) {
        ("GET", false, _) if sub.is_empty() => Some(S3Op::ListBuckets),
        ("HEAD", true, false) if sub.is_empty() => Some(S3Op::HeadBucket),
        ("PUT", true, false) if sub.is_empty() => Some(S3Op::CreateBucket),
        ("GET", true, false) if sub == ["location"] => Some(S3Op::GetBucketLocation),
        ("GET", true, false) if has("uploads") && only(&[LIST_UPLOADS]) => {
            Some(S3Op::ListMultipartUploads)
        }
        ("GET", true, false) if query.get("list-type") == Some("2") && only(&[LIST_V2]) => {
            Some(S3Op::ListObjectsV2)
        }
        ("GET", true, false) if only(&[LIST_V1]) => Some(S3Op::ListObjectsV1),
        ("POST", true, false) if sub == ["delete"] => Some(S3Op::DeleteObjects),
        ("GET", true, true) if has("uploadId") && only(&[LIST_PARTS]) => Some(S3Op::ListParts),
        ("GET", true, true) if only(GET_OBJECT) => Some(S3Op::GetObject),
        ("HEAD", true, true) if only(GET_OBJECT) => Some(S3Op::HeadObject),
        ("PUT", true, true) if has("uploadId") && only(&[UPLOAD_PART]) => Some(if copy_source {
            S3Op::UploadPartCopy
        } else {
            S3Op::UploadPart
        }),
        ("PUT", true, true) if sub.is_empty() => Some(if copy_source {
            S3Op::CopyObject
        } else {
            S3Op::PutObject
        }),
        ("DELETE", true, true) if sub.is_empty() => Some(S3Op::DeleteObject),
        ("DELETE", true, true) if sub == ["uploadId"] => Some(S3Op::AbortMultipartUpload),
        ("POST", true, true) if sub == ["uploads"] => Some(S3Op::CreateMultipartUpload),
        ("POST", true, true) if sub == ["uploadId"] => Some(S3Op::CompleteMultipartUpload),
        _ => None,
    };
    op.ok_or_else(|| describe(method, has_bucket, has_key, &sub))
}

const LIST_V1: &[&str] = &["prefix", "delimiter", "marker", "max-keys", "encoding-type"];
const LIST_V2: &[&str] = &[
    "list-type",
    "prefix",
    "delimiter",
    "continuation-token",
    "start-after",
    "max-keys",
    "fetch-owner",
    "encoding-type",
];
const LIST_UPLOADS: &[&str] = &[
    "uploads",
    "prefix",
    "delimiter",
    "key-marker",
    "upload-id-marker",
    "max-uploads",
    "encoding-type",
];
const LIST_PARTS: &[&str] = &["uploadId", "max-parts", "part-number-marker"];
const UPLOAD_PART: &[&str] = &["partNumber", "uploadId"];
/// GetObject and HeadObject: these, and the response-header overrides the `files` frontend
/// forwards too.
const GET_OBJECT: &[&[&str]] = &[&["partNumber", "versionId"], RESPONSE_OVERRIDES];

/// Whether `op` forwards the query parameter `name` (before any rewriting of key-valued ones).
pub fn forwards(op: S3Op, name: &str) -> bool {
    let lists: &[&[&str]] = match op {
        S3Op::ListObjectsV1 => &[LIST_V1],
        S3Op::ListObjectsV2 => &[LIST_V2],
        S3Op::ListMultipartUploads => &[LIST_UPLOADS],
        S3Op::ListParts => &[LIST_PARTS],
        S3Op::GetObject | S3Op::HeadObject => GET_OBJECT,
        S3Op::UploadPart | S3Op::UploadPartCopy => &[UPLOAD_PART],
        S3Op::AbortMultipartUpload | S3Op::CompleteMultipartUpload => &[&["uploadId"]],
        S3Op::CreateMultipartUpload => &[&["uploads"]],
        S3Op::DeleteObjects => &[&["delete"]],
        _ => &[],
    };
    lists.iter().any(|l| l.contains(&name))
}

/// `GET ?acl on an object`, for the `NotImplemented` message.
fn describe(method: &str, has_bucket: bool, has_key: bool, sub: &[&str]) -> String {
    let target = match (has_bucket, has_key) {
        (false, _) => "the service",
        (true, false) => "a bucket",
        (true, true) => "an object",
    };
    if sub.is_empty() {
        format!("{method} on {target} is not supported by bucketgate")
    } else {
        format!(
            "{method} ?{} on {target} is not supported by bucketgate",
            sub.join("&")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(method: &str, bucket: bool, key: bool, q: &str) -> Result<S3Op, String> {
        classify(method, bucket, key, &Query::parse(q).unwrap(), false)
    }

    #[test]
    fn service_and_bucket_operations() {
        assert_eq!(op("GET", false, false, ""), Ok(S3Op::ListBuckets));
        assert_eq!(op("HEAD", true, false, ""), Ok(S3Op::HeadBucket));
        assert_eq!(
            op("GET", true, false, "location"),
            Ok(S3Op::GetBucketLocation)
        );
        assert_eq!(op("GET", true, false, ""), Ok(S3Op::ListObjectsV1));
        assert_eq!(
            op("GET", true, false, "prefix=a&delimiter=%2F&marker=x"),
            Ok(S3Op::ListObjectsV1)
        );
        assert_eq!(
            op(
                "GET",
                true,
                false,
                "list-type=2&prefix=a&continuation-token=t&fetch-owner=true"
            ),
            Ok(S3Op::ListObjectsV2)
        );
        assert_eq!(
            op("GET", true, false, "uploads&prefix=a"),
            Ok(S3Op::ListMultipartUploads)
        );
        assert_eq!(op("POST", true, false, "delete"), Ok(S3Op::DeleteObjects));
        assert_eq!(op("PUT", true, false, ""), Ok(S3Op::CreateBucket));
    }

    #[test]
    fn object_operations() {
        assert_eq!(op("GET", true, true, ""), Ok(S3Op::GetObject));
        assert_eq!(
            op("GET", true, true, "response-content-type=text%2Fplain"),
            Ok(S3Op::GetObject)
        );
        assert_eq!(op("HEAD", true, true, "partNumber=1"), Ok(S3Op::HeadObject));
        assert_eq!(op("PUT", true, true, ""), Ok(S3Op::PutObject));
        assert_eq!(
            classify("PUT", true, true, &Query::default(), true),
            Ok(S3Op::CopyObject)
        );
        assert_eq!(
            op("PUT", true, true, "partNumber=2&uploadId=u"),
            Ok(S3Op::UploadPart)
        );
        assert_eq!(
            classify(
                "PUT",
                true,
                true,
                &Query::parse("partNumber=2&uploadId=u").unwrap(),
                true
            ),
            Ok(S3Op::UploadPartCopy)
        );
        assert_eq!(op("DELETE", true, true, ""), Ok(S3Op::DeleteObject));
        assert_eq!(
            op("DELETE", true, true, "uploadId=u"),
            Ok(S3Op::AbortMultipartUpload)
        );
        assert_eq!(
            op("POST", true, true, "uploads"),
            Ok(S3Op::CreateMultipartUpload)
        );
        assert_eq!(
            op("POST", true, true, "uploadId=u"),
            Ok(S3Op::CompleteMultipartUpload)
        );
        assert_eq!(
            op("GET", true, true, "uploadId=u&max-parts=2"),
            Ok(S3Op::ListParts)
        );
    }

    #[test]
    fn the_js_sdk_operation_hint_does_not_count() {
        assert_eq!(op("PUT", true, true, "x-id=PutObject"), Ok(S3Op::PutObject));
        assert_eq!(
            op("GET", true, true, "uploadId=u&x-id=ListParts"),
            Ok(S3Op::ListParts)
        );
    }

    #[test]
    fn presign_parameters_do_not_count() {
        assert_eq!(
            op(
                "GET",
                true,
                true,
                "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00"
            ),
            Ok(S3Op::GetObject)
        );
    }

    #[test]
    fn sub_resources_are_not_implemented() {
        for (m, b, k, q) in [
            ("GET", true, true, "acl"),
            ("PUT", true, true, "tagging"),
            ("GET", true, false, "versioning"),
            ("GET", true, false, "policy"),
            ("DELETE", true, false, ""),
            ("POST", true, true, ""),
            ("GET", true, false, "list-type=2&acl"),
            ("PATCH", true, true, ""),
            ("GET", false, false, "x"),
        ] {
            let e = op(m, b, k, q).unwrap_err();
            assert!(e.contains("not supported"), "{m} {q}: {e}");
        }
    }
}
