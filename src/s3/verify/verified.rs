//! What a successful verification hands back: who signed, what they declared about the body,
//! and the key material needed to check the rest of the request later without looking the
//! secret up again. For an aws-chunked body with chunk signatures:
//!
//! ```ignore
//! let client = crate::s3::chunked::ChunkSigningContext::new(
//!     *v.signing_key.as_bytes(),
//!     v.timestamp.as_str(),
//!     v.scope.to_scope_string(),
//!     &v.seed_signature,
//! );
//! ```

use std::fmt;
use std::time::SystemTime;

use super::payload::PayloadHash;
use crate::s3::sign::{hmac_new, HmacSha256};

/// A request whose SigV4 signature checked out.
#[derive(Debug, Clone)]
pub struct Verified<I> {
    /// The access key id the request was signed with.
    pub access_key_id: String,
    /// The credential scope (`date/region/s3/aws4_request`).
    pub scope: Scope,
    /// The signing time as signed, `YYYYMMDDTHHMMSSZ`.
    pub timestamp: String,
    /// The signing time.
    pub signed_at: SystemTime,
    /// Header or query-string authentication.
    pub method: AuthMethod,
    /// What the client declared about the body.
    pub payload_hash: PayloadHash,
    /// `x-amz-decoded-content-length` for aws-chunked bodies.
    pub decoded_content_length: Option<u64>,
    /// The request's signature (lower-case hex): the seed of an aws-chunked signature chain.
    pub seed_signature: String,
    /// kSigning for the scope; chunk signatures are MACed with it.
    pub signing_key: SigningKey,
    /// The lower-case names of the headers the signature covers.
    pub signed_headers: Vec<String>,
    /// From the [`KeyStore`](super::KeyStore)'s [`Secret`](super::Secret).
    pub identity: I,
}

/// The credential scope of a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// `YYYYMMDD`.
    pub date: String,
    /// The region the client signed for (not checked against anything here: the caller
    /// decides which regions it answers for).
    pub region: String,
    /// Always `s3`.
    pub service: String,
}

impl Scope {
    /// `date/region/service/aws4_request`, as in every string-to-sign.
    pub fn to_scope_string(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

/// How the request was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// The `Authorization` header.
    Header,
    /// A presigned URL, valid until `expires_at`.
    Presigned { expires_at: SystemTime },
}

/// A derived SigV4 signing key (kSigning) for one scope. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct SigningKey {
    key: [u8; 32],
}

impl SigningKey {
    pub(super) fn new(key: [u8; 32]) -> SigningKey {
        SigningKey { key }
    }

    /// The raw key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.key
    }

    /// An HMAC-SHA256 keyed with this key.
    pub(super) fn mac(&self) -> HmacSha256 {
        hmac_new(&self.key)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(** redacted **)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_key_debug_is_redacted() {
        let key = SigningKey::new([0xab; 32]);
        assert_eq!(format!("{key:?}"), "SigningKey(** redacted **)");
        assert_eq!(key.as_bytes(), &[0xab; 32]);
    }

    #[test]
    fn scope_string() {
        let scope = Scope {
            date: "20130524".into(),
            region: "us-east-1".into(),
            service: "s3".into(),
        };
        assert_eq!(
            scope.to_scope_string(),
            "20130524/us-east-1/s3/aws4_request"
        );
    }
}
