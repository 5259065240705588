//! How an S3 request's body travels upstream, decided from the payload hash the client signed:
//!
//! | client `x-amz-content-sha256` | upstream |
//! |---|---|
//! | a SHA-256 | the body as is, signed with that hash: the upstream rejects a body that differs |
//! | `UNSIGNED-PAYLOAD` | the body as is, `UNSIGNED-PAYLOAD` |
//! | `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]` | every chunk signature verified under the client's key, decoded to the plain payload (`Content-Length` = `x-amz-decoded-content-length`) |
//! | `STREAMING-UNSIGNED-PAYLOAD-TRAILER` | forwarded as aws-chunked, or decoded when the pool's `aws_chunked_trailer` says so or the client sent no `Content-Length`; the trailing checksum is checked either way |
//!
//! A decoder holds back the chunk that completes the payload until the last signature or the
//! checksum verified, so a forged or truncated body never forms a complete object upstream.

use bytes::Bytes;
use http::HeaderMap;
use pingora_http::RequestHeader;

use super::error::S3Error;
use super::plan::header_str;
use crate::s3::chunked::{
    ChecksumAlgorithm, ChunkError, ChunkSigningContext, Output, SignedChunkDecoder, UnsignedOutput,
    UnsignedTrailerDecoder,
};
use crate::s3::verify::{PayloadHash, Verified};
use crate::s3::UNSIGNED_PAYLOAD;

const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

/// Headers that describe an aws-chunked body; gone once it is decoded.
const CHUNKED_HEADERS: &[&str] = &[
    "x-amz-decoded-content-length",
    "x-amz-trailer",
    "x-amz-sdk-checksum-algorithm",
    "transfer-encoding",
];

/// The payload hash to sign upstream, and what happens to the body on the way.
pub struct BodyPlan {
    pub payload_hash: String,
    pub mode: BodyMode,
}

pub enum BodyMode {
    /// Forward the body and its headers unchanged.
    AsIs,
    /// Decode aws-chunked to the plain payload of this length.
    Decode { length: u64, decoder: Decoder },
    /// Forward aws-chunked unchanged, checking the trailing checksum on the way.
    CheckTrailer(Box<UnsignedTrailerDecoder>),
}

pub enum Decoder {
    Signed(Box<SignedChunkDecoder>),
    Unsigned(Box<UnsignedTrailerDecoder>),
}

/// Decides the body plan. `has_body`: the operation sends one (PutObject, UploadPart...);
/// `decode_trailers`: the pool's `aws_chunked_trailer` setting.
pub fn plan<I>(
    headers: &HeaderMap,
    verified: &Verified<I>,
    has_body: bool,
    decode_trailers: bool,
) -> Result<BodyPlan, S3Error> {
    let content_length = header_str(headers, "content-length");
    let as_is = |hash: &str| -> Result<BodyPlan, S3Error> {
        if has_body && content_length.is_none() {
            return Err(S3Error::new(
                411,
                "MissingContentLength",
                "You must provide the Content-Length HTTP header.",
            ));
        }
        Ok(BodyPlan {
            payload_hash: hash.to_string(),
            mode: BodyMode::AsIs,
        })
    };
    let decoded_length = || {
        verified.decoded_content_length.ok_or_else(|| {
            S3Error::new(
                411,
                "MissingContentLength",
                "You must provide the x-amz-decoded-content-length HTTP header.",
            )
        })
    };
    match &verified.payload_hash {
        PayloadHash::Unsigned => as_is(UNSIGNED_PAYLOAD),
        PayloadHash::Sha256(hash) => as_is(hash),
        PayloadHash::StreamingSigned | PayloadHash::StreamingSignedTrailer => {
            let length = decoded_length()?;
            let context = ChunkSigningContext::new(
                *verified.signing_key.as_bytes(),
                verified.timestamp.as_str(),
                verified.scope.to_scope_string(),
                &verified.seed_signature,
            )
            .ok_or_else(|| S3Error::internal("seed signature is not 64 hex digits"))?;
            let mut decoder = SignedChunkDecoder::new(context, length, Output::Decode);
            if verified.payload_hash == PayloadHash::StreamingSignedTrailer {
                decoder = decoder.with_trailer(trailer(headers)?);
            }
            Ok(BodyPlan {
                payload_hash: UNSIGNED_PAYLOAD.into(),
                mode: BodyMode::Decode {
                    length,
                    decoder: Decoder::Signed(Box::new(decoder)),
                },
            })
        }
        PayloadHash::StreamingUnsignedTrailer => {
            let length = decoded_length()?;
            let decoder = UnsignedTrailerDecoder::new(trailer(headers)?, length);
            if decode_trailers || content_length.is_none() {
                Ok(BodyPlan {
                    payload_hash: UNSIGNED_PAYLOAD.into(),
                    mode: BodyMode::Decode {
                        length,
                        decoder: Decoder::Unsigned(Box::new(decoder)),
                    },
                })
            } else {
                Ok(BodyPlan {
                    payload_hash: STREAMING_UNSIGNED_TRAILER.into(),
                    mode: BodyMode::CheckTrailer(Box::new(
                        decoder.with_output(UnsignedOutput::Passthrough),
                    )),
                })
            }
        }
    }
}

/// The checksum algorithm `x-amz-trailer` names.
fn trailer(headers: &HeaderMap) -> Result<ChecksumAlgorithm, S3Error> {
    header_str(headers, "x-amz-trailer")
        .and_then(ChecksumAlgorithm::from_trailer_name)
        .ok_or_else(|| {
            S3Error::new(
                400,
                "InvalidRequest",
                "x-amz-trailer must name one checksum: x-amz-checksum-crc32, -crc32c, \
                 -crc64nvme, -sha1 or -sha256",
            )
        })
}

impl BodyPlan {
    /// Adjusts the (already filtered) upstream headers to the body that will be sent.
    pub fn edit_headers(&self, req: &mut RequestHeader) -> pingora_error::Result<()> {
        match &self.mode {
            BodyMode::AsIs => {}
            BodyMode::Decode { length, .. } => {
                for name in CHUNKED_HEADERS {
                    req.remove_header(*name);
                }
                req.insert_header("content-length", length.to_string())?;
            }
            BodyMode::CheckTrailer(_) => {
                // The header filter took `aws-chunked` out of Content-Encoding; it describes
                // the body that is still sent.
                let rest = header_str(&req.headers, "content-encoding")
                    .map(|v| format!("aws-chunked, {v}"))
                    .unwrap_or_else(|| "aws-chunked".into());
                req.insert_header("content-encoding", rest)?;
            }
        }
        Ok(())
    }

    /// Passes one piece of the client's body through the decoder, if any. `Err`: the body is
    /// forged, truncated or malformed; the upload must be aborted.
    pub fn body_filter(&mut self, body: &mut Option<Bytes>, end: bool) -> Result<(), ChunkError> {
        let decoder: &mut dyn ChunkFilter = match &mut self.mode {
            BodyMode::AsIs => return Ok(()),
            BodyMode::Decode {
                decoder: Decoder::Signed(d),
                ..
            } => d.as_mut(),
            BodyMode::Decode {
                decoder: Decoder::Unsigned(d),
                ..
            }
            | BodyMode::CheckTrailer(d) => d.as_mut(),
        };
        let piece = body.take().unwrap_or_default();
        let mut out = decoder.feed(&piece)?;
        if end {
            let tail = decoder.finish()?;
            if !tail.is_empty() {
                out = if out.is_empty() {
                    tail
                } else {
                    [out, tail].concat().into()
                };
            }
        }
        *body = Some(out);
        Ok(())
    }
}

/// The two decoders, fed alike.
trait ChunkFilter {
    fn feed(&mut self, piece: &[u8]) -> Result<Bytes, ChunkError>;
    fn finish(&mut self) -> Result<Bytes, ChunkError>;
}

impl ChunkFilter for SignedChunkDecoder {
    fn feed(&mut self, piece: &[u8]) -> Result<Bytes, ChunkError> {
        SignedChunkDecoder::feed(self, piece)
    }
    fn finish(&mut self) -> Result<Bytes, ChunkError> {
        SignedChunkDecoder::finish(self)
    }
}

impl ChunkFilter for UnsignedTrailerDecoder {
    fn feed(&mut self, piece: &[u8]) -> Result<Bytes, ChunkError> {
        UnsignedTrailerDecoder::feed(self, piece)
    }
    fn finish(&mut self) -> Result<Bytes, ChunkError> {
        UnsignedTrailerDecoder::finish(self)
    }
}
