//! The half of verification both methods share: given what a request claims (parsed from its
//! `Authorization` header or its `X-Amz-*` query parameters, and already checked against the
//! clock), look the key up, check the session token, recompute the signature over the
//! canonical request with the signer's own canonicalization, and compare in constant time.

use hmac::Mac;
use sha2::{Digest, Sha256};

use super::canonical::{check_amz_headers_signed, path_candidates};
use super::credential::Credential;
use super::error::S3AuthError;
use super::keys::KeyStore;
use super::payload::Declared;
use super::request::RequestView;
use super::time::SignedAt;
use super::verified::{AuthMethod, Scope, SigningKey, Verified};
use crate::s3::sign::{
    derive_signing_key, hex_lower, signatures_equal, string_to_sign, CanonicalRequest, QueryPair,
    SERVICE,
};

/// Everything a request claims about its signature, parsed and validated for form.
pub(super) struct Claim<'a> {
    pub(super) credential: Credential<'a>,
    pub(super) signed_at: SignedAt,
    /// Signed header names, in the client's order.
    pub(super) signed: Vec<&'a str>,
    /// The `SignedHeaders` list as sent.
    pub(super) signed_line: &'a str,
    pub(super) signature: [u8; 32],
    pub(super) payload: Declared<'a>,
    /// The session token the request carries.
    pub(super) token: Option<&'a str>,
    /// The canonical query (for presigned URLs, without `X-Amz-Signature`).
    pub(super) query: Vec<QueryPair>,
    pub(super) method: AuthMethod,
}

/// Checks `claim` for `req` against `keys`.
pub(super) fn verify<K: KeyStore>(
    req: &RequestView<'_>,
    claim: Claim<'_>,
    keys: &K,
) -> Result<Verified<K::Identity>, S3AuthError> {
    check_amz_headers_signed(req.headers, &claim.signed)?;
    let secret = keys
        .secret(claim.credential.access_key_id)
        .ok_or(S3AuthError::InvalidAccessKeyId)?;
    check_token(secret.session_token.as_deref(), claim.token)?;
    let key = SigningKey::new(derive_signing_key(
        secret.secret_access_key.as_bytes(),
        claim.credential.date.as_bytes(),
        claim.credential.region.as_bytes(),
    ));
    check_signature(req, &claim, &key)?;
    Ok(Verified {
        access_key_id: claim.credential.access_key_id.to_owned(),
        scope: Scope {
            date: claim.credential.date.to_owned(),
            region: claim.credential.region.to_owned(),
            service: SERVICE.to_owned(),
        },
        timestamp: claim.signed_at.as_str().to_owned(),
        signed_at: claim.signed_at.time,
        method: claim.method,
        payload_hash: claim.payload.hash,
        decoded_content_length: claim.payload.decoded_content_length,
        seed_signature: String::from_utf8_lossy(&hex_lower(&claim.signature)).into_owned(),
        signing_key: key,
        signed_headers: claim.signed.iter().map(|&n| n.to_owned()).collect(),
        identity: secret.identity,
    })
}

/// Temporary credentials need their token; long-term keys must not come with one.
fn check_token(expected: Option<&str>, sent: Option<&str>) -> Result<(), S3AuthError> {
    match (expected, sent) {
        (None, None) => Ok(()),
        (Some(expected), Some(sent)) if digest_eq(expected.as_bytes(), sent.as_bytes()) => Ok(()),
        _ => Err(S3AuthError::InvalidToken),
    }
}

/// Equality that takes the same time wherever the inputs differ: compares SHA-256 digests.
fn digest_eq(a: &[u8], b: &[u8]) -> bool {
    signatures_equal(&Sha256::digest(a).into(), &Sha256::digest(b).into())
}

/// Recomputes the signature for each canonical URI the path may have been signed as; the MAC
/// comparison (`verify_slice`) is constant-time.
fn check_signature(
    req: &RequestView<'_>,
    claim: &Claim<'_>,
    key: &SigningKey,
) -> Result<(), S3AuthError> {
    for path in path_candidates(req.path) {
        let canonical_hex = CanonicalRequest {
            method: req.method,
            path: &path,
            query: &claim.query,
            headers: req.headers,
            signed: &claim.signed,
            signed_line: claim.signed_line,
            host_fallback: req.authority,
            payload_hash: claim.payload.line,
        }
        .sha256_hex();
        let mac = string_to_sign(
            key.mac(),
            &claim.signed_at.date_time,
            claim.credential.scope.as_bytes(),
            &canonical_hex,
        );
        if mac.verify_slice(&claim.signature).is_ok() {
            return Ok(());
        }
    }
    Err(S3AuthError::SignatureDoesNotMatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        assert!(check_token(None, None).is_ok());
        assert!(check_token(Some("t"), Some("t")).is_ok());
        assert_eq!(check_token(Some("t"), None), Err(S3AuthError::InvalidToken));
        assert_eq!(check_token(None, Some("t")), Err(S3AuthError::InvalidToken));
        assert_eq!(
            check_token(Some("t"), Some("u")),
            Err(S3AuthError::InvalidToken)
        );
        assert_eq!(
            check_token(Some("t"), Some("tt")),
            Err(S3AuthError::InvalidToken)
        );
    }
}
