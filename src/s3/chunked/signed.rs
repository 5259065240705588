//! `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]` bodies: verifies every chunk signature under
//! the client's key before releasing the chunk, and either decodes to the plain payload or
//! re-signs the chain under our key so the upstream accepts the body as is.

use bytes::Bytes;
use sha2::{Digest as _, Sha256};

use super::buffer::{push_bounded, release};
use super::checksum::{ChecksumAlgorithm, Checksummer};
use super::error::ChunkError;
use super::parse::{ChunkHeader, Event, Framer, Syntax};
use super::sigchain::{signature_hex, signatures_equal, ChunkSigningContext, SigChain};
use super::trailer::TrailerSection;
use super::DEFAULT_MAX_CHUNK_SIZE;

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
    framer: Framer,
    client: SigChain,
    ours: Option<SigChain>,
    expected: u64,
    decoded: u64,
    chunk_index: u64,
    current: Option<Chunk>,
    /// The verified chunk that completed the payload, framing included when re-signing.
    held: Vec<u8>,
    /// Resign: the final chunk's header line (and the blank line after it).
    tail: Vec<u8>,
    /// Trailer variant: the trailing headers and the checksum being computed.
    trailer: Option<(TrailerSection, Checksummer)>,
    blank_seen: bool,
    verified_checksum: Option<String>,
    error: Option<ChunkError>,
    done: bool,
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
            framer: Framer::new(Syntax::Signed, DEFAULT_MAX_CHUNK_SIZE),
            client: SigChain::new(&client),
            ours,
            expected: decoded_content_length,
            decoded: 0,
            chunk_index: 0,
            current: None,
            held: Vec::new(),
            tail: Vec::new(),
            trailer: None,
            blank_seen: false,
            verified_checksum: None,
            error: None,
            done: false,
        }
    }

    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: the body ends with the `algorithm`
    /// checksum trailer (named by the request's `x-amz-trailer`) and `x-amz-trailer-signature`,
    /// both verified before the last bytes are released. Call before the first `feed`.
    pub fn with_trailer(mut self, algorithm: ChecksumAlgorithm) -> Self {
        let section = TrailerSection::new(algorithm, true, self.ours.is_some());
        self.trailer = Some((section, algorithm.hasher()));
        self
    }

    /// Refuse chunks larger than `max` bytes (default 16 MiB) with
    /// [`ChunkError::ChunkTooLarge`]. Call before the first `feed`.
    pub fn with_max_chunk_size(mut self, max: u64) -> Self {
        self.framer = Framer::new(Syntax::Signed, max);
        self
    }

    /// Feeds the next piece of the client's body; returns what may be sent upstream now
    /// (possibly empty). See the type's docs for what is held back.
    pub fn feed(&mut self, piece: &[u8]) -> Result<Bytes, ChunkError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.done {
            if piece.is_empty() {
                return Ok(Bytes::new());
            }
            return self.fail(ChunkError::Malformed("data after the end of the body"));
        }
        let mut out = Vec::new();
        match self.feed_inner(piece, &mut out) {
            Ok(()) => Ok(Bytes::from(out)),
            Err(e) => self.fail(e),
        }
    }

    /// The end of the client's body: `Ok` with the held-back rest of the output only if the
    /// final chunk arrived and verified (and the trailer, in the trailer variant) and the
    /// decoded length is `x-amz-decoded-content-length`.
    pub fn finish(&mut self) -> Result<Bytes, ChunkError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.done {
            return Ok(Bytes::new());
        }
        match self.finish_inner() {
            Ok(out) => {
                self.done = true;
                Ok(Bytes::from(out))
            }
            Err(e) => self.fail(e),
        }
    }

    /// Trailer variant, after a successful [`finish`](Self::finish): the verified base64
    /// checksum value, e.g. to record it or send it upstream as a header.
    pub fn verified_checksum(&self) -> Option<&str> {
        self.verified_checksum.as_deref()
    }

    /// Bytes of buffer capacity held right now (for the memory-bound tests).
    #[cfg(test)]
    pub(crate) fn buffered(&self) -> usize {
        self.current.as_ref().map_or(0, |c| c.buf.capacity())
            + self.held.capacity()
            + self.tail.capacity()
            + self.framer.buffered()
    }

    fn fail(&mut self, e: ChunkError) -> Result<Bytes, ChunkError> {
        self.current = None;
        self.held = Vec::new();
        self.tail = Vec::new();
        self.trailer = None;
        self.error = Some(e.clone());
        Err(e)
    }

    fn feed_inner(&mut self, mut piece: &[u8], out: &mut Vec<u8>) -> Result<(), ChunkError> {
        while let Some(event) = self.framer.next(&mut piece)? {
            match event {
                Event::Header(header) => self.on_header(header)?,
                Event::Data(data) => {
                    let Some(chunk) = self.current.as_mut() else {
                        return Err(ChunkError::Malformed("chunk data outside a chunk"));
                    };
                    chunk.sha.update(data);
                    push_bounded(&mut chunk.buf, data, chunk.limit);
                    if let Some((_, sum)) = self.trailer.as_mut() {
                        sum.update(data);
                    }
                }
                Event::DataEnd => self.on_chunk_end(out)?,
                Event::TrailerLine(line) => self.on_trailer_line(&line)?,
            }
        }
        Ok(())
    }

    fn on_header(&mut self, header: ChunkHeader) -> Result<(), ChunkError> {
        let Some((signature, signature_at)) = header.signature else {
            return Err(ChunkError::Malformed("chunk header has no chunk-signature"));
        };
        if header.size == 0 {
            if self.decoded != self.expected {
                return Err(ChunkError::LengthMismatch {
                    expected: self.expected,
                    got: self.decoded,
                });
            }
            let ours = self.verify_chunk(&EMPTY_SHA256, &signature)?;
            if let Some(ours) = ours {
                self.tail = resigned_line(header.line, signature_at, &ours);
                self.tail.extend_from_slice(b"\r\n");
            }
            return Ok(());
        }
        let total = self.decoded.saturating_add(header.size);
        if total > self.expected {
            return Err(ChunkError::LengthMismatch {
                expected: self.expected,
                got: total,
            });
        }
        self.decoded = total;
        // The framer refused sizes over the maximum chunk size.
        let limit = usize::try_from(header.size.saturating_add(FRAMING)).unwrap_or(usize::MAX);
        let mut buf = Vec::with_capacity(limit.min(64 * 1024));
        let mut at = 0;
        if self.ours.is_some() {
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

    fn on_chunk_end(&mut self, out: &mut Vec<u8>) -> Result<(), ChunkError> {
        let Some(chunk) = self.current.take() else {
            return Err(ChunkError::Malformed("chunk end outside a chunk"));
        };
        let hash: [u8; 32] = chunk.sha.finalize().into();
        let ours = self.verify_chunk(&hash, &chunk.signature)?;
        let mut buf = chunk.buf;
        if let Some(ours) = ours {
            if let Some(slot) = buf.get_mut(chunk.signature_at..chunk.signature_at + 64) {
                slot.copy_from_slice(&signature_hex(&ours));
            }
            push_bounded(&mut buf, b"\r\n", chunk.limit);
        }
        if self.decoded == self.expected {
            // The chunk that completes the payload: held until `finish` verified the end.
            self.held = buf;
        } else {
            release(out, buf);
        }
        Ok(())
    }

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

    fn on_trailer_line(&mut self, line: &[u8]) -> Result<(), ChunkError> {
        if let Some((section, _)) = self.trailer.as_mut() {
            return section.push_line(line, true);
        }
        if !line.is_empty() || self.blank_seen {
            return Err(ChunkError::Malformed("data after the final chunk"));
        }
        self.blank_seen = true;
        if self.ours.is_some() {
            self.tail.extend_from_slice(b"\r\n");
        }
        Ok(())
    }

    fn finish_inner(&mut self) -> Result<Vec<u8>, ChunkError> {
        let partial = self.framer.finish()?;
        match self.trailer.take() {
            None => {
                if !self.blank_seen {
                    return Err(ChunkError::Truncated);
                }
                if !partial.is_empty() {
                    return Err(ChunkError::Malformed("data after the final chunk"));
                }
            }
            Some((mut section, sum)) => {
                if partial.contains(&b'\r') {
                    return Err(ChunkError::MalformedTrailer("trailer cut inside its CRLF"));
                }
                if !partial.is_empty() {
                    section.push_line(&partial, false)?;
                }
                section.verify(&sum.finalize(), Some(&self.client), self.ours.as_ref())?;
                self.verified_checksum = section.checksum_value().map(str::to_owned);
                self.tail.extend_from_slice(&section.take_raw());
            }
        }
        let mut out = std::mem::take(&mut self.held);
        out.extend_from_slice(&self.tail);
        self.tail = Vec::new();
        Ok(out)
    }
}

/// The header line with its signature replaced by `ours` (same length).
fn resigned_line(mut line: Vec<u8>, signature_at: usize, ours: &[u8; 32]) -> Vec<u8> {
    if let Some(slot) = line.get_mut(signature_at..signature_at + 64) {
        slot.copy_from_slice(&signature_hex(ours));
    }
    line
}
