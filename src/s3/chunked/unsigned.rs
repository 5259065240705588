//! `STREAMING-UNSIGNED-PAYLOAD-TRAILER` bodies (what awscli and boto3 send over HTTPS): the
//! chunks carry no signatures, so integrity rests on the trailing checksum; this decoder
//! computes it over the payload and holds the last chunk back until the trailer matches.

use bytes::Bytes;

use super::buffer::{chunk_buffer, push_bounded, release};
use super::checksum::ChecksumAlgorithm;
use super::error::ChunkError;
use super::parse::{ChunkHeader, Syntax};
use super::sigchain::SigChain;
use super::stream::{Scheme, Stream};

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
    stream: Stream,
    chunks: UnsignedChunks,
}

/// The unsigned scheme: nothing to verify per chunk, only where the data goes.
struct UnsignedChunks {
    /// Largest the held-back chunk may get.
    held_limit: usize,
}

impl UnsignedTrailerDecoder {
    /// A decoder whose body must end with the `expected_trailer` checksum (the algorithm the
    /// request's `x-amz-trailer` names) and whose payload must be exactly
    /// `decoded_content_length` (`x-amz-decoded-content-length`) bytes. Decodes to the plain
    /// payload; see [`with_output`](Self::with_output).
    pub fn new(expected_trailer: ChecksumAlgorithm, decoded_content_length: u64) -> Self {
        let mut stream = Stream::new(Syntax::Unsigned, decoded_content_length, false);
        stream.expect_trailer(expected_trailer, false);
        Self {
            stream,
            chunks: UnsignedChunks { held_limit: 0 },
        }
    }

    /// Choose between the plain payload (default) and the unchanged aws-chunked body. Call
    /// before the first `feed`.
    pub fn with_output(mut self, mode: UnsignedOutput) -> Self {
        self.stream.set_mirror(mode == UnsignedOutput::Passthrough);
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

    /// The end of the client's body: `Ok` with the held-back rest only if the final chunk and
    /// the checksum trailer arrived, the checksum matches and the decoded length is
    /// `x-amz-decoded-content-length`.
    pub fn finish(&mut self) -> Result<Bytes, ChunkError> {
        self.stream.finish(&mut self.chunks)
    }

    /// After a successful [`finish`](Self::finish): the verified base64 checksum value.
    pub fn verified_checksum(&self) -> Option<&str> {
        self.stream.verified_checksum()
    }

    /// Bytes of buffer capacity held right now (for the memory-bound tests).
    #[cfg(test)]
    pub(crate) fn buffered(&self) -> usize {
        self.stream.buffered(&self.chunks)
    }
}

impl UnsignedChunks {
    /// Sends `bytes` of the current chunk on, or holds them back if the chunk completes the
    /// payload.
    fn emit(&self, stream: &mut Stream, bytes: &[u8], out: &mut Vec<u8>) {
        if stream.completing() {
            push_bounded(&mut stream.held, bytes, self.held_limit);
        } else {
            out.extend_from_slice(bytes);
        }
    }
}

impl Scheme for UnsignedChunks {
    fn chunk_header(
        &mut self,
        stream: &mut Stream,
        header: ChunkHeader,
        out: &mut Vec<u8>,
    ) -> Result<(), ChunkError> {
        if stream.completing() {
            (stream.held, self.held_limit) = chunk_buffer(header.size, FRAMING);
        }
        if stream.mirror() {
            let mut line = header.line;
            line.extend_from_slice(b"\r\n");
            if stream.completing() {
                push_bounded(&mut stream.held, &line, self.held_limit);
            } else {
                release(out, line);
            }
        }
        Ok(())
    }

    fn chunk_data(
        &mut self,
        stream: &mut Stream,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), ChunkError> {
        self.emit(stream, data, out);
        Ok(())
    }

    fn chunk_end(&mut self, stream: &mut Stream, out: &mut Vec<u8>) -> Result<(), ChunkError> {
        if stream.mirror() {
            self.emit(stream, b"\r\n", out);
        }
        Ok(())
    }

    fn final_header(&mut self, header: ChunkHeader) -> Result<Vec<u8>, ChunkError> {
        Ok(header.line)
    }

    fn trailer_chains(&self) -> (Option<&SigChain>, Option<&SigChain>) {
        (None, None)
    }

    fn clear(&mut self) {}

    #[cfg(test)]
    fn buffered(&self) -> usize {
        0
    }
}
