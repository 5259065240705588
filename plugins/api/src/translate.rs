//! The translation seam: an API call as an S3 operation, and the S3 response back, streaming.

use bytes::Bytes;

use crate::Rejection;

/// One S3 operation, as a frontend plugin asks for it. The route supplies the upstream pool,
/// bucket and `key_prefix`; bucketgate checks policy on the result and signs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Request {
    pub method: http::Method,
    /// The decoded key relative to the route's `key_prefix`; None for a bucket-level
    /// operation such as ListObjectsV2 (then the `prefix` query parameter is what policy checks).
    pub key: Option<String>,
    /// Decoded query parameters; bucketgate encodes them.
    pub query: Vec<(String, String)>,
    /// Headers for the upstream (content-type, x-amz-meta-*, ...).
    pub headers: http::HeaderMap,
    /// A SHA-256 (hex) the client declared for the body: signed, so the upstream enforces it.
    pub body_sha256: Option<String>,
    /// The upstream body length when it differs from the client's (a translated body).
    pub content_length: Option<u64>,
}

/// The response head a translator produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    pub headers: http::HeaderMap,
}

/// Rewrites one upstream response into the API's response. One instance per request.
pub trait ResponseTranslator: Send + Sync {
    /// The client's response head from the upstream's.
    fn head(&mut self, status: u16, headers: &http::HeaderMap) -> Result<ResponseHead, Rejection>;
    /// The client's bytes for one upstream body piece; called with `end_of_stream` last.
    fn body(&mut self, chunk: Bytes, end_of_stream: bool) -> Bytes;
}

/// Rewrites the client's request body piece by piece into the upstream body.
pub trait BodyTranslator: Send + Sync {
    /// Upstream bytes for one client piece; an error aborts the upload before its end reaches
    /// the upstream, so nothing partial is stored.
    fn chunk(&mut self, chunk: Bytes, end_of_stream: bool) -> Result<Bytes, Rejection>;
}
