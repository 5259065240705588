//! Verifying the SigV4 signatures of requests signed with the *caller's* keys (awscli, boto3,
//! rclone, the SDKs), so the S3-compatible frontend can accept them. The signer's
//! canonicalization ([`super::sign`]) is reused, so what bucketgate signs and what it accepts
//! are computed by the same code.
//!
//! - [`verify_request`] picks the method: `Authorization` header, presigned URL, or none.
//! - [`verify_header`] / [`verify_presigned`] check one method.
//! - A [`KeyStore`] supplies secrets; a [`Verified`] comes back, with the identity, the
//!   declared [`PayloadHash`], and the signing key, timestamp, scope and seed signature that
//!   an aws-chunked body's chunk signatures chain from (see `super::chunked`).
//! - Every failure is an [`S3AuthError`] with S3's code, status and message; none carries
//!   secret or signature material, and no input makes the verifier panic.

mod authorization;
mod canonical;
mod claim;
mod credential;
mod error;
mod header;
mod keys;
mod payload;
mod presigned;
mod request;
mod time;
mod verified;

#[cfg(test)]
mod tests;

use std::time::SystemTime;

use pingora_http::RequestHeader;

pub use error::S3AuthError;
pub use header::verify_header;
pub use keys::{KeyStore, Secret};
pub use payload::PayloadHash;
pub use presigned::verify_presigned;
pub use verified::{AuthMethod, Scope, SigningKey, Verified};

/// Whether `req` carries any S3 authentication (header, presigned SigV4, or SigV2 parameters),
/// good or bad. A request without any may be a browser's sign-in (`?auth`).
pub fn carries_credentials(req: &RequestHeader) -> bool {
    let query = req.uri.query().unwrap_or("");
    req.headers.contains_key(http::header::AUTHORIZATION)
        || presigned::has_presigned_params(query)
        || presigned::has_sigv2_params(query)
}

/// Verifies whichever SigV4 authentication `req` carries. `Ok(None)`: none at all (an
/// anonymous request; whether to serve it is the caller's decision).
///
/// Both an `Authorization` header and presigned-URL parameters is S3's `InvalidArgument`, as
/// is SigV2 (`AWSAccessKeyId` in the query, or an `AWS ` header, which
/// [`verify_header`] refuses).
pub fn verify_request<K: KeyStore>(
    req: &RequestHeader,
    keys: &K,
    now: SystemTime,
) -> Result<Option<Verified<K::Identity>>, S3AuthError> {
    let query = req.uri.query().unwrap_or("");
    let header = req.headers.contains_key(http::header::AUTHORIZATION);
    let presigned = presigned::has_presigned_params(query);
    if presigned::has_sigv2_params(query) && !presigned {
        return Err(S3AuthError::InvalidArgument {
            reason: "Unsupported Authorization Type",
        });
    }
    match (header, presigned) {
        (true, true) => Err(S3AuthError::InvalidArgument {
            reason: "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, \
                     Signature query string parameter or the Authorization header should be \
                     specified",
        }),
        (true, false) => verify_header(req, keys, now).map(Some),
        (false, true) => verify_presigned(req, keys, now).map(Some),
        (false, false) => Ok(None),
    }
}
