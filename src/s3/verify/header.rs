//! Authentication with the `Authorization` header (what awscli, boto3, rclone and the SDKs
//! send): parse it, check the date against the credential scope and the clock, read the
//! declared payload, and hand the claim to [`super::claim`].

use std::time::SystemTime;

use pingora_http::RequestHeader;

use super::claim::{self, Claim};
use super::error::S3AuthError;
use super::keys::KeyStore;
use super::request::RequestView;
use super::verified::{AuthMethod, Verified};
use super::{authorization, canonical, credential, payload, time};
use crate::s3::sign::canonical_query_pairs;

fn malformed(reason: &'static str) -> S3AuthError {
    S3AuthError::AuthorizationHeaderMalformed { reason }
}

/// Verifies a request signed with an `Authorization: AWS4-HMAC-SHA256 ...` header, at `now`.
///
/// S3's rules: `x-amz-date` (or `Date` without it) within 15 minutes of `now`, on the
/// credential scope's date; service `s3`; `host` signed, and every `x-amz-*` header present
/// signed; `x-amz-content-sha256` present; for aws-chunked bodies
/// `x-amz-decoded-content-length` (and `x-amz-trailer` with trailers). The region is whatever
/// the client signed for (see [`Verified::scope`]).
pub fn verify_header<K: KeyStore>(
    req: &RequestHeader,
    keys: &K,
    now: SystemTime,
) -> Result<Verified<K::Identity>, S3AuthError> {
    let req = RequestView::of(req);
    let value = match req.single_header("authorization") {
        Ok(Some(value)) => value,
        Ok(None) => {
            return Err(S3AuthError::AccessDenied {
                reason: "Access Denied",
            })
        }
        Err(()) => return Err(malformed("send exactly one Authorization header in ASCII.")),
    };
    let auth = authorization::parse(value)?;
    let credential = credential::parse(auth.credential).map_err(malformed)?;
    let signed = canonical::parse_signed_headers(auth.signed_headers).map_err(malformed)?;
    let signature = canonical::parse_signature(auth.signature).map_err(malformed)?;
    let signed_at = time::header_signed_at(req.headers)?;
    if credential.date.as_bytes() != signed_at.date() {
        return Err(malformed(credential::DATE_MISMATCH));
    }
    time::check_skew(signed_at.time, now)?;
    let payload = payload::header_payload(req.headers)?;
    let token = req
        .single_header("x-amz-security-token")
        .map_err(|()| S3AuthError::InvalidToken)?;
    let claim = Claim {
        credential,
        signed_at,
        signed,
        signed_line: auth.signed_headers,
        signature,
        payload,
        token,
        query: req.query.map(canonical_query_pairs).unwrap_or_default(),
        method: AuthMethod::Header,
    };
    claim::verify(&req, claim, keys)
}
