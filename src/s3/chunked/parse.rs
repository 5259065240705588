//! The aws-chunked framing state machine, shared by both decoders: turns body pieces, split at
//! any byte, into chunk headers, data slices, chunk ends and trailer lines, with every buffer
//! bounded by a line.
//!
//! Grammar (CRLF = `\r\n`, required everywhere; a chunk size is 1 to 16 hex digits):
//!
//! ```text
//! body    = *chunk final trailer
//! chunk   = header CRLF data CRLF          ; size > 0, data is exactly size bytes
//! final   = header CRLF                    ; size = 0
//! header  = hex-size                       ; STREAMING-UNSIGNED-PAYLOAD-TRAILER
//!         / hex-size ";chunk-signature=" 64HEXDIG   ; STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]
//! trailer = *(line CRLF) [line]            ; up to the end of the body
//! ```
//!
//! What a trailer section must contain is the decoders' business: the framer only hands its
//! lines over, and at the end of the body whatever unterminated line is left.

use super::error::ChunkError;
use crate::s3::sign::parse_signature;

/// Longest header line of an unsigned body, CRLF included: a chunk-size line.
const MAX_UNSIGNED_HEADER_LINE: usize = 64;
/// Longest header line of a signed body, CRLF included (the longest valid one, 16 hex digits
/// plus `;chunk-signature=` plus 64 hex digits plus CRLF, is 99 bytes).
const MAX_SIGNED_HEADER_LINE: usize = 128;
/// Longest trailer line, CRLF included (`x-amz-checksum-sha256:` and 44 base64 characters, or
/// `x-amz-trailer-signature:` and 64 hex digits, are under 100 bytes).
pub(crate) const MAX_TRAILER_LINE: usize = 256;
/// Most hex digits in a chunk size.
const MAX_SIZE_DIGITS: usize = 16;

const SIGNATURE_EXTENSION: &[u8] = b"chunk-signature=";

/// Which header-line syntax a body uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Syntax {
    /// `hex-size;chunk-signature=<64 hex>`.
    Signed,
    /// `hex-size`.
    Unsigned,
}

/// A parsed chunk header line.
#[derive(Debug)]
pub(crate) struct ChunkHeader {
    /// The chunk's data length; 0 for the final chunk.
    pub(crate) size: u64,
    /// The line as received, without its CRLF (to mirror it with the same length).
    pub(crate) line: Vec<u8>,
    /// Signed syntax: the signature and where its 64 hex digits start in `line`.
    pub(crate) signature: Option<([u8; 32], usize)>,
}

/// What the framer found next.
#[derive(Debug)]
pub(crate) enum Event<'a> {
    /// A chunk header; `size == 0` is the final chunk, after which only trailer lines follow.
    Header(ChunkHeader),
    /// Some of the current chunk's data, borrowed from the piece being fed.
    Data(&'a [u8]),
    /// The CRLF after a chunk's data: the chunk is complete.
    DataEnd,
    /// A CRLF-terminated line after the final chunk header, without its CRLF (maybe empty).
    TrailerLine(Vec<u8>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Header,
    Data { remaining: u64 },
    DataCr,
    DataLf,
    Trailer,
    Failed,
}

/// The framing state machine. Buffers at most one line ([`MAX_TRAILER_LINE`] bytes).
#[derive(Debug)]
pub(crate) struct Framer {
    syntax: Syntax,
    max_chunk: u64,
    state: State,
    /// The line being read, across pieces (CRLF included once complete).
    line: Vec<u8>,
}

impl Framer {
    pub(crate) fn new(syntax: Syntax, max_chunk: u64) -> Self {
        Self {
            syntax,
            max_chunk,
            state: State::Header,
            line: Vec::new(),
        }
    }

    /// Refuse chunks larger than `max` bytes from now on (before the first piece).
    pub(crate) fn set_max_chunk(&mut self, max: u64) {
        self.max_chunk = max;
    }

    /// The next event in `input`, advancing it past what was consumed; `None` once `input` is
    /// used up (the rest of a partial line is kept for the next piece).
    pub(crate) fn next<'a>(
        &mut self,
        input: &mut &'a [u8],
    ) -> Result<Option<Event<'a>>, ChunkError> {
        let result = self.step(input);
        if result.is_err() {
            self.state = State::Failed;
            self.line = Vec::new();
        }
        result
    }

    /// The end of the body. Only valid after the final chunk header: returns what is left of an
    /// unterminated trailer line (empty if none; it may end with a lone CR).
    pub(crate) fn finish(&mut self) -> Result<Vec<u8>, ChunkError> {
        match self.state {
            State::Trailer => Ok(std::mem::take(&mut self.line)),
            State::Failed => Err(ChunkError::Malformed("body after a framing error")),
            _ => Err(ChunkError::Truncated),
        }
    }

    /// Bytes of buffer capacity held right now (for the memory-bound tests).
    #[cfg(test)]
    pub(crate) fn buffered(&self) -> usize {
        self.line.capacity()
    }

    fn step<'a>(&mut self, input: &mut &'a [u8]) -> Result<Option<Event<'a>>, ChunkError> {
        loop {
            match self.state {
                State::Header => {
                    let cap = match self.syntax {
                        Syntax::Signed => MAX_SIGNED_HEADER_LINE,
                        Syntax::Unsigned => MAX_UNSIGNED_HEADER_LINE,
                    };
                    let too_long = ChunkError::ChunkTooLarge {
                        limit: self.max_chunk,
                    };
                    let Some(line) = self.read_line(input, cap, too_long)? else {
                        return Ok(None);
                    };
                    let header = self.parse_header(line)?;
                    self.state = if header.size == 0 {
                        State::Trailer
                    } else {
                        State::Data {
                            remaining: header.size,
                        }
                    };
                    return Ok(Some(Event::Header(header)));
                }
                State::Data { remaining } => {
                    if input.is_empty() {
                        return Ok(None);
                    }
                    let take =
                        usize::try_from(remaining).map_or(input.len(), |r| r.min(input.len()));
                    let (data, rest) = input.split_at(take);
                    *input = rest;
                    // `take` is at most `remaining`, so this cannot underflow.
                    let left = remaining - take as u64;
                    self.state = if left == 0 {
                        State::DataCr
                    } else {
                        State::Data { remaining: left }
                    };
                    return Ok(Some(Event::Data(data)));
                }
                State::DataCr | State::DataLf => {
                    let Some((&byte, rest)) = input.split_first() else {
                        return Ok(None);
                    };
                    let want_cr = self.state == State::DataCr;
                    if byte != if want_cr { b'\r' } else { b'\n' } {
                        return Err(ChunkError::Malformed(
                            "chunk data is not followed by CRLF (chunk longer than its size)",
                        ));
                    }
                    *input = rest;
                    if want_cr {
                        self.state = State::DataLf;
                    } else {
                        self.state = State::Header;
                        return Ok(Some(Event::DataEnd));
                    }
                }
                State::Trailer => {
                    let too_long = ChunkError::MalformedTrailer("trailer line too long");
                    return Ok(self
                        .read_line(input, MAX_TRAILER_LINE, too_long)?
                        .map(Event::TrailerLine));
                }
                State::Failed => return Err(ChunkError::Malformed("body after a framing error")),
            }
        }
    }

    /// Reads up to a CRLF. Returns the complete line without CRLF, or `None` when `input` ran
    /// out first. Errors with `too_long` as soon as the line exceeds `cap` bytes (CRLF
    /// included), so the buffer never grows past `cap`.
    fn read_line(
        &mut self,
        input: &mut &[u8],
        cap: usize,
        too_long: ChunkError,
    ) -> Result<Option<Vec<u8>>, ChunkError> {
        if input.is_empty() {
            return Ok(None);
        }
        let Some(newline) = input.iter().position(|&b| b == b'\n') else {
            if self.line.len().saturating_add(input.len()) > cap {
                return Err(too_long);
            }
            self.line.extend_from_slice(input);
            *input = &[];
            return Ok(None);
        };
        if self.line.len().saturating_add(newline + 1) > cap {
            return Err(too_long);
        }
        self.line.extend_from_slice(&input[..=newline]);
        *input = &input[newline + 1..];
        let mut line = std::mem::take(&mut self.line);
        line.pop(); // the LF
        if line.pop() != Some(b'\r') {
            return Err(ChunkError::Malformed(
                "line ends with a bare LF instead of CRLF",
            ));
        }
        if line.contains(&b'\r') {
            return Err(ChunkError::Malformed("stray CR inside a line"));
        }
        Ok(Some(line))
    }

    fn parse_header(&self, line: Vec<u8>) -> Result<ChunkHeader, ChunkError> {
        let semicolon = line.iter().position(|&b| b == b';');
        let size_text = &line[..semicolon.unwrap_or(line.len())];
        let size = parse_size(size_text, self.max_chunk)?;
        let signature = match (self.syntax, semicolon) {
            (Syntax::Unsigned, None) => None,
            (Syntax::Unsigned, Some(_)) => {
                return Err(ChunkError::Malformed(
                    "chunk extension in an unsigned chunk header",
                ))
            }
            (Syntax::Signed, None) => {
                return Err(ChunkError::Malformed("chunk header has no chunk-signature"))
            }
            (Syntax::Signed, Some(at)) => {
                let extension = &line[at + 1..];
                let Some(hex) = extension.strip_prefix(SIGNATURE_EXTENSION) else {
                    return Err(ChunkError::Malformed("chunk header has no chunk-signature"));
                };
                let Some(sig) = parse_signature(hex) else {
                    return Err(ChunkError::Malformed(
                        "chunk-signature is not 64 hex digits",
                    ));
                };
                Some((sig, at + 1 + SIGNATURE_EXTENSION.len()))
            }
        };
        Ok(ChunkHeader {
            size,
            line,
            signature,
        })
    }
}

/// A chunk size: 1 to 16 hex digits (either case), at most `max_chunk`.
fn parse_size(text: &[u8], max_chunk: u64) -> Result<u64, ChunkError> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_hexdigit) {
        return Err(ChunkError::Malformed("chunk size is not hex"));
    }
    if text.len() > MAX_SIZE_DIGITS {
        return Err(ChunkError::ChunkTooLarge { limit: max_chunk });
    }
    let size = text.iter().fold(0u64, |acc, &b| {
        // At most 16 digits: no overflow. `is_ascii_hexdigit` was checked above.
        let digit = (b as char).to_digit(16).unwrap_or(0);
        (acc << 4) | u64::from(digit)
    });
    if size > max_chunk {
        return Err(ChunkError::ChunkTooLarge { limit: max_chunk });
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(framer: &mut Framer, mut input: &[u8]) -> Result<Vec<String>, ChunkError> {
        let mut out = Vec::new();
        while let Some(ev) = framer.next(&mut input)? {
            out.push(match ev {
                Event::Header(h) => format!("H{}", h.size),
                Event::Data(d) => format!("D{}", String::from_utf8_lossy(d)),
                Event::DataEnd => "E".to_string(),
                Event::TrailerLine(l) => format!("T{}", String::from_utf8_lossy(&l)),
            });
        }
        Ok(out)
    }

    #[test]
    fn unsigned_framing() {
        let mut f = Framer::new(Syntax::Unsigned, 100);
        let got = events(&mut f, b"3\r\nabc\r\nA\r\n0123456789\r\n0\r\nx:y\r\n\r\n").unwrap();
        assert_eq!(
            got,
            [
                "H3",
                "Dabc",
                "E",
                "H10",
                "D0123456789",
                "E",
                "H0",
                "Tx:y",
                "T"
            ]
        );
        assert_eq!(f.finish().unwrap(), b"");
    }

    #[test]
    fn partial_lines_survive_piece_boundaries() {
        let mut f = Framer::new(Syntax::Unsigned, 100);
        assert!(events(&mut f, b"1").unwrap().is_empty());
        assert!(events(&mut f, b"\r").unwrap().is_empty());
        assert_eq!(events(&mut f, b"\nz\r").unwrap(), ["H1", "Dz"]);
        assert_eq!(events(&mut f, b"\n0\r\nab").unwrap(), ["E", "H0"]);
        assert_eq!(f.finish().unwrap(), b"ab");
    }

    #[test]
    fn signed_header_signature_offset() {
        let sig = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648";
        let mut f = Framer::new(Syntax::Signed, 1 << 20);
        let line = format!("10000;chunk-signature={sig}\r\n");
        let mut input = line.as_bytes();
        let Some(Event::Header(h)) = f.next(&mut input).unwrap() else {
            panic!("no header");
        };
        assert_eq!(h.size, 0x10000);
        let (bytes, at) = h.signature.unwrap();
        assert_eq!(&h.line[at..], sig.as_bytes());
        assert_eq!(hex::encode(bytes), sig);
    }

    #[test]
    fn rejects() {
        use ChunkError::{ChunkTooLarge, Malformed};
        use Syntax::{Signed, Unsigned};
        let not_followed = "chunk data is not followed by CRLF (chunk longer than its size)";
        let cases: &[(Syntax, &[&[u8]], ChunkError)] = &[
            (
                Unsigned,
                &[b"x\r\n", b"+5\r\n", b"\r\n"],
                Malformed("chunk size is not hex"),
            ),
            (
                Unsigned,
                &[b"5\n"],
                Malformed("line ends with a bare LF instead of CRLF"),
            ),
            (
                Unsigned,
                &[b"65\r\n", b"00000000000000001\r\n", &[b'1'; 65]],
                ChunkTooLarge { limit: 100 },
            ),
            (
                Unsigned,
                &[b"1;a=b\r\n"],
                Malformed("chunk extension in an unsigned chunk header"),
            ),
            (
                Signed,
                &[b"1\r\n"],
                Malformed("chunk header has no chunk-signature"),
            ),
            (
                Signed,
                &[b"1;chunk-signature=abc\r\n"],
                Malformed("chunk-signature is not 64 hex digits"),
            ),
            (Unsigned, &[b"1\r\nab\r\n"], Malformed(not_followed)),
            (
                Unsigned,
                &[b"1\r0\r\n"],
                Malformed("stray CR inside a line"),
            ),
        ];
        for (syntax, inputs, want) in cases {
            for input in *inputs {
                let mut f = Framer::new(*syntax, 100);
                assert_eq!(events(&mut f, input).unwrap_err(), *want, "{input:?}");
                // Poisoned afterwards.
                assert!(events(&mut f, b"0\r\n").is_err());
                assert!(f.finish().is_err());
            }
        }
    }

    #[test]
    fn trailer_line_cap() {
        let mut f = Framer::new(Syntax::Unsigned, 100);
        events(&mut f, b"0\r\n").unwrap();
        let long = vec![b'a'; MAX_TRAILER_LINE + 1];
        assert_eq!(
            events(&mut f, &long).unwrap_err(),
            ChunkError::MalformedTrailer("trailer line too long")
        );
    }

    #[test]
    fn finish_before_final_chunk_is_truncated() {
        let mut f = Framer::new(Syntax::Unsigned, 100);
        events(&mut f, b"3\r\nab").unwrap();
        assert_eq!(f.finish().unwrap_err(), ChunkError::Truncated);
    }
}
