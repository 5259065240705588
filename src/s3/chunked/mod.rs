//! Streaming processors for `Content-Encoding: aws-chunked` request bodies, so the frontend can
//! accept what S3 SDKs upload without ever letting an unverified chunk reach storage
//! (DESIGN.md §3, "aws-chunked").
//!
//! - [`SignedChunkDecoder`]: `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` and
//!   `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER` (minio-go, the Java v1 SDK, ...). Every chunk
//!   signature is chained from the request's own signature, so such a body cannot be forwarded
//!   after re-signing the request: each chunk is verified under the client's key, then either
//!   decoded to the plain payload ([`Output::Decode`]) or re-signed under ours
//!   ([`Output::Resign`], same length, so `Content-Length` is unchanged).
//! - [`UnsignedTrailerDecoder`]: `STREAMING-UNSIGNED-PAYLOAD-TRAILER` (awscli, boto3 over
//!   HTTPS): checks the trailing `x-amz-checksum-*` against the payload, and decodes it or
//!   passes the body through unchanged ([`UnsignedOutput`]).
//!
//! Both are pure and synchronous, fed piece by piece (split anywhere) as Pingora's
//! `request_body_filter` sees the body, and buffer at most one chunk plus a line. What `feed`
//! returns may go upstream at once; the chunk that completes the payload is held back and only
//! [`finish`](SignedChunkDecoder::finish), called at the end of the body, releases it, after the
//! last signature or checksum checked. In the filter:
//!
//! ```ignore
//! let out = decoder.feed(body.as_deref().unwrap_or_default())?; // Err: answer e.s3_code()
//! let out = if end_of_stream { [out, decoder.finish()?].concat().into() } else { out };
//! *body = Some(out); // may be empty: holds data back
//! ```
//!
//! Errors map to S3 error codes with [`ChunkError::s3_code`]. After an error a decoder is
//! poisoned (returns the same error forever); the request must then be aborted, upstream
//! included, so that the bytes already released never form a complete object.

mod buffer;
mod checksum;
mod error;
mod parse;
mod sigchain;
mod signed;
mod stream;
mod trailer;
mod unsigned;

#[cfg(test)]
mod tests;

pub use checksum::ChecksumAlgorithm;
pub use error::ChunkError;
pub use sigchain::ChunkSigningContext;
pub use signed::{Output, SignedChunkDecoder};
pub use unsigned::{UnsignedOutput, UnsignedTrailerDecoder};

/// Default largest chunk either decoder accepts: 16 MiB (the SDKs send 64 KiB chunks; boto3's
/// unsigned chunks are up to 1 MiB).
pub const DEFAULT_MAX_CHUNK_SIZE: u64 = 16 * 1024 * 1024;
