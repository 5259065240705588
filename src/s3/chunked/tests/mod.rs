//! Tests of the aws-chunked decoders against bodies built here: an encoder whose chunk
//! signatures come from aws-sigv4's own `sign_chunk` (an implementation independent of ours),
//! AWS's published examples, and feeding in every kind of split.

mod signed;
mod unsigned;
mod vectors;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use base64::Engine as _;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha256};

use super::{ChecksumAlgorithm, ChunkError, ChunkSigningContext};
use super::{SignedChunkDecoder, UnsignedTrailerDecoder};

/// The AWS examples' credentials and date.
pub(super) const CLIENT_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
pub(super) const OUR_SECRET: &str = "ourSecretKeyForTheUpstream/0123456789abcd";
pub(super) const TIMESTAMP: &str = "20130524T000000Z";
pub(super) const SCOPE: &str = "20130524/us-east-1/s3/aws4_request";
/// Seed signature of AWS's "Example: PUT Object" (STREAMING-AWS4-HMAC-SHA256-PAYLOAD).
pub(super) const AWS_SEED: &str =
    "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
/// Some other seed signature, as our re-signed request would have.
pub(super) const OUR_SEED: &str =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// 20130524T000000Z.
pub(super) fn time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_369_353_600)
}

pub(super) fn signing_key(secret: &str) -> [u8; 32] {
    let key = aws_sigv4::sign::v4::generate_signing_key(secret, time(), "us-east-1", "s3");
    key.as_ref()
        .try_into()
        .expect("a SigV4 signing key is 32 bytes")
}

pub(super) fn context(secret: &str, seed: &str) -> ChunkSigningContext {
    ChunkSigningContext::new(signing_key(secret), TIMESTAMP, SCOPE, seed).expect("seed is hex")
}

pub(super) fn client() -> ChunkSigningContext {
    context(CLIENT_SECRET, AWS_SEED)
}

pub(super) fn ours() -> ChunkSigningContext {
    context(OUR_SECRET, OUR_SEED)
}

/// Where a trailer section's blank line goes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum TrailerStyle {
    /// `0...\r\n` + trailers + `\r\n`, as the SDKs send.
    Sdk,
    /// `0...\r\n\r\n` + trailers, last line without CRLF, as in the AWS documentation.
    Docs,
}

/// A `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]` body, chunk signatures by aws-sigv4.
pub(super) fn encode_signed(
    secret: &str,
    seed: &str,
    chunks: &[&[u8]],
    trailer: Option<(ChecksumAlgorithm, TrailerStyle)>,
) -> Vec<u8> {
    let identity = Credentials::new("AKIAIOSFODNN7EXAMPLE", secret, None, None, "test").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(time())
        .settings(())
        .build()
        .expect("signing params");
    let mut previous = seed.to_owned();
    let mut body = Vec::new();
    for data in chunks.iter().chain(std::iter::once(&&b""[..])) {
        let out =
            aws_sigv4::sign::v4::sign_chunk(&Bytes::copy_from_slice(data), &previous, &params)
                .expect("sign_chunk");
        previous = out.signature().to_owned();
        body.extend_from_slice(
            format!("{:x};chunk-signature={previous}\r\n", data.len()).as_bytes(),
        );
        if !data.is_empty() {
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
    }
    match trailer {
        None => body.extend_from_slice(b"\r\n"),
        Some((alg, style)) => {
            let value = checksum_b64(alg, &chunks.concat());
            let line = format!("{}:{value}", alg.trailer_name());
            let sig = trailer_signature(secret, &previous, &format!("{line}\n"));
            let section = match style {
                TrailerStyle::Sdk => format!("{line}\r\nx-amz-trailer-signature:{sig}\r\n\r\n"),
                TrailerStyle::Docs => format!("\r\n{line}\r\nx-amz-trailer-signature:{sig}"),
            };
            body.extend_from_slice(section.as_bytes());
        }
    }
    body
}

/// A `STREAMING-UNSIGNED-PAYLOAD-TRAILER` body as the SDKs write it (upper-case hex sizes).
pub(super) fn encode_unsigned(chunks: &[&[u8]], alg: ChecksumAlgorithm) -> Vec<u8> {
    let mut body = Vec::new();
    for data in chunks {
        body.extend_from_slice(format!("{:X}\r\n", data.len()).as_bytes());
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    let value = checksum_b64(alg, &chunks.concat());
    body.extend_from_slice(format!("0\r\n{}:{value}\r\n\r\n", alg.trailer_name()).as_bytes());
    body
}

/// The trailer signature, computed here straight from the documented string-to-sign.
pub(super) fn trailer_signature(secret: &str, previous: &str, canonical: &str) -> String {
    let hash = hex::encode(Sha256::digest(canonical.as_bytes()));
    let to_sign = format!("AWS4-HMAC-SHA256-TRAILER\n{TIMESTAMP}\n{SCOPE}\n{previous}\n{hash}");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&signing_key(secret)).unwrap();
    mac.update(to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

pub(super) fn checksum_b64(alg: ChecksumAlgorithm, data: &[u8]) -> String {
    let mut sum = alg.hasher();
    sum.update(data);
    base64::engine::general_purpose::STANDARD.encode(sum.finalize())
}

/// Both decoders, for the feeding helpers.
pub(super) trait Decoder {
    fn feed(&mut self, piece: &[u8]) -> Result<Bytes, ChunkError>;
    fn finish(&mut self) -> Result<Bytes, ChunkError>;
    fn buffered(&self) -> usize;
}

/// The same forwarding impl for each decoder type.
macro_rules! impl_decoder {
    ($($decoder:ty),*) => {$(
        impl Decoder for $decoder {
            fn feed(&mut self, piece: &[u8]) -> Result<Bytes, ChunkError> {
                <$decoder>::feed(self, piece)
            }
            fn finish(&mut self) -> Result<Bytes, ChunkError> {
                <$decoder>::finish(self)
            }
            fn buffered(&self) -> usize {
                <$decoder>::buffered(self)
            }
        }
    )*};
}

impl_decoder!(SignedChunkDecoder, UnsignedTrailerDecoder);

/// What came out of feeding a whole body.
#[derive(Debug)]
pub(super) struct Outcome {
    /// Everything released, by `feed` and (on success) `finish`.
    pub(super) out: Vec<u8>,
    /// The first error, from `feed` or `finish`.
    pub(super) result: Result<(), ChunkError>,
}

/// Feeds `pieces` in order (stopping at the first error), then finishes.
pub(super) fn run<'a>(
    decoder: &mut dyn Decoder,
    pieces: impl IntoIterator<Item = &'a [u8]>,
) -> Outcome {
    let mut out = Vec::new();
    for piece in pieces {
        match decoder.feed(piece) {
            Ok(bytes) => out.extend_from_slice(&bytes),
            Err(e) => {
                // Poisoned: the same error again, nothing more released.
                assert_eq!(decoder.feed(b"0\r\n").unwrap_err(), e);
                assert_eq!(decoder.finish().unwrap_err(), e);
                return Outcome {
                    out,
                    result: Err(e),
                };
            }
        }
    }
    let result = decoder.finish().map(|bytes| out.extend_from_slice(&bytes));
    Outcome { out, result }
}

/// Cuts `body` in two at every position; each pair of pieces, fed to a fresh `decoder()`,
/// must decode to `payload`.
pub(super) fn assert_every_two_piece_split_decodes<D: Decoder>(
    body: &[u8],
    payload: &[u8],
    mut decoder: impl FnMut() -> D,
) {
    for cut in 0..=body.len() {
        let mut d = decoder();
        let outcome = run(&mut d, [&body[..cut], &body[cut..]]);
        outcome.result.unwrap();
        assert!(outcome.out == payload, "cut at {cut}");
    }
}

/// The most buffer capacity `decoder` holds while fed `body` in pieces of `piece` bytes; the
/// body must then finish.
pub(super) fn max_buffered(decoder: &mut dyn Decoder, body: &[u8], piece: usize) -> usize {
    let mut max = 0;
    for piece in body.chunks(piece) {
        decoder.feed(piece).unwrap();
        max = max.max(decoder.buffered());
    }
    decoder.finish().unwrap();
    max
}

/// A tiny deterministic PRNG (xorshift64*), for random splits and mutations.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// `body` cut into random pieces of 0 to `max` bytes.
pub(super) fn random_split<'a>(body: &'a [u8], rng: &mut Rng, max: usize) -> Vec<&'a [u8]> {
    let mut pieces = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let n = rng.below(max + 1).min(rest.len());
        let (piece, tail) = rest.split_at(n);
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

/// `body` with one random edit: a bit flipped, a byte removed or a byte inserted.
pub(super) fn mutate(body: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut mutated = body.to_vec();
    let at = rng.below(mutated.len());
    match rng.below(3) {
        0 => mutated[at] ^= 1 << rng.below(8),
        1 => {
            mutated.remove(at);
        }
        _ => mutated.insert(at, rng.next() as u8),
    }
    mutated
}

/// `body` one byte at a time.
pub(super) fn bytewise(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    body.chunks(1)
}

/// The chunks as slices, for the encoders.
pub(super) fn refs(chunks: &[Vec<u8>]) -> Vec<&[u8]> {
    chunks.iter().map(Vec::as_slice).collect()
}

/// Payload bytes that are not all the same, so misplaced data shows.
pub(super) fn pattern(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt))
        .collect()
}

/// Where `needle` first occurs in `hay`.
pub(super) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Where `needle` last occurs in `hay`.
pub(super) fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}
