//! Authentication with a presigned URL (`X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`,
//! `X-Amz-Expires`, `X-Amz-SignedHeaders`, `X-Amz-Signature`, optionally
//! `X-Amz-Security-Token` and `X-Amz-Content-Sha256` in the query): parse them, enforce the
//! validity window, and hand the claim to [`super::claim`].

use std::time::{Duration, SystemTime};

use pingora_http::RequestHeader;

use super::claim::{self, Claim};
use super::error::S3AuthError;
use super::keys::KeyStore;
use super::request::RequestView;
use super::verified::{AuthMethod, Verified};
use super::{canonical, credential, payload, time};
use crate::s3::sign::{canonical_query_pairs, form_decode, ALGORITHM};

/// The longest lifetime S3 accepts for a presigned URL: seven days.
const MAX_EXPIRES: u64 = 604_800;

const SIGNATURE_PARAM: &str = "X-Amz-Signature";

fn query_error(reason: &'static str) -> S3AuthError {
    S3AuthError::AuthorizationQueryParametersError { reason }
}

/// The authentication parameters of a presigned URL, form-decoded.
#[derive(Default)]
struct Params {
    algorithm: Option<String>,
    credential: Option<String>,
    date: Option<String>,
    expires: Option<String>,
    signed_headers: Option<String>,
    signature: Option<String>,
    security_token: Option<String>,
    content_sha256: Option<String>,
}

/// The raw `(name, value)` pairs of a query, empty pieces skipped.
fn raw_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| piece.split_once('=').unwrap_or((piece, "")))
}

/// Whether any query parameter's (decoded) name is one of `names`.
fn has_param(query: &str, names: &[&str]) -> bool {
    raw_pairs(query).any(|(name, _)| names.contains(&form_decode(name).as_str()))
}

impl Params {
    fn parse(query: &str) -> Result<Params, S3AuthError> {
        let mut p = Params::default();
        for (name, value) in raw_pairs(query) {
            let slot = match form_decode(name).as_str() {
                "X-Amz-Algorithm" => &mut p.algorithm,
                "X-Amz-Credential" => &mut p.credential,
                "X-Amz-Date" => &mut p.date,
                "X-Amz-Expires" => &mut p.expires,
                "X-Amz-SignedHeaders" => &mut p.signed_headers,
                SIGNATURE_PARAM => &mut p.signature,
                "X-Amz-Security-Token" => &mut p.security_token,
                "X-Amz-Content-Sha256" => &mut p.content_sha256,
                _ => continue,
            };
            if slot.replace(form_decode(value)).is_some() {
                return Err(query_error(
                    "Query-string authentication parameters must appear only once.",
                ));
            }
        }
        Ok(p)
    }
}

/// Seconds, 1..=604800, digits only.
fn parse_expires(value: &str) -> Result<Duration, S3AuthError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(query_error("X-Amz-Expires should be a number"));
    }
    match value.parse::<u64>() {
        Ok(0) => Err(query_error("X-Amz-Expires must be greater than 0")),
        Ok(secs) if secs <= MAX_EXPIRES => Ok(Duration::from_secs(secs)),
        _ => Err(query_error(
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        )),
    }
}

/// Verifies a request authenticated by a presigned URL, at `now`.
///
/// The signature covers the query without `X-Amz-Signature` (with `X-Amz-Security-Token`),
/// the headers in `X-Amz-SignedHeaders` (`host` at least), and `UNSIGNED-PAYLOAD` unless the
/// URL carries `X-Amz-Content-Sha256`. The URL is valid from `X-Amz-Date` (15 minutes of clock
/// skew allowed) to `X-Amz-Date + X-Amz-Expires`; after that it is S3's `AccessDenied`,
/// "Request has expired".
pub fn verify_presigned<K: KeyStore>(
    req: &RequestHeader,
    keys: &K,
    now: SystemTime,
) -> Result<Verified<K::Identity>, S3AuthError> {
    let req = RequestView::of(req);
    let raw_query = req.query.unwrap_or("");
    let params = Params::parse(raw_query)?;
    let (
        Some(algorithm),
        Some(credential),
        Some(date),
        Some(expires),
        Some(signed_line),
        Some(signature),
    ) = (
        params.algorithm.as_deref(),
        params.credential.as_deref(),
        params.date.as_deref(),
        params.expires.as_deref(),
        params.signed_headers.as_deref(),
        params.signature.as_deref(),
    )
    else {
        return Err(query_error(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, \
             X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and \
             X-Amz-Expires parameters.",
        ));
    };
    if algorithm != ALGORITHM {
        return Err(query_error(
            "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"",
        ));
    }
    let credential = credential::parse(credential).map_err(query_error)?;
    let signed_at = time::parse_amz_date(date).ok_or_else(|| {
        query_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    })?;
    if credential.date.as_bytes() != signed_at.date() {
        return Err(query_error(credential::DATE_MISMATCH));
    }
    let expires = parse_expires(expires)?;
    let expires_at = time::check_presigned_window(signed_at.time, expires, now)?;
    let signed = canonical::parse_signed_headers(signed_line).map_err(query_error)?;
    let signature = canonical::parse_signature(signature).map_err(query_error)?;
    let payload = payload::presigned_payload(params.content_sha256.as_deref())?;
    let mut query = canonical_query_pairs(raw_query);
    query.retain(|(name, _, _)| name != SIGNATURE_PARAM);
    let claim = Claim {
        credential,
        signed_at,
        signed,
        signed_line,
        signature,
        payload,
        token: params.security_token.as_deref(),
        query,
        method: AuthMethod::Presigned { expires_at },
    };
    claim::verify(&req, claim, keys)
}

/// Whether the query carries SigV4 presigned-URL parameters.
pub(super) fn has_presigned_params(query: &str) -> bool {
    has_param(
        query,
        &["X-Amz-Algorithm", "X-Amz-Credential", SIGNATURE_PARAM],
    )
}

/// Whether the query carries SigV2 presigned-URL parameters (`AWSAccessKeyId`).
pub(super) fn has_sigv2_params(query: &str) -> bool {
    has_param(query, &["AWSAccessKeyId"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires() {
        assert_eq!(parse_expires("1").unwrap(), Duration::from_secs(1));
        assert_eq!(
            parse_expires("604800").unwrap(),
            Duration::from_secs(604_800)
        );
        for bad in [
            "",
            "0",
            "604801",
            "-1",
            "+5",
            "1e3",
            " 5",
            "99999999999999999999999",
        ] {
            assert_eq!(
                parse_expires(bad).unwrap_err().code(),
                "AuthorizationQueryParametersError",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn params() {
        let p = Params::parse(
            "X-Amz-Credential=AK%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&a=b&X-Amz-Security-Token=a%2Bb+c&uploads",
        )
        .unwrap();
        assert_eq!(
            p.credential.as_deref(),
            Some("AK/20130524/us-east-1/s3/aws4_request")
        );
        assert_eq!(p.security_token.as_deref(), Some("a+b c"));
        assert!(p.signature.is_none());
        assert!(Params::parse("X-Amz-Date=1&X-Amz-Date=1").is_err());
        // Names are matched decoded, like the canonical query sees them.
        assert!(Params::parse("X-Amz-Date=1&X%2DAmz-Date=1").is_err());
    }

    #[test]
    fn detection() {
        assert!(has_presigned_params("a=1&X-Amz-Signature=x"));
        assert!(has_presigned_params("X-Amz-Algorithm"));
        assert!(!has_presigned_params("x-amz-signature=x&list-type=2"));
        assert!(has_sigv2_params("AWSAccessKeyId=AK&Signature=s&Expires=1"));
        assert!(!has_sigv2_params("prefix=AWSAccessKeyId"));
    }
}
