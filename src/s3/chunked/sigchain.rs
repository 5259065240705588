//! The SigV4 chunk-signature chain of `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]` bodies:
//! who signs (key, date, scope, seed signature) and the string-to-sign of each chunk and of the
//! trailing headers, each chained from the previous signature.
//!
//! As in the AWS S3 API reference, "Signature Calculations for the Authorization Header:
//! Transferring Payload in Multiple Chunks (Chunked Upload)" and "... Including Trailing
//! Headers": a chunk signs `"AWS4-HMAC-SHA256-PAYLOAD\n" + timestamp + "\n" + scope + "\n" +
//! previous_signature + "\n" + hex(sha256("")) + "\n" + hex(sha256(chunk_data))`, the trailer
//! signs `"AWS4-HMAC-SHA256-TRAILER\n" + timestamp + "\n" + scope + "\n" + previous_signature +
//! "\n" + hex(sha256(canonical_trailers))`, both with HMAC-SHA256 under the SigV4 signing key.

use std::fmt;

use hmac::Mac;
use sha2::Sha256;

use crate::s3::sign::{hex_lower, hmac_new, parse_signature, HmacSha256};

/// hex(sha256("")), the fixed "previous headers" hash of every chunk string-to-sign.
const EMPTY_SHA256_HEX: &[u8; 64] =
    b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Who signs a chunk chain: the SigV4 signing key and the request's date, scope and own
/// (seed) signature.
#[derive(Clone)]
pub struct ChunkSigningContext {
    signing_key: [u8; 32],
    timestamp: String,
    scope: String,
    seed_signature: [u8; 32],
}

impl ChunkSigningContext {
    /// `signing_key` is the derived SigV4 key (`aws_sigv4::sign::v4::generate_signing_key`),
    /// `timestamp` the request's `x-amz-date` (`20130524T000000Z`), `scope` its credential scope
    /// (`20130524/us-east-1/s3/aws4_request`) and `seed_signature` the hex signature of the
    /// request itself, from which the first chunk's signature is chained.
    ///
    /// `None` when `seed_signature` is not 64 hex digits.
    pub fn new(
        signing_key: [u8; 32],
        timestamp: impl Into<String>,
        scope: impl Into<String>,
        seed_signature: &str,
    ) -> Option<Self> {
        Some(Self {
            signing_key,
            timestamp: timestamp.into(),
            scope: scope.into(),
            seed_signature: parse_signature(seed_signature.as_bytes())?,
        })
    }
}

impl fmt::Debug for ChunkSigningContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkSigningContext")
            .field("signing_key", &"<redacted>")
            .field("timestamp", &self.timestamp)
            .field("scope", &self.scope)
            .field("seed_signature", &hex::encode(self.seed_signature))
            .finish()
    }
}

/// Replaces the 64 hex digits at `at` in `buf` by `sig` (same length): re-signing in place.
pub(crate) fn put_signature(buf: &mut [u8], at: usize, sig: &[u8; 32]) {
    if let Some(slot) = buf.get_mut(at..at + 64) {
        slot.copy_from_slice(&hex_lower(sig));
    }
}

/// A running chunk-signature chain: the keyed HMAC, the fixed string-to-sign prefixes and the
/// previous signature.
#[derive(Clone)]
pub(crate) struct SigChain {
    mac: HmacSha256,
    /// `timestamp + "\n" + scope + "\n"`.
    date_scope: Vec<u8>,
    previous: [u8; 32],
}

impl SigChain {
    pub(crate) fn new(ctx: &ChunkSigningContext) -> Self {
        let mut date_scope = Vec::with_capacity(ctx.timestamp.len() + ctx.scope.len() + 2);
        date_scope.extend_from_slice(ctx.timestamp.as_bytes());
        date_scope.push(b'\n');
        date_scope.extend_from_slice(ctx.scope.as_bytes());
        date_scope.push(b'\n');
        Self {
            mac: hmac_new(&ctx.signing_key),
            date_scope,
            previous: ctx.seed_signature,
        }
    }

    /// The signature the next chunk must carry if its data hashes to `data_sha256`.
    pub(crate) fn chunk_signature(&self, data_sha256: &[u8; 32]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(b"AWS4-HMAC-SHA256-PAYLOAD\n");
        mac.update(&self.date_scope);
        mac.update(&hex_lower(&self.previous));
        mac.update(b"\n");
        mac.update(EMPTY_SHA256_HEX);
        mac.update(b"\n");
        mac.update(&hex_lower(data_sha256));
        mac.finalize().into_bytes().into()
    }

    /// The `x-amz-trailer-signature` of `canonical_trailers` (`name:value\n` lines, sorted by
    /// name, without the signature itself), chained from the final chunk's signature.
    pub(crate) fn trailer_signature(&self, canonical_trailers: &[u8]) -> [u8; 32] {
        let hash: [u8; 32] = <Sha256 as sha2::Digest>::digest(canonical_trailers).into();
        let mut mac = self.mac.clone();
        mac.update(b"AWS4-HMAC-SHA256-TRAILER\n");
        mac.update(&self.date_scope);
        mac.update(&hex_lower(&self.previous));
        mac.update(b"\n");
        mac.update(&hex_lower(&hash));
        mac.finalize().into_bytes().into()
    }

    /// Moves the chain on: `sig` becomes the previous signature.
    pub(crate) fn advance(&mut self, sig: [u8; 32]) {
        self.previous = sig;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::sign::signatures_equal;

    #[test]
    fn parse_signature_rejects_bad_input() {
        assert!(parse_signature(&[b'a'; 64]).is_some());
        assert!(parse_signature(&[b'A'; 64]).is_some());
        assert!(parse_signature(&[b'a'; 63]).is_none());
        assert!(parse_signature(&[b'g'; 64]).is_none());
        assert!(ChunkSigningContext::new([0; 32], "t", "s", "zz").is_none());
    }

    #[test]
    fn debug_hides_the_key() {
        let ctx = ChunkSigningContext::new([7; 32], "t", "s", &"0".repeat(64)).unwrap();
        let shown = format!("{ctx:?}");
        assert!(shown.contains("<redacted>"));
        assert!(!shown.contains("[7, 7"));
    }

    #[test]
    fn constant_time_compare() {
        assert!(signatures_equal(&[1; 32], &[1; 32]));
        let mut b = [1; 32];
        b[31] = 0;
        assert!(!signatures_equal(&[1; 32], &b));
    }
}
