//! The typed S3 operations of the internal client, on a [`Bucket`].

use bucketgate_plugin::Operation;
use bytes::Bytes;

use super::{Bucket, Call, ClientError, Response, Touch, MAX_BUFFERED};

impl Bucket<'_> {
    /// DeleteObjects with a body already built (upstream keys, at most 1,000), for the `s3`
    /// frontend, which rewrites the answer for its client. `keys`: every key the body names,
    /// each checked by the guard. The answer's body is the upstream's `DeleteResult`.
    pub async fn delete_objects_raw(
        &self,
        keys: &[&str],
        body: Bytes,
        content_md5: String,
    ) -> Result<Response, ClientError> {
        let mut call = Call::new(
            "DeleteObjects",
            http::Method::POST,
            "",
            "delete",
            Touch::prefix(Operation::Delete, ""),
        )
        .header("content-type", "application/xml")
        .header("content-md5", content_md5)
        .body(body)
        // Deleting a deleted key again changes nothing: retried like S3's own SDKs do.
        .idempotent(true);
        call.touches = keys
            .iter()
            .map(|k| Touch::key(Operation::Delete, k))
            .collect();
        self.send(&call, MAX_BUFFERED).await
    }
}
