//! The typed S3 operations of the internal client, on a [`Bucket`]: what a frontend needs to
//! drive an exchange (a folder move is a listing, copies and deletes) without speaking S3
//! itself. Each is one or more [`Bucket::send`] calls, so each is guarded, retried, logged and
//! counted like any other; an S3 error answer comes back as [`ClientError::Status`].
//!
//! The streamed GetObject is in [`super::download`]; uploads (streamed, of unknown length, and
//! the multipart calls) are in [`super::upload`].

use base64::Engine as _;
use bucketgate_plugin::Operation;
use bytes::Bytes;
use md5::{Digest as _, Md5};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::upload::{COPY_PART_SIZE, MAX_PARTS};
use super::{Bucket, Call, ClientError, Response, Touch, MAX_BUFFERED};
use crate::s3::encode_key_path;
use crate::s3::results::{self, DeleteFailure, ListPage};

/// The most of an error answer's body read for its code and message.
pub const MAX_ERROR_BODY: usize = 64 << 10;
/// The largest object one CopyObject may copy (S3's limit); larger ones are copied in parts.
pub const MAX_SINGLE_COPY: u64 = 5 << 30;
/// The most keys one DeleteObjects call may name (S3's limit).
pub const DELETE_BATCH: usize = 1000;

/// What HeadObject says about an object. `etag` and `last_modified` are as S3 gave them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub etag: String,
    pub last_modified: String,
    pub content_type: Option<String>,
}

/// A ListObjectsV2 listing read page by page (see [`Bucket::list_v2`]).
pub struct Listing<'b> {
    bucket: &'b Bucket<'b>,
    prefix: String,
    delimiter: Option<String>,
    max_keys: Option<u32>,
    /// The token of the next page; `None` before the first.
    token: Option<String>,
    done: bool,
}

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

impl Bucket<'_> {
    /// HeadObject of `key`: `None` when there is no such object.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, ClientError> {
        let call = Call::new(
            "HeadObject",
            http::Method::HEAD,
            key,
            "",
            Touch::key(Operation::Read, key),
        );
        let response = self.send(&call, MAX_ERROR_BODY).await?;
        if response.status == 404 {
            return Ok(None);
        }
        let response = expect(response, &[200])?;
        let size = (response.header("content-length"))
            .and_then(|l| l.trim().parse().ok())
            .ok_or_else(|| ClientError::Malformed("HeadObject without a Content-Length".into()))?;
        let text = |name| response.header(name).unwrap_or_default().to_owned();
        Ok(Some(ObjectInfo {
            size,
            etag: text("etag"),
            last_modified: text("last-modified"),
            content_type: response.header("content-type").map(str::to_owned),
        }))
    }

    /// PutObject of `body`, held in memory and signed with its SHA-256 (so the upstream
    /// rejects it if it changed on the way), with `headers` (`content-type`, ...). Returns the
    /// new object's ETag (empty if the upstream gave none).
    pub async fn put(
        &self,
        key: &str,
        body: Bytes,
        headers: Vec<(&'static str, String)>,
    ) -> Result<String, ClientError> {
        let mut call = put_object_call(key).body(body);
        call.headers = headers;
        let response = expect(self.send(&call, MAX_ERROR_BODY).await?, &[200])?;
        Ok(response.header("etag").unwrap_or_default().to_owned())
    }

    /// DeleteObject of `key`; deleting a key that does not exist succeeds too.
    pub async fn delete(&self, key: &str) -> Result<(), ClientError> {
        let call = Call::new(
            "DeleteObject",
            http::Method::DELETE,
            key,
            "",
            Touch::key(Operation::Delete, key),
        );
        expect(self.send(&call, MAX_ERROR_BODY).await?, &[200, 204, 404])?;
        Ok(())
    }

    /// Deletes `keys` with DeleteObjects calls of at most [`DELETE_BATCH`] keys each, and
    /// returns the keys S3 did not delete, with its reasons. Every key is held to the guard
    /// before the first call, so a refused key deletes nothing.
    pub async fn delete_objects(
        &self,
        keys: &[String],
        quiet: bool,
    ) -> Result<Vec<DeleteFailure>, ClientError> {
        for key in keys {
            let touch = Touch::key(Operation::Delete, key);
            self.guard
                .check(self.bucket, &touch)
                .map_err(ClientError::Denied)?;
        }
        let mut failed = Vec::new();
        for batch in keys.chunks(DELETE_BATCH) {
            let body = results::delete_xml(batch, quiet);
            let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(&body));
            let names: Vec<&str> = batch.iter().map(String::as_str).collect();
            let response = self.delete_objects_raw(&names, body.into(), md5).await?;
            let response = expect(response, &[200])?;
            let outcome = results::parse_delete_result(&response.body).map_err(malformed)?;
            failed.extend(outcome.failed);
        }
        Ok(failed)
    }

    /// A ListObjectsV2 listing of the keys under `prefix` (grouped at `delimiter` if given),
    /// read with [`Listing::next_page`]. The guard must allow listing `prefix`.
    pub fn list_v2<'b>(&'b self, prefix: &str, delimiter: Option<&str>) -> Listing<'b> {
        Listing {
            bucket: self,
            prefix: prefix.to_owned(),
            delimiter: delimiter.map(str::to_owned),
            max_keys: None,
            token: None,
            done: false,
        }
    }

    /// Copies `src_key` to `dst_key`: one CopyObject (metadata and content type included) up
    /// to [`MAX_SINGLE_COPY`], above it a multipart copy in parts of [`COPY_PART_SIZE`] (see
    /// [`Bucket::copy_in_parts`]). `size` is the source's size as a listing gave it, and only
    /// chooses between the two. Returns the copy's ETag (see [`Bucket::complete_multipart`]
    /// for when it is empty).
    pub async fn copy(
        &self,
        src_key: &str,
        dst_key: &str,
        size: u64,
    ) -> Result<String, ClientError> {
        if size > MAX_SINGLE_COPY {
            return self.copy_in_parts(src_key, dst_key, COPY_PART_SIZE).await;
        }
        let source = self.copy_source(src_key);
        let call = Call::new(
            "CopyObject",
            http::Method::PUT,
            dst_key,
            "",
            Touch::key(Operation::Write, dst_key),
        )
        .touch(Touch::key(Operation::Read, src_key))
        .header("x-amz-copy-source", source);
        let response = self.send(&call, MAX_ERROR_BODY).await?;
        parse_result(&expect(response, &[200])?, "CopyObjectResult")
    }

    /// Copies `src_key` to `dst_key` as a multipart upload of UploadPartCopy calls of
    /// `part_size` bytes (more if 10,000 parts would not hold it). The source's size and content
    /// type come from a HEAD of it first; its other metadata (`x-amz-meta-*`) is not carried.
    /// The upload is aborted if any step fails. Returns the copy's ETag (empty when the
    /// upstream gave none, see [`Bucket::complete_multipart`]).
    pub async fn copy_in_parts(
        &self,
        src_key: &str,
        dst_key: &str,
        part_size: u64,
    ) -> Result<String, ClientError> {
        let info = self
            .head(src_key)
            .await?
            .ok_or_else(|| ClientError::Status {
                status: 404,
                code: "NoSuchKey".into(),
                message: format!("the copy source {src_key:?} does not exist"),
            })?;
        let size = info.size;
        let part_size = part_size.max(size.div_ceil(u64::from(MAX_PARTS))).max(1);
        let headers = (info.content_type)
            .map(|t| vec![("content-type", t)])
            .unwrap_or_default();
        let upload_id = self.create_multipart(dst_key, headers).await?;
        let copied = async {
            let mut parts = Vec::new();
            let mut start = 0u64;
            while start < size {
                let end = (start + part_size).min(size) - 1;
                let number = parts.len() as u32 + 1;
                let etag = (self.upload_part_copy(
                    src_key,
                    dst_key,
                    &upload_id,
                    number,
                    Some((start, end)),
                ))
                .await?;
                parts.push(results::CompletedPart { number, etag });
                start = end + 1;
            }
            if parts.is_empty() {
                // An empty source: one empty part.
                let etag = self
                    .upload_part(dst_key, &upload_id, 1, Bytes::new())
                    .await?;
                parts.push(results::CompletedPart { number: 1, etag });
            }
            self.complete_multipart(dst_key, &upload_id, &parts).await
        }
        .await;
        self.abort_on_error(dst_key, &upload_id, copied).await
    }

    /// The `x-amz-copy-source` value of `key` in this bucket.
    pub(super) fn copy_source(&self, key: &str) -> String {
        format!("/{}/{}", self.bucket, encode_key_path(key))
    }
}

impl Listing<'_> {
    /// At most `n` keys (and common prefixes) per page (S3's default and maximum is 1,000).
    pub fn max_keys(mut self, n: u32) -> Self {
        self.max_keys = Some(n);
        self
    }

    /// The next page; `None` after the last. A page may be empty (and yet not the last).
    pub async fn next_page(&mut self) -> Result<Option<ListPage>, ClientError> {
        if self.done {
            return Ok(None);
        }
        let mut query = format!("list-type=2&prefix={}", query_value(&self.prefix));
        if let Some(d) = &self.delimiter {
            query.push_str(&format!("&delimiter={}", query_value(d)));
        }
        if let Some(n) = self.max_keys {
            query.push_str(&format!("&max-keys={n}"));
        }
        if let Some(token) = &self.token {
            query.push_str(&format!("&continuation-token={}", query_value(token)));
        }
        let call = Call::new(
            "ListObjectsV2",
            http::Method::GET,
            "",
            &query,
            Touch::prefix(Operation::List, &self.prefix),
        );
        let response = expect(self.bucket.send(&call, MAX_BUFFERED).await?, &[200])?;
        let page = results::parse_list_v2(&response.body).map_err(malformed)?;
        if page.next_token.is_some() && page.next_token == self.token {
            // The same token again would list the same page forever.
            return Err(malformed(
                "the listing gave the same continuation token twice",
            ));
        }
        self.token.clone_from(&page.next_token);
        self.done = page.next_token.is_none();
        Ok(Some(page))
    }
}

/// `response` when its status is one of `ok`; its S3 error otherwise.
pub(super) fn expect(response: Response, ok: &[u16]) -> Result<Response, ClientError> {
    if ok.contains(&response.status) {
        return Ok(response);
    }
    Err(s3_error(response.status, &response.body))
}

/// The S3 error answer of `status` with `body` (its error document, if any).
pub(super) fn s3_error(status: u16, body: &[u8]) -> ClientError {
    let doc = results::parse_error(body);
    let (code, message) = doc.map(|e| (e.code, e.message)).unwrap_or_default();
    ClientError::Status {
        status,
        code,
        message,
    }
}

/// The ETag of a 200 answer whose document is `root` (from the `ETag` header when the
/// document has none; empty when neither has one). CopyObject, UploadPartCopy and
/// CompleteMultipartUpload may fail after their 200 went out: S3 then sends an error document
/// instead, reported as a 500 with its code.
pub(super) fn parse_result(response: &Response, root: &str) -> Result<String, ClientError> {
    if let Some(e) = results::parse_error(&response.body) {
        return Err(ClientError::Status {
            status: 500,
            code: e.code,
            message: e.message,
        });
    }
    let etag = results::parse_etag(&response.body, root).map_err(malformed)?;
    if etag.is_empty() {
        return Ok(response.header("etag").unwrap_or_default().to_owned());
    }
    Ok(etag)
}

pub(super) fn malformed(why: impl Into<String>) -> ClientError {
    ClientError::Malformed(why.into())
}

/// Everything but `A-Za-z0-9-._~`, as SigV4's canonical query wants it.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `value` percent-encoded for a query string (a `+` stays a plus, not a space).
pub(super) fn query_value(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

/// A PutObject of `key` (guarded as a write), without its body: `put` and `put_stream` share it.
pub(super) fn put_object_call(key: &str) -> Call<'_> {
    Call::new(
        "PutObject",
        http::Method::PUT,
        key,
        "",
        Touch::key(Operation::Write, key),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_survive_the_signers_normalization() {
        let raw = "a b+c/d%e&f=g~é";
        let encoded = query_value(raw);
        assert_eq!(encoded, "a%20b%2Bc%2Fd%25e%26f%3Dg~%C3%A9");
        let query = format!("prefix={encoded}");
        assert_eq!(crate::s3::normalize_query(&query), query);
    }

    #[test]
    fn error_answers_keep_their_code_and_message() {
        let body = b"<Error><Code>NoSuchBucket</Code><Message>gone</Message></Error>";
        match s3_error(404, body) {
            ClientError::Status {
                status,
                code,
                message,
            } => assert_eq!(
                (status, code.as_str(), message.as_str()),
                (404, "NoSuchBucket", "gone")
            ),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            s3_error(403, b""),
            ClientError::Status { status: 403, ref code, .. } if code.is_empty()
        ));
    }
}
