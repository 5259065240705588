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
//!
//! What a decoder holds counts against the process's buffer budget
//! ([`crate::limit::memory`]): past it the upload is refused with `503 SlowDown` before the
//! piece is taken in, and nothing is stored. The decoders do not say what they hold, so
//! [`HeldChunk`] bounds it from outside: at most what was fed since the decoder last let
//! bytes out (a decoder lets out only whole verified chunks, or streams its chunk on, so
//! once bytes come out it holds at most the rest of the last piece).

use bytes::Bytes;
use http::HeaderMap;
use pingora_http::RequestHeader;

use super::error::S3Error;
use super::plan::header_str;
use crate::limit::memory::Reservation;
use crate::reply::Refusal;
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
    /// What the decoder may hold, counted against the buffer budget.
    held: HeldChunk,
}

/// A bound on what an aws-chunked decoder holds, reserved from the buffer budget.
#[derive(Debug, Default)]
struct HeldChunk {
    /// Bytes fed since the decoder last let bytes out: it holds no more than these.
    since: usize,
    reservation: Reservation,
}

impl HeldChunk {
    /// Reserves room for `piece` on top of what may be held already, before it is fed.
    fn before(&mut self, piece: usize) -> Result<(), crate::limit::Refusal> {
        self.reservation.resize(self.since.saturating_add(piece))
    }

    /// After feeding `piece` and getting `out` back: what may still be held.
    fn after(&mut self, piece: usize, out: usize) {
        self.since = if out == 0 {
            self.since.saturating_add(piece)
        } else {
            piece
        };
        // Shrinking always succeeds.
        let _ = self.reservation.resize(self.since);
    }

    /// The body is over: nothing is held.
    fn done(&mut self) {
        self.since = 0;
        let _ = self.reservation.resize(0);
    }
}

/// Why an upload stopped mid-body.
#[derive(Debug)]
pub enum BodyRefused {
    /// The body is forged, truncated or malformed.
    Chunk(ChunkError),
    /// The buffer budget is spent: the client should come back shortly.
    Busy(crate::limit::Refusal),
}

impl From<ChunkError> for BodyRefused {
    fn from(e: ChunkError) -> BodyRefused {
        BodyRefused::Chunk(e)
    }
}

impl std::fmt::Display for BodyRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyRefused::Chunk(e) => write!(f, "{e}"),
            BodyRefused::Busy(_) => {
                f.write_str("the buffer budget (limits.buffer_memory) is spent")
            }
        }
    }
}

impl From<BodyRefused> for Refusal {
    /// A bad body in S3's terms; a spent budget as a limit (`503 SlowDown`, `Retry-After`).
    fn from(e: BodyRefused) -> Refusal {
        match e {
            BodyRefused::Chunk(e) => Refusal::from(S3Error::from(e)),
            BodyRefused::Busy(limit) => Refusal::limited(&limit),
        }
    }
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
            held: HeldChunk::default(),
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
                held: HeldChunk::default(),
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
                    held: HeldChunk::default(),
                })
            } else {
                Ok(BodyPlan {
                    payload_hash: STREAMING_UNSIGNED_TRAILER.into(),
                    mode: BodyMode::CheckTrailer(Box::new(
                        decoder.with_output(UnsignedOutput::Passthrough),
                    )),
                    held: HeldChunk::default(),
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
    /// forged, truncated or malformed, or the buffer budget cannot hold the piece; the upload
    /// must be aborted.
    pub fn body_filter(&mut self, body: &mut Option<Bytes>, end: bool) -> Result<(), BodyRefused> {
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
        self.held.before(piece.len()).map_err(BodyRefused::Busy)?;
        let mut out = decoder.feed(&piece)?;
        self.held.after(piece.len(), out.len());
        if end {
            self.held.done();
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
