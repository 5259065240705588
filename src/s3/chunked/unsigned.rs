//! `STREAMING-UNSIGNED-PAYLOAD-TRAILER` bodies (what awscli and boto3 send over HTTPS): the
//! chunks carry no signatures, so integrity rests on the trailing checksum; this decoder
//! computes it over the payload and holds the last chunk back until the trailer matches.

use bytes::Bytes;

use super::buffer::{push_bounded, release};
use super::checksum::{ChecksumAlgorithm, Checksummer};
use super::error::ChunkError;
use super::parse::{ChunkHeader, Event, Framer, Syntax};
use super::trailer::TrailerSection;
use super::DEFAULT_MAX_CHUNK_SIZE;

/// Room for a chunk's header line and the CRLF after its data, on top of the data.
const FRAMING: u64 = 64 + 2;

/// What an [`UnsignedTrailerDecoder`] releases.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnsignedOutput {
    /// The plain payload (`Content-Length` = `x-amz-decoded-content-length`).
    #[default]
    Decode,
    /// The aws-chunked body unchanged, byte for byte: for forwarding it as is (with the seed
    /// re-signed under the same `STREAMING-UNSIGNED-PAYLOAD-TRAILER` sentinel) while still
    /// checking the checksum and holding the end back until it matches.
    Passthrough,
}

/// Decoder of `STREAMING-UNSIGNED-PAYLOAD-TRAILER` bodies.
///
/// Wire format: chunks `hex(size)\r\n<data>\r\n` (the SDKs write the size in upper-case hex),
/// final `0\r\n`, then the trailer `x-amz-checksum-<alg>:<base64>\r\n` named by the request's
/// `x-amz-trailer`, then `\r\n`.
///
/// Release rules: chunk data is released as it arrives (there is nothing to verify per
/// chunk), except the chunk that completes `x-amz-decoded-content-length`, which is held back
/// and released only by [`finish`](Self::finish) once the trailer arrived and its checksum
/// matches the payload.
///
/// Memory: that one held chunk (chunks are capped by
/// [`with_max_chunk_size`](Self::with_max_chunk_size), 16 MiB by default), plus one line and at
/// most 1 KiB of trailer.
pub struct UnsignedTrailerDecoder {
    framer: Framer,
    mode: UnsignedOutput,
    expected: u64,
    decoded: u64,
    sum: Option<Checksummer>,
    trailer: TrailerSection,
    /// Whether the current chunk is the one that completes the payload.
    holding: bool,
    held: Vec<u8>,
    held_limit: usize,
    /// Passthrough: the final chunk's header line.
    tail: Vec<u8>,
    verified_checksum: Option<String>,
    error: Option<ChunkError>,
    done: bool,
}

impl UnsignedTrailerDecoder {
    /// A decoder whose body must end with the `expected_trailer` checksum (the algorithm the
    /// request's `x-amz-trailer` names) and whose payload must be exactly
    /// `decoded_content_length` (`x-amz-decoded-content-length`) bytes. Decodes to the plain
    /// payload; see [`with_output`](Self::with_output).
    pub fn new(expected_trailer: ChecksumAlgorithm, decoded_content_length: u64) -> Self {
        Self {
            framer: Framer::new(Syntax::Unsigned, DEFAULT_MAX_CHUNK_SIZE),
            mode: UnsignedOutput::Decode,
            expected: decoded_content_length,
            decoded: 0,
            sum: Some(expected_trailer.hasher()),
            trailer: TrailerSection::new(expected_trailer, false, false),
            holding: false,
            held: Vec::new(),
            held_limit: 0,
            tail: Vec::new(),
            verified_checksum: None,
            error: None,
            done: false,
        }
    }

    /// Choose between the plain payload (default) and the unchanged aws-chunked body. Call
    /// before the first `feed`.
    pub fn with_output(mut self, mode: UnsignedOutput) -> Self {
        let algorithm = self.algorithm();
        self.mode = mode;
        self.trailer = TrailerSection::new(algorithm, false, mode == UnsignedOutput::Passthrough);
        self
    }

    /// Refuse chunks larger than `max` bytes (default 16 MiB) with
    /// [`ChunkError::ChunkTooLarge`]. Call before the first `feed`.
    pub fn with_max_chunk_size(mut self, max: u64) -> Self {
        self.framer = Framer::new(Syntax::Unsigned, max);
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

    /// The end of the client's body: `Ok` with the held-back rest only if the final chunk and
    /// the checksum trailer arrived, the checksum matches and the decoded length is
    /// `x-amz-decoded-content-length`.
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

    /// After a successful [`finish`](Self::finish): the verified base64 checksum value.
    pub fn verified_checksum(&self) -> Option<&str> {
        self.verified_checksum.as_deref()
    }

    fn algorithm(&self) -> ChecksumAlgorithm {
        self.trailer.algorithm()
    }

    /// Bytes of buffer capacity held right now (for the memory-bound tests).
    #[cfg(test)]
    pub(crate) fn buffered(&self) -> usize {
        self.held.capacity() + self.tail.capacity() + self.framer.buffered()
    }

    fn fail(&mut self, e: ChunkError) -> Result<Bytes, ChunkError> {
        self.held = Vec::new();
        self.tail = Vec::new();
        self.error = Some(e.clone());
        Err(e)
    }

    fn feed_inner(&mut self, mut piece: &[u8], out: &mut Vec<u8>) -> Result<(), ChunkError> {
        let passthrough = self.mode == UnsignedOutput::Passthrough;
        while let Some(event) = self.framer.next(&mut piece)? {
            match event {
                Event::Header(header) => self.on_header(header, out)?,
                Event::Data(data) => {
                    if let Some(sum) = self.sum.as_mut() {
                        sum.update(data);
                    }
                    if self.holding {
                        push_bounded(&mut self.held, data, self.held_limit);
                    } else {
                        out.extend_from_slice(data);
                    }
                }
                Event::DataEnd => {
                    if passthrough {
                        if self.holding {
                            push_bounded(&mut self.held, b"\r\n", self.held_limit);
                        } else {
                            out.extend_from_slice(b"\r\n");
                        }
                    }
                }
                Event::TrailerLine(line) => self.trailer.push_line(&line, true)?,
            }
        }
        Ok(())
    }

    fn on_header(&mut self, header: ChunkHeader, out: &mut Vec<u8>) -> Result<(), ChunkError> {
        let passthrough = self.mode == UnsignedOutput::Passthrough;
        if header.size == 0 {
            if self.decoded != self.expected {
                return Err(ChunkError::LengthMismatch {
                    expected: self.expected,
                    got: self.decoded,
                });
            }
            self.holding = false;
            if passthrough {
                self.tail = header.line;
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
        self.holding = total == self.expected;
        if self.holding {
            self.held_limit =
                usize::try_from(header.size.saturating_add(FRAMING)).unwrap_or(usize::MAX);
            self.held = Vec::with_capacity(self.held_limit.min(64 * 1024));
        }
        if passthrough {
            let mut line = header.line;
            line.extend_from_slice(b"\r\n");
            if self.holding {
                push_bounded(&mut self.held, &line, self.held_limit);
            } else {
                release(out, line);
            }
        }
        Ok(())
    }

    fn finish_inner(&mut self) -> Result<Vec<u8>, ChunkError> {
        let partial = self.framer.finish()?;
        if partial.contains(&b'\r') {
            return Err(ChunkError::MalformedTrailer("trailer cut inside its CRLF"));
        }
        if !partial.is_empty() {
            self.trailer.push_line(&partial, false)?;
        }
        let Some(sum) = self.sum.take() else {
            return Err(ChunkError::Malformed("body already finished"));
        };
        self.trailer.verify(&sum.finalize(), None, None)?;
        self.verified_checksum = self.trailer.checksum_value().map(str::to_owned);
        let mut out = std::mem::take(&mut self.held);
        out.extend_from_slice(&self.tail);
        out.extend_from_slice(&self.trailer.take_raw());
        self.tail = Vec::new();
        Ok(out)
    }
}
