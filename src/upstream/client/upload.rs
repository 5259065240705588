//! Uploads whose body is not in memory: streamed with a known length, and of unknown length as
//! a multipart upload buffered one part at a time; plus the multipart calls themselves, which
//! the multipart copy of [`super::ops`] shares.
//!
//! The body comes from a [`Source`], pulled piece by piece, so memory stays constant whatever
//! the size: a streamed PutObject holds one piece at a time, an upload of unknown length one
//! part of [`PART_SIZE`]. A multipart upload that fails at any step is aborted, so no parts
//! are left behind.

use async_trait::async_trait;
use bucketgate_plugin::Operation;
use bytes::{Bytes, BytesMut};
use pingora_error::Error;

use super::download::StreamedBody;
use super::ops::{expect, malformed, parse_result, put_object_call, query_value, MAX_ERROR_BODY};
use super::{Bucket, Call, ClientError, Touch};
use crate::s3::results::{self, CompletedPart};
use crate::s3::UNSIGNED_PAYLOAD;

/// The part size of an upload of unknown length (one part is held in memory at a time).
pub const PART_SIZE: usize = 8 << 20;
/// The part size of a multipart copy.
pub const COPY_PART_SIZE: u64 = 512 << 20;
/// The most parts one multipart upload may have (S3's limit).
pub const MAX_PARTS: u32 = 10_000;
/// Past this many bytes, the part being filled is given its full size at once.
const GROW_AT: usize = 64 << 10;

/// Where an upload's body comes from: a client's request body, a file, a generator.
#[async_trait]
pub trait Source: Send {
    /// The next piece of the body; `None` at its end.
    async fn next(&mut self) -> Result<Option<Bytes>, Box<Error>>;
}

impl Bucket<'_> {
    /// PutObject of exactly `length` bytes streamed from `source`, signed `UNSIGNED-PAYLOAD`,
    /// with `headers`. It is not retried once a body byte was taken from `source`; a source
    /// that fails or gives another length than `length` abandons the upload
    /// ([`ClientError::Source`]) and nothing is stored. Returns the new object's ETag.
    pub async fn put_stream(
        &self,
        key: &str,
        length: u64,
        source: &mut dyn Source,
        headers: Vec<(&'static str, String)>,
    ) -> Result<String, ClientError> {
        let mut call = put_object_call(key);
        call.headers = headers;
        let body = StreamedBody { source, length };
        let mut answer = self.stream(&call, UNSIGNED_PAYLOAD, Some(body)).await?;
        let text = answer.read_all(MAX_ERROR_BODY).await?;
        if answer.status != 200 {
            return Err(super::ops::s3_error(answer.status, &text));
        }
        Ok(answer.header("etag").unwrap_or_default().to_owned())
    }

    /// Uploads `source`, of a length not known in advance, to `key` with `headers`: a body
    /// shorter than one [`PART_SIZE`] as one PutObject, anything longer as a multipart upload of
    /// parts of [`PART_SIZE`] (each signed with its SHA-256, so retried like any in-memory
    /// call), aborted if anything fails. At most [`MAX_PARTS`] parts. Returns the ETag (empty
    /// when the upstream gave none, see [`Bucket::complete_multipart`]).
    pub async fn put_unknown_length(
        &self,
        key: &str,
        source: &mut dyn Source,
        headers: Vec<(&'static str, String)>,
    ) -> Result<String, ClientError> {
        // Refused before anything is read from the source.
        (self.guard)
            .check(self.bucket, &Touch::key(Operation::Write, key))
            .map_err(ClientError::Denied)?;
        let mut parts = Parts {
            source,
            carry: Bytes::new(),
            ended: false,
        };
        let first = parts.fill().await?;
        if parts.exhausted() {
            return self.put(key, first, headers).await;
        }
        let upload_id = self.create_multipart(key, headers).await?;
        let uploaded = async {
            let mut done = Vec::new();
            let mut part = first;
            loop {
                let number = done.len() as u32 + 1;
                if number > MAX_PARTS {
                    return Err(ClientError::TooLarge("an upload of unknown length"));
                }
                let etag = self.upload_part(key, &upload_id, number, part).await?;
                done.push(CompletedPart { number, etag });
                if parts.exhausted() {
                    break;
                }
                part = parts.fill().await?;
                // A body that ends on a part boundary leaves an empty last part: not sent.
                if part.is_empty() {
                    break;
                }
            }
            self.complete_multipart(key, &upload_id, &done).await
        }
        .await;
        self.abort_on_error(key, &upload_id, uploaded).await
    }

    /// CreateMultipartUpload of `key` with `headers` (`content-type`, ...): the upload id.
    pub async fn create_multipart(
        &self,
        key: &str,
        headers: Vec<(&'static str, String)>,
    ) -> Result<String, ClientError> {
        let mut call = Call::new(
            "CreateMultipartUpload",
            http::Method::POST,
            key,
            "uploads",
            Touch::key(Operation::Write, key),
        );
        call.headers = headers;
        let response = expect(self.send(&call, MAX_ERROR_BODY).await?, &[200])?;
        results::parse_upload_id(&response.body).map_err(malformed)
    }

    /// UploadPart `number` (from 1) of `body`, signed with its SHA-256: the part's ETag.
    pub async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        body: Bytes,
    ) -> Result<String, ClientError> {
        let query = part_query(upload_id, number);
        let call = Call::new(
            "UploadPart",
            http::Method::PUT,
            key,
            &query,
            Touch::key(Operation::Write, key),
        )
        .body(body);
        let response = expect(self.send(&call, MAX_ERROR_BODY).await?, &[200])?;
        (response.header("etag"))
            .map(str::to_owned)
            .ok_or_else(|| malformed("UploadPart without an ETag"))
    }

    /// UploadPartCopy `number` of `dst_key`'s upload from `src_key` in this bucket: its bytes
    /// `range` (first and last, inclusive), or all of it. The part's ETag.
    pub async fn upload_part_copy(
        &self,
        src_key: &str,
        dst_key: &str,
        upload_id: &str,
        number: u32,
        range: Option<(u64, u64)>,
    ) -> Result<String, ClientError> {
        let query = part_query(upload_id, number);
        let mut call = Call::new(
            "UploadPartCopy",
            http::Method::PUT,
            dst_key,
            &query,
            Touch::key(Operation::Write, dst_key),
        )
        .touch(Touch::key(Operation::Read, src_key))
        .header("x-amz-copy-source", self.copy_source(src_key));
        if let Some((first, last)) = range {
            call = call.header("x-amz-copy-source-range", format!("bytes={first}-{last}"));
        }
        let response = self.send(&call, MAX_ERROR_BODY).await?;
        let etag = parse_result(&expect(response, &[200])?, "CopyPartResult")?;
        if etag.is_empty() {
            // CompleteMultipartUpload needs it.
            return Err(malformed("UploadPartCopy without an ETag"));
        }
        Ok(etag)
    }

    /// CompleteMultipartUpload of `key` from `parts` (in order): the object's ETag, empty when
    /// the upstream gave none (Ceph RGW 16 does not; a HEAD has it).
    pub async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
    ) -> Result<String, ClientError> {
        let query = format!("uploadId={}", query_value(upload_id));
        let call = Call::new(
            "CompleteMultipartUpload",
            http::Method::POST,
            key,
            &query,
            Touch::key(Operation::Write, key),
        )
        .header("content-type", "application/xml")
        .body(results::complete_xml(parts).into());
        let response = self.send(&call, MAX_ERROR_BODY).await?;
        parse_result(&expect(response, &[200])?, "CompleteMultipartUploadResult")
    }

    /// AbortMultipartUpload of `key`'s upload `upload_id`; an upload already gone is fine.
    pub async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), ClientError> {
        let query = format!("uploadId={}", query_value(upload_id));
        let call = Call::new(
            "AbortMultipartUpload",
            http::Method::DELETE,
            key,
            &query,
            Touch::key(Operation::Write, key),
        );
        expect(self.send(&call, MAX_ERROR_BODY).await?, &[200, 204, 404])?;
        Ok(())
    }

    /// `result` of the multipart upload `upload_id`; when it failed, the upload is aborted
    /// first (a failed abort is logged: the failure reported is the upload's).
    pub(super) async fn abort_on_error<T>(
        &self,
        key: &str,
        upload_id: &str,
        result: Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        if result.is_err() {
            if let Err(e) = self.abort_multipart(key, upload_id).await {
                log::warn!(
                    "upstream {}: aborting the multipart upload of {}:{key:?} failed, its parts stay until the bucket's lifecycle removes them: {e}",
                    self.pool.name,
                    self.bucket
                );
            }
        }
        result
    }
}

/// `partNumber=N&uploadId=ID`.
fn part_query(upload_id: &str, number: u32) -> String {
    format!("partNumber={number}&uploadId={}", query_value(upload_id))
}

/// A source cut into parts of [`PART_SIZE`].
struct Parts<'s> {
    source: &'s mut dyn Source,
    /// What the last piece had beyond the previous part.
    carry: Bytes,
    /// The source has ended (after the part last filled).
    ended: bool,
}

impl Parts<'_> {
    /// Nothing is left to upload.
    fn exhausted(&self) -> bool {
        self.ended && self.carry.is_empty()
    }

    /// The next part: [`PART_SIZE`] bytes, or fewer when the source ended (empty only then).
    async fn fill(&mut self) -> Result<Bytes, ClientError> {
        let mut part = BytesMut::new();
        loop {
            let room = PART_SIZE - part.len();
            if self.carry.len() >= room {
                let head = self.carry.split_to(room);
                if part.is_empty() {
                    return Ok(head);
                }
                part.extend_from_slice(&head);
                return Ok(part.freeze());
            }
            // Small bodies stay small; a large one gets its whole part at once (no doubling
            // past it).
            if part.capacity() < PART_SIZE && part.len() + self.carry.len() > GROW_AT {
                part.reserve(PART_SIZE - part.len());
            }
            part.extend_from_slice(&std::mem::take(&mut self.carry));
            if self.ended {
                return Ok(part.freeze());
            }
            match self.source.next().await.map_err(ClientError::Source)? {
                Some(piece) => self.carry = piece,
                None => self.ended = true,
            }
        }
    }
}
