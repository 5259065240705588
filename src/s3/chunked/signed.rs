//! `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]` bodies: verifies every chunk signature under
//! the client's key before releasing the chunk, and either decodes to the plain payload or
//! re-signs the chain under our key so the upstream accepts the body as is.

use bytes::Bytes;
use sha2::{Digest as _, Sha256};

use super::buffer::{chunk_buffer, push_bounded, release};
use super::checksum::ChecksumAlgorithm;
use super::error::ChunkError;
use super::parse::{ChunkHeader, Syntax};
use super::sigchain::{put_signature, ChunkSigningContext, SigChain};
use super::stream::{Scheme, Stream};
use crate::s3::sign::signatures_equal;

/// sha256("") as bytes: the data hash of the final, empty chunk.
const EMPTY_SHA256: [u8; 32] = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// Room for a chunk's header line and the CRLFs around its data, on top of the data.
const FRAMING: u64 = 128 + 2 + 2;

/// What a [`SignedChunkDecoder`] releases.
#[derive(Clone, Debug)]
pub enum Output {
    /// The plain payload: forward it as `UNSIGNED-PAYLOAD` (or under its own hash) with
    /// `Content-Length` = `x-amz-decoded-content-length`.
    Decode,
    /// The same aws-chunked body, byte for byte the same length, with every chunk signature
    /// (and the trailer signature) recomputed under this context: our signing key, chained from
    /// the seed signature of our re-signed request. `Content-Length` is unchanged.
    Resign(ChunkSigningContext),
}

/// The chunk being received.
struct Chunk {
    sha: Sha256,
    /// Data (decode) or header line + CRLF + data (resign; CRLF appended once verified).
    buf: Vec<u8>,
    /// Largest `buf` may get.
    limit: usize,
    /// The signature the client sent.
    signature: [u8; 32],
    /// Resign: where the signature's 64 hex digits start in `buf`.
    signature_at: usize,
}

/// Decoder of `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` (and, with
/// [`with_trailer`](Self::with_trailer), `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`) bodies.
///
/// Wire format: each chunk is `hex(size);chunk-signature=<sig>\r\n<data>\r\n`; the final one is
/// `0;chunk-signature=<sig>\r\n\r\n`, or in the trailer variant `0;chunk-signature=<sig>\r\n`
/// followed by `x-amz-checksum-<alg>:<base64>\r\n`, `x-amz-trailer-signature:<sig>\r\n` and
/// `\r\n`. Signatures chain from the seed signature (see [`ChunkSigningContext`]).
///
/// Release rules:
/// - a chunk's data leaves [`feed`](Self::feed) only once the chunk is complete and its
///   signature verified, so one chunk is buffered at a time;
/// - the chunk that completes `x-amz-decoded-content-length` is held back, and released only by
///   [`finish`](Self::finish) once the final chunk (and, in the trailer variant, the trailer
///   signature and checksum) verified: the upstream never sees a complete body whose last
///   signature did not check. (A body whose decoded length is 0 has no data to hold back.)
///
/// Memory: one chunk, framing included ([`with_max_chunk_size`](Self::with_max_chunk_size),
/// 16 MiB by default; SDKs send 64 KiB), plus one line and at most 1 KiB of trailer.
pub struct SignedChunkDecoder {
    stream: Stream,
    chunks: SignedChunks,
}

/// The signed scheme: both signature chains and the chunk being verified.
struct SignedChunks {
    client: SigChain,
    ours: Option<SigChain>,
    chunk_index: u64,
    current: Option<Chunk>,
}

impl SignedChunkDecoder {
    /// A decoder for a body signed under `client` (the client's signing key, the request's
    /// date and scope, and the request's own signature as the seed), whose payload must be
    /// exactly `decoded_content_length` (`x-amz-decoded-content-length`) bytes.
    pub fn new(client: ChunkSigningContext, decoded_content_length: u64, mode: Output) -> Self {
        let ours = match &mode {
            Output::Decode => None,
            Output::Resign(ctx) => Some(SigChain::new(ctx)),
        };
        Self {
            stream: Stream::new(Syntax::Signed, decoded_content_length, ours.is_some()),
            chunks: SignedChunks {
                client: SigChain::new(&client),
                ours,
                chunk_index: 0,
                current: None,
            },
        }
    }

    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: the body ends with the `algorithm`
    /// checksum trailer (named by the request's `x-amz-trailer`) and `x-amz-trailer-signature`,
    /// both verified before the last bytes are released. Call before the first `feed`.
    pub fn with_trailer(mut self, algorithm: ChecksumAlgorithm) -> Self {
        self.stream.expect_trailer(algorithm, true);
        self
    }

    /// Refuse chunks larger than `max` bytes (default 16 MiB) with
    /// [`ChunkError::ChunkTooLarge`]. Call before the first `feed`.
    pub fn with_max_chunk_size(mut self, max: u64) -> Self {
        self.stream.set_max_chunk_size(max);
        self
    }

    /// Feeds the next piece of the client's body; returns what may be sent upstream now
    /// (possibly empty). See the type's docs for what is held back.
    pub fn feed(&mut self, piece: &[u8]) -> Result<Bytes, ChunkError> {
        self.stream.feed(&mut self.chunks, piece)
    }

    /// The end of the client's body: `Ok` with the held-back rest of the output only if the
    /// final chunk arrived and verified (and the trailer, in the trailer variant) and the
    /// decoded length is `x-amz-decoded-content-length`.
    pub fn finish(&mut self) -> Result<Bytes, ChunkError> {
        self.stream.finish(&mut self.chunks)
    }

    /// Trailer variant, after a successful [`finish`](Self::finish): the verified base64
    /// checksum value, e.g. to record it or send it upstream as a header.
    pub fn verified_checksum(&self) -> Option<&str> {
        self.stream.verified_checksum()
    }

    /// Bytes of buffer capacity held right now (for the memory-bound tests).
    #[cfg(test)]
    pub(crate) fn buffered(&self) -> usize {
        self.stream.buffered(&self.chunks)
    }
}

impl Scheme for SignedChunks {
    fn chunk_header(
        &mut self,
        stream: &mut Stream,
        header: ChunkHeader,
        _out: &mut Vec<u8>,
    ) -> Result<(), ChunkError> {
        let (signature, signature_at) = chunk_signature(&header)?;
        let (mut buf, limit) = chunk_buffer(header.size, FRAMING);
        let mut at = 0;
        if stream.mirror() {
            at = signature_at;
            buf.extend_from_slice(&header.line);
            buf.extend_from_slice(b"\r\n");
        }
        self.current = Some(Chunk {
            sha: Sha256::new(),
            buf,
            limit,
            signature,
            signature_at: at,
        });
        Ok(())
    }

    fn chunk_data(
        &mut self,
        _stream: &mut Stream,
        data: &[u8],
        _out: &mut Vec<u8>,
    ) -> Result<(), ChunkError> {
        let Some(chunk) = self.current.as_mut() else {
            return Err(ChunkError::Malformed("chunk data outside a chunk"));
        };
        chunk.sha.update(data);
        push_bounded(&mut chunk.buf, data, chunk.limit);
        Ok(())
    }

    fn chunk_end(&mut self, stream: &mut Stream, out: &mut Vec<u8>) -> Result<(), ChunkError> {
        let Some(chunk) = self.current.take() else {
            return Err(ChunkError::Malformed("chunk end outside a chunk"));
        };
        let hash: [u8; 32] = chunk.sha.finalize().into();
        let ours = self.verify_chunk(&hash, &chunk.signature)?;
        let mut buf = chunk.buf;
        if let Some(ours) = ours {
            put_signature(&mut buf, chunk.signature_at, &ours);
            push_bounded(&mut buf, b"\r\n", chunk.limit);
        }
        if stream.completing() {
            // The chunk that completes the payload: held until `finish` verified the end.
            stream.held = buf;
        } else {
            release(out, buf);
        }
        Ok(())
    }

    fn final_header(&mut self, header: ChunkHeader) -> Result<Vec<u8>, ChunkError> {
        let (signature, signature_at) = chunk_signature(&header)?;
        let mut line = header.line;
        if let Some(ours) = self.verify_chunk(&EMPTY_SHA256, &signature)? {
            put_signature(&mut line, signature_at, &ours);
        }
        Ok(line)
    }

    fn trailer_chains(&self) -> (Option<&SigChain>, Option<&SigChain>) {
        (Some(&self.client), self.ours.as_ref())
    }

    fn clear(&mut self) {
        self.current = None;
    }

    #[cfg(test)]
    fn buffered(&self) -> usize {
        self.current.as_ref().map_or(0, |c| c.buf.capacity())
    }
}

impl SignedChunks {
    /// Checks the next chunk's signature against the client chain and moves both chains on;
    /// returns our signature for the chunk when re-signing.
    fn verify_chunk(
        &mut self,
        data_sha256: &[u8; 32],
        sent: &[u8; 32],
    ) -> Result<Option<[u8; 32]>, ChunkError> {
        let expected = self.client.chunk_signature(data_sha256);
        if !signatures_equal(&expected, sent) {
            return Err(ChunkError::SignatureMismatch {
                chunk_index: self.chunk_index,
            });
        }
        self.client.advance(expected);
        let ours = self.ours.as_mut().map(|chain| {
            let sig = chain.chunk_signature(data_sha256);
            chain.advance(sig);
            sig
        });
        self.chunk_index += 1;
        Ok(ours)
    }
}

/// The signature a chunk header carries, and where its 64 hex digits start in the line.
fn chunk_signature(header: &ChunkHeader) -> Result<([u8; 32], usize), ChunkError> {
    header
        .signature
        .ok_or(ChunkError::Malformed("chunk header has no chunk-signature"))
}
