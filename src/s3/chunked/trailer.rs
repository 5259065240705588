//! The trailing headers after the final chunk: collects them line by line (bounded), insists on
//! exactly the checksum `x-amz-trailer` announced (plus `x-amz-trailer-signature` in signed
//! bodies), and checks the checksum and, for signed bodies, the trailer signature.
//!
//! Blank lines are skipped wherever they appear, and the last line may lack its CRLF: the AWS
//! documentation's example puts a blank line between the final chunk and the trailers and none
//! after them, while the SDKs send `0\r\n` + trailers + `\r\n`. Both parse the same; the raw
//! bytes are kept (when mirroring) so the output has exactly the input's length.

use base64::Engine as _;

use super::checksum::ChecksumAlgorithm;
use super::error::ChunkError;
use super::parse::MAX_TRAILER_LINE;
use super::sigchain::{put_signature, SigChain};
use crate::s3::sign::{parse_signature, signatures_equal};

/// Most bytes in a trailer section, CRLFs and blank lines included.
const MAX_TRAILER_SECTION: usize = 4 * MAX_TRAILER_LINE;

const TRAILER_SIGNATURE: &str = "x-amz-trailer-signature";

/// The trailer section of one body.
#[derive(Debug)]
pub(crate) struct TrailerSection {
    algorithm: ChecksumAlgorithm,
    /// Whether `x-amz-trailer-signature` is expected (signed bodies) or refused (unsigned).
    signed: bool,
    /// Whether to keep the raw bytes for the output.
    mirror: bool,
    raw: Vec<u8>,
    seen: usize,
    /// The checksum value as sent, whitespace trimmed.
    checksum: Option<String>,
    /// The trailer signature and, when mirroring, where its 64 hex digits start in `raw`.
    signature: Option<([u8; 32], usize)>,
}

impl TrailerSection {
    pub(crate) fn new(algorithm: ChecksumAlgorithm, signed: bool, mirror: bool) -> Self {
        Self {
            algorithm,
            signed,
            mirror,
            raw: Vec::new(),
            seen: 0,
            checksum: None,
            signature: None,
        }
    }

    /// Whether to keep the raw bytes for the output (before the first line).
    pub(crate) fn set_mirror(&mut self, mirror: bool) {
        self.mirror = mirror;
    }

    /// One line of the section, without its CRLF; `terminated` says whether it had one (only
    /// the last line, at the end of the body, may not).
    pub(crate) fn push_line(&mut self, line: &[u8], terminated: bool) -> Result<(), ChunkError> {
        self.seen = self
            .seen
            .saturating_add(line.len())
            .saturating_add(if terminated { 2 } else { 0 });
        if self.seen > MAX_TRAILER_SECTION {
            return Err(ChunkError::MalformedTrailer("trailing headers too long"));
        }
        let start = self.raw.len();
        if self.mirror {
            self.raw.extend_from_slice(line);
            if terminated {
                self.raw.extend_from_slice(b"\r\n");
            }
        }
        if line.is_empty() {
            return Ok(());
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(ChunkError::MalformedTrailer("trailing header has no colon"));
        };
        let name = &line[..colon];
        let rest = &line[colon + 1..];
        let leading = rest
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
        let trailing = rest[leading..]
            .iter()
            .rev()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
        let value = &rest[leading..rest.len() - trailing];

        if name.eq_ignore_ascii_case(self.algorithm.trailer_name().as_bytes()) {
            if self.checksum.is_some() {
                return Err(ChunkError::MalformedTrailer("duplicate checksum trailer"));
            }
            let Ok(value) = std::str::from_utf8(value) else {
                return Err(ChunkError::MalformedTrailer("checksum value is not base64"));
            };
            self.checksum = Some(value.to_owned());
            Ok(())
        } else if self.signed && name.eq_ignore_ascii_case(TRAILER_SIGNATURE.as_bytes()) {
            if self.signature.is_some() {
                return Err(ChunkError::MalformedTrailer(
                    "duplicate x-amz-trailer-signature",
                ));
            }
            let Some(sig) = parse_signature(value) else {
                return Err(ChunkError::MalformedTrailer(
                    "x-amz-trailer-signature is not 64 hex digits",
                ));
            };
            self.signature = Some((sig, start + colon + 1 + leading));
            Ok(())
        } else {
            Err(ChunkError::MalformedTrailer(
                "trailing header other than the one x-amz-trailer announced",
            ))
        }
    }

    /// The trailer's checksum value as sent (once present).
    pub(crate) fn checksum_value(&self) -> Option<&str> {
        self.checksum.as_deref()
    }

    /// Checks the trailer signature against `client` (signed bodies; `client` chained up to
    /// the final chunk) and then the checksum against `computed`. With `ours`, the signature in
    /// the raw bytes is replaced by ours, chained from our final chunk signature.
    pub(crate) fn verify(
        &mut self,
        computed: &[u8],
        client: Option<&SigChain>,
        ours: Option<&SigChain>,
    ) -> Result<(), ChunkError> {
        let Some(value) = self.checksum.as_deref() else {
            return Err(ChunkError::MalformedTrailer(
                "the checksum trailer x-amz-trailer announced is missing",
            ));
        };
        if let Some(client) = client {
            let Some((sent, at)) = self.signature else {
                return Err(ChunkError::MalformedTrailer(
                    "x-amz-trailer-signature is missing",
                ));
            };
            let canonical = format!("{}:{}\n", self.algorithm.trailer_name(), value);
            let expected = client.trailer_signature(canonical.as_bytes());
            if !signatures_equal(&expected, &sent) {
                return Err(ChunkError::TrailerSignatureMismatch);
            }
            if let Some(ours) = ours {
                let resigned = ours.trailer_signature(canonical.as_bytes());
                put_signature(&mut self.raw, at, &resigned);
            }
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value)
            .ok()
            .filter(|d| d.len() == computed.len());
        match decoded {
            None => Err(ChunkError::MalformedTrailer(
                "checksum value is not the base64 of a checksum of that kind",
            )),
            Some(sent) if sent == computed => Ok(()),
            Some(_) => Err(ChunkError::ChecksumMismatch {
                algorithm: self.algorithm,
            }),
        }
    }

    /// The section's raw bytes (empty unless mirroring), with our signature once verified.
    pub(crate) fn take_raw(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_unexpected_and_duplicate_headers() {
        let mut t = TrailerSection::new(ChecksumAlgorithm::Crc32, false, false);
        t.push_line(b"", true).unwrap();
        t.push_line(b"X-Amz-Checksum-CRC32: AAAAAA== ", true)
            .unwrap();
        assert_eq!(t.checksum_value(), Some("AAAAAA=="));
        assert!(matches!(
            t.push_line(b"x-amz-checksum-crc32:AAAAAA==", false),
            Err(ChunkError::MalformedTrailer(_))
        ));

        let mut t = TrailerSection::new(ChecksumAlgorithm::Crc32, false, false);
        assert!(t.push_line(b"x-amz-checksum-sha256:AAAA", true).is_err());
        let mut t = TrailerSection::new(ChecksumAlgorithm::Crc32, false, false);
        assert!(t.push_line(&[b'a'; 10], true).is_err());
        // Unsigned bodies carry no trailer signature.
        let mut t = TrailerSection::new(ChecksumAlgorithm::Crc32, false, false);
        assert!(t
            .push_line(
                format!("x-amz-trailer-signature:{}", "0".repeat(64)).as_bytes(),
                true
            )
            .is_err());
    }

    #[test]
    fn section_size_is_capped() {
        let mut t = TrailerSection::new(ChecksumAlgorithm::Crc32, false, true);
        let mut result = Ok(());
        for _ in 0..MAX_TRAILER_SECTION {
            result = t.push_line(b"", true);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(
            result,
            Err(ChunkError::MalformedTrailer("trailing headers too long"))
        );
        assert!(t.raw.len() <= MAX_TRAILER_SECTION + 2);
    }

    #[test]
    fn checksum_value_checks() {
        let computed = 0x1234_5678u32.to_be_bytes();
        let mut t = TrailerSection::new(ChecksumAlgorithm::Crc32, false, false);
        t.push_line(b"x-amz-checksum-crc32:EjRWeA==", true).unwrap();
        t.verify(&computed, None, None).unwrap();

        let mut t = TrailerSection::new(ChecksumAlgorithm::Crc32, false, false);
        t.push_line(b"x-amz-checksum-crc32:EjRWeQ==", true).unwrap();
        assert_eq!(
            t.verify(&computed, None, None),
            Err(ChunkError::ChecksumMismatch {
                algorithm: ChecksumAlgorithm::Crc32
            })
        );

        let mut t = TrailerSection::new(ChecksumAlgorithm::Crc32, false, false);
        t.push_line(b"x-amz-checksum-crc32:!!!", true).unwrap();
        assert!(matches!(
            t.verify(&computed, None, None),
            Err(ChunkError::MalformedTrailer(_))
        ));

        let mut t = TrailerSection::new(ChecksumAlgorithm::Crc32, false, false);
        assert!(matches!(
            t.verify(&computed, None, None),
            Err(ChunkError::MalformedTrailer(_))
        ));
    }
}
