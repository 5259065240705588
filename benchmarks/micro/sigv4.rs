//! SigV4 on the request path: signing what bucketgate forwards upstream, and verifying what a
//! client signed.
//!
//! Every forwarded request is re-signed, so [`Signer::sign`] is paid once per request. Its
//! design claim (README, "Our own canonical request") is that building the canonical request
//! itself, streamed into SHA-256 with the signing key cached per day, is cheaper than calling
//! `aws-sigv4`. This bench measures both on the same two requests in the same run, so the
//! README can state the cost as a ratio rather than an absolute number:
//!
//! - `sign/get` (a ranged, conditional GET) and `sign/put_meta` (a PUT with `Content-Type` and
//!   three `x-amz-meta-*` headers), each with:
//!   - `bucketgate`: [`Signer::sign`], signing key cached (the steady state);
//!   - `bucketgate_uncached`: a new [`Signer`] per request, so the four-HMAC key derivation is
//!     paid every time (isolates what the cache saves);
//!   - `aws_sigv4`: `aws_sigv4::http_request::sign` with the S3 settings (`PercentEncodingMode::
//!     Single`, `UriPathNormalizationMode::Disabled`, `PayloadChecksumKind::XAmzSha256`,
//!     `UNSIGNED-PAYLOAD`), doing what a proxy built on it would do per request: take the
//!     headers to sign from the same Pingora `RequestHeader`, build the params for this request's
//!     time, sign, and write the output headers back on the request.
//!
//!   Setup checks that both produce the byte-identical `Authorization` header, so the two
//!   variants do exactly the same work. Cloning the template request is outside the timing.
//! - `verify/header_get`: [`verify_header`] on a GET signed by our [`Signer`] (HashMap key
//!   store), what the S3-compatible frontend will pay per request.
//! - `verify/presigned_get`: [`verify_presigned`] on a presigned GET URL made by `aws-sigv4`
//!   (as an SDK's `presign` would), valid for an hour.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign as aws_sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest,
    SignatureLocation, SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_runtime_api::client::identity::Identity;
use bucketgate::s3::verify::{verify_header, verify_presigned, Secret};
use bucketgate::s3::{encode_key_path, Signer, UNSIGNED_PAYLOAD};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use pingora_http::RequestHeader;

const AK: &str = "AKIDBUCKETGATEBENCH";
const SK: &str = "bench/secret+key0123456789abcdefghijklmn";
const REGION: &str = "us-east-1";
const HOST: &str = "s3.us-east-1.amazonaws.com";
/// 2023-11-14T22:13:20Z: fixed, so the cached signing key is always today's.
const NOW: u64 = 1_700_000_000;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// The signer's header rule (private in `bucketgate::s3::sign`): what aws-sigv4 is given.
fn is_signed_header(name: &str) -> bool {
    matches!(name, "host" | "content-type" | "content-md5") || name.starts_with("x-amz-")
}

/// One request as bucketgate forwards it: path-style, key already encoded, headers filtered by
/// the header policy, not yet signed.
struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, &'static str)>,
}

impl Case {
    fn request(&self) -> RequestHeader {
        let mut req = RequestHeader::build(self.method, self.path.as_bytes(), None).unwrap();
        for (k, v) in &self.headers {
            req.append_header(*k, *v).unwrap();
        }
        req
    }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "get",
            method: "GET",
            path: format!(
                "/genomics/{}",
                encode_key_path("cohort-7/users/alice/reads v2/sample.bam")
            ),
            headers: vec![
                ("host", HOST),
                ("range", "bytes=1048576-2097151"),
                ("if-none-match", "\"9b2cf535f27731c974343645a3985328\""),
            ],
        },
        Case {
            name: "put_meta",
            method: "PUT",
            path: format!(
                "/genomics/{}",
                encode_key_path("cohort-7/users/alice/uploads/report (final).pdf")
            ),
            headers: vec![
                ("host", HOST),
                ("content-length", "1048576"),
                ("content-type", "application/pdf"),
                ("expect", "100-continue"),
                ("x-amz-meta-author", "alice"),
                ("x-amz-meta-project", "cohort-7"),
                ("x-amz-meta-source", "bucketgate upload, v1"),
            ],
        },
    ]
}

fn s3_settings() -> SigningSettings {
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    settings
}

/// Signs `req` in place with aws-sigv4, the way a proxy built on it would.
fn aws_sign_in_place(req: &mut RequestHeader, identity: &Identity, now: SystemTime) {
    let instructions = {
        let host = req.headers["host"].to_str().unwrap();
        let uri = format!("https://{host}{}", req.uri);
        let headers = req
            .headers
            .iter()
            .filter(|(name, _)| is_signed_header(name.as_str()))
            .map(|(name, value)| (name.as_str(), value.to_str().unwrap()));
        let params = SigningParams::builder()
            .identity(identity)
            .region(REGION)
            .name("s3")
            .time(now)
            .settings(s3_settings())
            .build()
            .unwrap()
            .into();
        let signable = SignableRequest::new(
            req.method.as_str(),
            uri,
            headers,
            SignableBody::UnsignedPayload,
        )
        .unwrap();
        let (instructions, _signature) = aws_sign(signable, &params).unwrap().into_parts();
        instructions
    };
    let (headers, _query) = instructions.into_parts();
    for header in headers {
        let (name, value) = (header.name(), header.value().to_owned());
        req.insert_header(name, value).unwrap();
    }
}

fn bench_sign(c: &mut Criterion) {
    let signer = Signer::new(AK, SK, None, REGION);
    let identity: Identity = Credentials::new(AK, SK, None, None, "bench").into();
    for case in cases() {
        let template = case.request();

        // Both signers must produce the same Authorization header, or the comparison is moot.
        let mut ours = template.clone();
        signer.sign(&mut ours, UNSIGNED_PAYLOAD, at(NOW));
        let mut theirs = template.clone();
        aws_sign_in_place(&mut theirs, &identity, at(NOW));
        assert_eq!(
            ours.headers["authorization"], theirs.headers["authorization"],
            "{}: bucketgate and aws-sigv4 disagree",
            case.name
        );

        let mut group = c.benchmark_group(format!("sign/{}", case.name));
        group.bench_function("bucketgate", |b| {
            b.iter_batched_ref(
                || template.clone(),
                |req| signer.sign(black_box(req), UNSIGNED_PAYLOAD, at(NOW)),
                BatchSize::SmallInput,
            )
        });
        group.bench_function("bucketgate_uncached", |b| {
            b.iter_batched_ref(
                || template.clone(),
                |req| {
                    let fresh = Signer::new(AK, SK, None, REGION);
                    fresh.sign(black_box(req), UNSIGNED_PAYLOAD, at(NOW))
                },
                BatchSize::SmallInput,
            )
        });
        group.bench_function("aws_sigv4", |b| {
            b.iter_batched_ref(
                || template.clone(),
                |req| aws_sign_in_place(black_box(req), &identity, at(NOW)),
                BatchSize::SmallInput,
            )
        });
        group.finish();
    }
}

/// A presigned GET URL (path and query), made by aws-sigv4 as an SDK's `presign` would.
fn presigned_target(path: &str, identity: &Identity, signed_at: SystemTime) -> String {
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(3600));
    let params = SigningParams::builder()
        .identity(identity)
        .region(REGION)
        .name("s3")
        .time(signed_at)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let uri = format!("https://{HOST}{path}");
    let signable = SignableRequest::new(
        "GET",
        uri.as_str(),
        [("host", HOST)].into_iter(),
        SignableBody::UnsignedPayload,
    )
    .unwrap();
    let (instructions, _signature) = aws_sign(signable, &params).unwrap().into_parts();
    let mut request = http::Request::builder().uri(uri).body(()).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    request.uri().path_and_query().unwrap().to_string()
}

fn bench_verify(c: &mut Criterion) {
    let mut keys = HashMap::new();
    keys.insert(AK.to_owned(), Secret::new(SK, "alice"));
    let signer = Signer::new(AK, SK, None, REGION);
    let mut group = c.benchmark_group("verify");

    // A GET signed with the Authorization header, as awscli or boto3 send it.
    let get = &cases()[0];
    let mut signed = get.request();
    signer.sign(&mut signed, UNSIGNED_PAYLOAD, at(NOW));
    let check_at = at(NOW + 60);
    assert!(verify_header(&signed, &keys, check_at).is_ok());
    group.bench_function("header_get", |b| {
        b.iter(|| verify_header(black_box(&signed), &keys, check_at).unwrap())
    });

    // The same object through a presigned URL.
    let identity: Identity = Credentials::new(AK, SK, None, None, "bench").into();
    let target = presigned_target(&get.path, &identity, at(NOW));
    let mut presigned = RequestHeader::build("GET", target.as_bytes(), None).unwrap();
    presigned.append_header("host", HOST).unwrap();
    if let Err(e) = verify_presigned(&presigned, &keys, check_at) {
        panic!("presigned URL {target} does not verify: {e}");
    }
    group.bench_function("presigned_get", |b| {
        b.iter(|| verify_presigned(black_box(&presigned), &keys, check_at).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench_sign, bench_verify);
criterion_main!(benches);
