//! Why an aws-chunked body was refused, and the S3 error each reason is answered with, so the
//! frontend can reply the way S3 itself would.

use std::fmt;

use super::checksum::ChecksumAlgorithm;

/// Why an aws-chunked body was refused.
///
/// Once a decoder has returned an error it is poisoned: every later `feed` or `finish` returns
/// the same error again, and nothing more is ever released.
///
/// | variant | [`s3_code`](Self::s3_code) | [`http_status`](Self::http_status) |
/// | --- | --- | --- |
/// | `Malformed` | `InvalidRequest` | 400 |
/// | `ChunkTooLarge` | `InvalidRequest` | 400 |
/// | `SignatureMismatch`, `TrailerSignatureMismatch` | `SignatureDoesNotMatch` | 403 |
/// | `LengthMismatch` (fewer bytes than declared) | `IncompleteBody` | 400 |
/// | `LengthMismatch` (more bytes than declared) | `InvalidRequest` | 400 |
/// | `ChecksumMismatch` | `BadDigest` | 400 |
/// | `MalformedTrailer` | `MalformedTrailerError` | 400 |
/// | `Truncated` | `IncompleteBody` | 400 |
///
/// These are the codes S3 documents for the same failures: `BadDigest` for an
/// `x-amz-checksum-*` value that does not match the data, `MalformedTrailerError` for trailing
/// headers that are missing or do not parse, `IncompleteBody` for a body that ends early.
/// S3 has no dedicated code for broken chunk framing or for more data than
/// `x-amz-decoded-content-length` declares; `InvalidRequest` is its generic 400.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChunkError {
    /// The chunk framing does not parse (bad hex size, missing CRLF, bytes after the end, ...).
    Malformed(&'static str),
    /// A chunk header line is longer than the line cap, or a chunk is larger than the
    /// decoder's maximum chunk size.
    ChunkTooLarge {
        /// The maximum chunk size in force, in bytes.
        limit: u64,
    },
    /// The signature of chunk `chunk_index` (0-based; the final 0-size chunk counts too) does
    /// not match its data under the client's key and the signature chain.
    SignatureMismatch {
        /// 0-based index of the failing chunk.
        chunk_index: u64,
    },
    /// `x-amz-trailer-signature` does not match the trailing headers.
    TrailerSignatureMismatch,
    /// The chunks do not add up to `x-amz-decoded-content-length`.
    LengthMismatch {
        /// `x-amz-decoded-content-length`.
        expected: u64,
        /// The decoded length found: the total at the final chunk when short, or the total
        /// including the first chunk that overshoots.
        got: u64,
    },
    /// The trailing `x-amz-checksum-*` value does not match the decoded payload.
    ChecksumMismatch {
        /// The algorithm named by `x-amz-trailer`.
        algorithm: ChecksumAlgorithm,
    },
    /// The trailing headers are missing, unexpected, duplicated or do not parse.
    MalformedTrailer(&'static str),
    /// The body ended before the final chunk (and its trailers) arrived.
    Truncated,
}

impl ChunkError {
    /// The S3 error code to answer with (see the table on [`ChunkError`]).
    pub fn s3_code(&self) -> &'static str {
        match self {
            ChunkError::Malformed(_) | ChunkError::ChunkTooLarge { .. } => "InvalidRequest",
            ChunkError::SignatureMismatch { .. } | ChunkError::TrailerSignatureMismatch => {
                "SignatureDoesNotMatch"
            }
            ChunkError::LengthMismatch { expected, got } if got > expected => "InvalidRequest",
            ChunkError::LengthMismatch { .. } | ChunkError::Truncated => "IncompleteBody",
            ChunkError::ChecksumMismatch { .. } => "BadDigest",
            ChunkError::MalformedTrailer(_) => "MalformedTrailerError",
        }
    }

    /// The HTTP status that goes with [`s3_code`](Self::s3_code): 403 for a signature
    /// mismatch, 400 otherwise.
    pub fn http_status(&self) -> u16 {
        match self {
            ChunkError::SignatureMismatch { .. } | ChunkError::TrailerSignatureMismatch => 403,
            _ => 400,
        }
    }
}

impl fmt::Display for ChunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChunkError::Malformed(why) => write!(f, "malformed aws-chunked body: {why}"),
            ChunkError::ChunkTooLarge { limit } => {
                write!(
                    f,
                    "aws-chunked chunk or chunk header exceeds the {limit}-byte chunk limit"
                )
            }
            ChunkError::SignatureMismatch { chunk_index } => {
                write!(
                    f,
                    "signature of aws-chunked chunk {chunk_index} does not match"
                )
            }
            ChunkError::TrailerSignatureMismatch => {
                write!(
                    f,
                    "x-amz-trailer-signature does not match the trailing headers"
                )
            }
            ChunkError::LengthMismatch { expected, got } => write!(
                f,
                "decoded body length {got} does not match x-amz-decoded-content-length {expected}"
            ),
            ChunkError::ChecksumMismatch { algorithm } => write!(
                f,
                "the {} you specified did not match the calculated checksum",
                algorithm.sdk_name()
            ),
            ChunkError::MalformedTrailer(why) => write!(f, "malformed trailing headers: {why}"),
            ChunkError::Truncated => write!(f, "the aws-chunked body ended before its final chunk"),
        }
    }
}

impl std::error::Error for ChunkError {}
