//! What both aws-chunked decoders do alike, written once: the `feed`/`finish` lifecycle
//! (poisoned after the first error), counting the payload against
//! `x-amz-decoded-content-length`, the trailing checksum and its trailer section, and holding
//! back the chunk that completes the payload until `finish` has verified the end. Each decoder
//! plugs in what its chunks need (signatures or nothing) as a [`Scheme`].

use bytes::Bytes;

use super::checksum::{ChecksumAlgorithm, Checksummer};
use super::error::ChunkError;
use super::parse::{ChunkHeader, Event, Framer, Syntax};
use super::sigchain::SigChain;
use super::trailer::TrailerSection;
use super::DEFAULT_MAX_CHUNK_SIZE;

/// What one kind of aws-chunked body does with its chunks, on top of the [`Stream`].
pub(super) trait Scheme {
    /// The header of a chunk with data, already counted against the decoded length
    /// ([`Stream::completing`] says whether it completes the payload).
    fn chunk_header(
        &mut self,
        stream: &mut Stream,
        header: ChunkHeader,
        out: &mut Vec<u8>,
    ) -> Result<(), ChunkError>;

    /// Some of the current chunk's data (already added to the trailer checksum).
    fn chunk_data(
        &mut self,
        stream: &mut Stream,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), ChunkError>;

    /// The CRLF after the current chunk's data: the chunk is complete.
    fn chunk_end(&mut self, stream: &mut Stream, out: &mut Vec<u8>) -> Result<(), ChunkError>;

    /// The final chunk's header, once the decoded length matched: returns the line as a
    /// mirroring stream outputs it (same length).
    fn final_header(&mut self, header: ChunkHeader) -> Result<Vec<u8>, ChunkError>;

    /// The chains the trailer signature is checked under (the client's) and re-signed under
    /// (ours); `None` for bodies without signatures.
    fn trailer_chains(&self) -> (Option<&SigChain>, Option<&SigChain>);

    /// Drops whatever the scheme buffers (after an error).
    fn clear(&mut self);

    /// Bytes of buffer capacity the scheme holds right now (for the memory-bound tests).
    #[cfg(test)]
    fn buffered(&self) -> usize;
}

/// The state both decoders share. The output is either the plain payload or, when
/// `mirror`ing, the aws-chunked body itself (unchanged or re-signed, the same length).
pub(super) struct Stream {
    framer: Framer,
    mirror: bool,
    expected: u64,
    decoded: u64,
    /// Whether the chunk being received completes the payload (and so is held back).
    completing: bool,
    /// The chunk that completes the payload (framing included when mirroring), released by
    /// `finish`.
    pub(super) held: Vec<u8>,
    /// Mirroring: the final chunk's header line, the blank line or trailer section after it.
    tail: Vec<u8>,
    /// Bodies with a trailer: the trailing headers and the checksum being computed.
    trailer: Option<(TrailerSection, Checksummer)>,
    /// Bodies without a trailer: whether the blank line after the final chunk arrived.
    blank_seen: bool,
    verified_checksum: Option<String>,
    error: Option<ChunkError>,
    done: bool,
}

impl Stream {
    /// A body of `syntax` whose payload must be exactly `expected` bytes; `mirror` outputs the
    /// aws-chunked body instead of the payload.
    pub(super) fn new(syntax: Syntax, expected: u64, mirror: bool) -> Self {
        Self {
            framer: Framer::new(syntax, DEFAULT_MAX_CHUNK_SIZE),
            mirror,
            expected,
            decoded: 0,
            completing: false,
            held: Vec::new(),
            tail: Vec::new(),
            trailer: None,
            blank_seen: false,
            verified_checksum: None,
            error: None,
            done: false,
        }
    }

    /// The body ends with the `algorithm` checksum trailer (and, if `signed`,
    /// `x-amz-trailer-signature`). Before the first `feed`.
    pub(super) fn expect_trailer(&mut self, algorithm: ChecksumAlgorithm, signed: bool) {
        let section = TrailerSection::new(algorithm, signed, self.mirror);
        self.trailer = Some((section, algorithm.hasher()));
    }

    /// Output the aws-chunked body (`true`) or the payload. Before the first `feed`.
    pub(super) fn set_mirror(&mut self, mirror: bool) {
        self.mirror = mirror;
        if let Some((section, _)) = self.trailer.as_mut() {
            section.set_mirror(mirror);
        }
    }

    /// Refuse chunks larger than `max` bytes. Before the first `feed`.
    pub(super) fn set_max_chunk_size(&mut self, max: u64) {
        self.framer.set_max_chunk(max);
    }

    pub(super) fn mirror(&self) -> bool {
        self.mirror
    }

    /// Whether the chunk being received completes the payload.
    pub(super) fn completing(&self) -> bool {
        self.completing
    }

    /// After a successful `finish`: the verified base64 checksum value of the trailer.
    pub(super) fn verified_checksum(&self) -> Option<&str> {
        self.verified_checksum.as_deref()
    }

    /// Bytes of buffer capacity held right now (for the memory-bound tests).
    #[cfg(test)]
    pub(super) fn buffered(&self, scheme: &impl Scheme) -> usize {
        scheme.buffered() + self.held.capacity() + self.tail.capacity() + self.framer.buffered()
    }

    /// Feeds the next piece of the body; returns what may be sent upstream now.
    pub(super) fn feed(
        &mut self,
        scheme: &mut impl Scheme,
        piece: &[u8],
    ) -> Result<Bytes, ChunkError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.done {
            if piece.is_empty() {
                return Ok(Bytes::new());
            }
            return self.fail(
                scheme,
                ChunkError::Malformed("data after the end of the body"),
            );
        }
        let mut out = Vec::new();
        match self.feed_events(scheme, piece, &mut out) {
            Ok(()) => Ok(Bytes::from(out)),
            Err(e) => self.fail(scheme, e),
        }
    }

    /// The end of the body: the held-back rest of the output, once everything verified.
    pub(super) fn finish(&mut self, scheme: &mut impl Scheme) -> Result<Bytes, ChunkError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.done {
            return Ok(Bytes::new());
        }
        match self.finish_body(&*scheme) {
            Ok(out) => {
                self.done = true;
                Ok(Bytes::from(out))
            }
            Err(e) => self.fail(scheme, e),
        }
    }

    fn fail(&mut self, scheme: &mut impl Scheme, e: ChunkError) -> Result<Bytes, ChunkError> {
        scheme.clear();
        self.held = Vec::new();
        self.tail = Vec::new();
        self.trailer = None;
        self.error = Some(e.clone());
        Err(e)
    }

    fn feed_events(
        &mut self,
        scheme: &mut impl Scheme,
        mut piece: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), ChunkError> {
        while let Some(event) = self.framer.next(&mut piece)? {
            match event {
                Event::Header(header) if header.size == 0 => {
                    if self.decoded != self.expected {
                        return Err(ChunkError::LengthMismatch {
                            expected: self.expected,
                            got: self.decoded,
                        });
                    }
                    self.completing = false;
                    let line = scheme.final_header(header)?;
                    if self.mirror {
                        self.tail = line;
                        self.tail.extend_from_slice(b"\r\n");
                    }
                }
                Event::Header(header) => {
                    let total = self.decoded.saturating_add(header.size);
                    if total > self.expected {
                        return Err(ChunkError::LengthMismatch {
                            expected: self.expected,
                            got: total,
                        });
                    }
                    self.decoded = total;
                    self.completing = total == self.expected;
                    scheme.chunk_header(self, header, out)?;
                }
                Event::Data(data) => {
                    if let Some((_, sum)) = self.trailer.as_mut() {
                        sum.update(data);
                    }
                    scheme.chunk_data(self, data, out)?;
                }
                Event::DataEnd => scheme.chunk_end(self, out)?,
                Event::TrailerLine(line) => self.trailer_line(&line)?,
            }
        }
        Ok(())
    }

    /// A line after the final chunk: a trailing header, or the one blank line that ends a
    /// body without a trailer.
    fn trailer_line(&mut self, line: &[u8]) -> Result<(), ChunkError> {
        if let Some((section, _)) = self.trailer.as_mut() {
            return section.push_line(line, true);
        }
        if !line.is_empty() || self.blank_seen {
            return Err(ChunkError::Malformed("data after the final chunk"));
        }
        self.blank_seen = true;
        if self.mirror {
            self.tail.extend_from_slice(b"\r\n");
        }
        Ok(())
    }

    fn finish_body(&mut self, scheme: &impl Scheme) -> Result<Vec<u8>, ChunkError> {
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
                let (client, ours) = scheme.trailer_chains();
                section.verify(&sum.finalize(), client, ours)?;
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
