//! SigV4 for the harness's own direct calls to the upstream, done with `aws-sigv4` rather than
//! bucketgate's signer, so that a bug in bucketgate's signing cannot hide itself by also being
//! in the test setup. Settings are the S3 ones from DESIGN.md section 3.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest,
    SignatureLocation, SigningSettings, UriPathNormalizationMode,
};

pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Everything needed to sign.
#[derive(Clone, Debug)]
pub struct Keys<'a> {
    pub access_key: &'a str,
    pub secret_key: &'a str,
    pub region: &'a str,
}

fn settings() -> SigningSettings {
    let mut s = SigningSettings::default();
    s.percent_encoding_mode = PercentEncodingMode::Single;
    s.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    s.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    s
}

/// Headers that must not be signed (hop-by-hop or rewritten on the way).
fn unsignable(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "expect" | "transfer-encoding" | "connection" | "user-agent" | "content-length"
    ) || name.to_ascii_lowercase().starts_with("x-forwarded-")
}

/// Signs a request to `host` (which must equal the `Host` header that will be sent) and returns
/// the headers to add: `authorization`, `x-amz-date`, `x-amz-content-sha256`.
///
/// `path_and_query` must already be encoded exactly as it will be sent. `payload_hash` is
/// `UNSIGNED-PAYLOAD` or the hex SHA-256 of the body.
pub fn sign_headers(
    keys: &Keys<'_>,
    method: &str,
    host: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    payload_hash: &str,
    time: SystemTime,
) -> Vec<(String, String)> {
    let identity = Credentials::new(keys.access_key, keys.secret_key, None, None, "test").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(keys.region)
        .name("s3")
        .time(time)
        .settings(settings())
        .build()
        .expect("signing params")
        .into();
    let mut to_sign: Vec<(&str, &str)> = vec![("host", host)];
    to_sign.extend(
        headers
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("host") && !unsignable(k))
            .copied(),
    );
    let body = if payload_hash == UNSIGNED_PAYLOAD {
        SignableBody::UnsignedPayload
    } else {
        SignableBody::Precomputed(payload_hash.to_owned())
    };
    let uri = format!("http://{host}{path_and_query}");
    let signable = SignableRequest::new(method, uri.as_str(), to_sign.into_iter(), body)
        .unwrap_or_else(|e| panic!("aws-sigv4 rejects {method} {uri}: {e}"));
    let (instructions, _signature) = sign(signable, &params)
        .unwrap_or_else(|e| panic!("aws-sigv4 failed to sign {method} {uri}: {e}"))
        .into_parts();
    instructions
        .headers()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// A presigned `path?query` (UNSIGNED-PAYLOAD, `X-Amz-*` query parameters) valid for
/// `expires`. `path` must already be encoded; `query` (may be empty) is appended before the
/// signature parameters.
pub fn presign(
    keys: &Keys<'_>,
    method: &str,
    host: &str,
    path: &str,
    query: &str,
    expires: Duration,
) -> String {
    let identity = Credentials::new(keys.access_key, keys.secret_key, None, None, "test").into();
    let mut s = settings();
    s.signature_location = SignatureLocation::QueryParams;
    s.expires_in = Some(expires);
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(keys.region)
        .name("s3")
        .time(SystemTime::now())
        .settings(s)
        .build()
        .expect("signing params")
        .into();
    let pq = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    let uri = format!("http://{host}{pq}");
    let signable = SignableRequest::new(
        method,
        uri.as_str(),
        [("host", host)].into_iter(),
        SignableBody::UnsignedPayload,
    )
    .unwrap_or_else(|e| panic!("aws-sigv4 rejects {method} {uri}: {e}"));
    let (instructions, _) = sign(signable, &params)
        .unwrap_or_else(|e| panic!("aws-sigv4 failed to presign {method} {uri}: {e}"))
        .into_parts();
    let mut out = pq;
    let mut sep = if query.is_empty() { '?' } else { '&' };
    for (k, v) in instructions.params() {
        out.push(sep);
        sep = '&';
        out.push_str(&super::encode_query_component(k));
        out.push('=');
        out.push_str(&super::encode_query_component(v));
    }
    out
}
