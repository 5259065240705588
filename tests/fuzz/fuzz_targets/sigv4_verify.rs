//! SigV4 verification of a raw request head: the `Authorization` header parser and the
//! presigned-URL query parser (`s3::verify::verify_request`, and `verify_header` /
//! `verify_presigned` directly), with the key store and clock of the recordings in
//! tests/data/sigv4 (their corpus seeds are those requests, byte for byte).
//!
//! Properties:
//! - no panic;
//! - no error message carries a secret, the session token or the request's signature;
//! - an accepted request really depends on the secret: the same request under another secret
//!   for the same access key id is refused (no input verifies without the key), the verified
//!   key id is one of the store's, the seed signature is the one sent, and the signing time is
//!   within S3's limits of the clock;
//! - `normalize_query` is idempotent on the request's query (the form bucketgate forwards is a
//!   fixed point of its own canonicalisation).
#![no_main]

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bucketgate::s3::normalize_query;
use bucketgate::s3::verify::{
    verify_header, verify_presigned, verify_request, AuthMethod, S3AuthError, Secret, Verified,
};
use bucketgate_fuzz::http_head;
use libfuzzer_sys::fuzz_target;
use pingora_http::RequestHeader;

const LONG: &str = "AKIDTESTBUCKETGATE01";
const LONG_SECRET: &str = "bgTest/Secret+Key/0123456789abcdefEXAMPLE";
const TEMP: &str = "ASIATESTBUCKETGATE02";
const TEMP_SECRET: &str = "bgTemp/Secret+Key/9876543210ZYXWVUexample";
const TEMP_TOKEN: &str = "FwoGZXIvYXdzEBgaDEXAMPLE+session/token==";
/// tests/data/sigv4/manifest.json: the recordings arrived at 1795499774..=1795499777.
const NOW: u64 = 1_795_499_777;

type Keys = HashMap<String, Secret<&'static str>>;

fn store(long_secret: &str, temp_secret: &str) -> Keys {
    let mut keys = HashMap::new();
    keys.insert(LONG.to_owned(), Secret::new(long_secret, "long-term"));
    keys.insert(
        TEMP.to_owned(),
        Secret::new(temp_secret, "temporary").with_session_token(TEMP_TOKEN),
    );
    keys
}

fn check_error(e: &S3AuthError, signature: Option<&str>) {
    let shown = format!("{e} {e:?} {} {}", e.message(), e.code());
    for secret in [LONG_SECRET, TEMP_SECRET, TEMP_TOKEN]
        .into_iter()
        .chain(signature.filter(|s| s.len() >= 16))
    {
        assert!(!shown.contains(secret), "error {shown:?} leaks {secret:?}");
    }
}

type Verify = fn(&RequestHeader, &Keys, SystemTime) -> Result<Verified<&'static str>, S3AuthError>;

fn check_verified(
    v: &Verified<&'static str>,
    now: SystemTime,
    req: &RequestHeader,
    verify: Verify,
) {
    assert!(
        v.access_key_id == LONG || v.access_key_id == TEMP,
        "{}",
        v.access_key_id
    );
    assert_eq!(v.seed_signature.len(), 64);
    let sent = match &v.method {
        AuthMethod::Header => req
            .headers
            .get("authorization")
            .and_then(|a| a.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase(),
        AuthMethod::Presigned { .. } => req.uri.query().unwrap_or_default().to_ascii_lowercase(),
    };
    assert!(
        sent.contains(&v.seed_signature),
        "seed {} not sent",
        v.seed_signature
    );
    let skew = Duration::from_secs(15 * 60);
    assert!(v.signed_at <= now + skew, "signed in the future");
    let oldest = match v.method {
        AuthMethod::Header => skew,
        AuthMethod::Presigned { expires_at } => {
            assert!(expires_at >= now, "verified after it expired");
            Duration::from_secs(7 * 24 * 3600) + skew
        }
    };
    assert!(v.signed_at + oldest >= now, "signed too long ago");

    // The same request under other secrets must fail.
    let wrong = store(
        "another/secret/for/the/same/key/id0000",
        "another/temporary/secret/key0000",
    );
    match verify(req, &wrong, now) {
        Ok(_) => panic!("verified without the right secret"),
        Err(e) => assert_eq!(e.code(), "SignatureDoesNotMatch", "{e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(req) = http_head::parse(data) else {
        return;
    };
    let keys = store(LONG_SECRET, TEMP_SECRET);
    let now = UNIX_EPOCH + Duration::from_secs(NOW);
    let signature = {
        let auth = req
            .headers
            .get("authorization")
            .and_then(|a| a.to_str().ok());
        let source = auth
            .unwrap_or(req.uri.query().unwrap_or_default())
            .to_owned();
        source
            .find("Signature=")
            .map(|at| source[at + 10..].chars().take(64).collect::<String>())
    };
    match verify_request(&req, &keys, now) {
        Ok(Some(v)) => check_verified(&v, now, &req, |r, k, t| {
            verify_request(r, k, t).map(|v| v.expect("signed"))
        }),
        Ok(None) => {}
        Err(e) => check_error(&e, signature.as_deref()),
    }
    // Each method on its own, whatever the request carries.
    match verify_header(&req, &keys, now) {
        Ok(v) => check_verified(&v, now, &req, verify_header),
        Err(e) => check_error(&e, signature.as_deref()),
    }
    match verify_presigned(&req, &keys, now) {
        Ok(v) => check_verified(&v, now, &req, verify_presigned),
        Err(e) => check_error(&e, signature.as_deref()),
    }
    if let Some(query) = req.uri.query() {
        let once = normalize_query(query);
        assert_eq!(
            normalize_query(&once),
            once,
            "normalize_query({query:?}) is not a fixed point"
        );
    }
});
