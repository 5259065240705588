//! JWT bearer-token verification, as the `jwt` auth plugin does it on every request of a route
//! that uses it.
//!
//! A JWT route pays [`JwtPlugin::authenticate`] per request (IGV and samtools send a Range
//! request per block, each with its token), so its cost bounds the request rate of such routes.
//! Measured through the plugin's public entry point, so the number includes finding the token in
//! `Authorization: Bearer`, reading its header, picking the key by algorithm, verifying the
//! signature with jsonwebtoken's pure-Rust backend, checking `exp`/`iss`/`aud`/`sub` and
//! resolving a `users/{sub}/` grant template:
//!
//! - `jwt/hs256`: HMAC-SHA256 with a 32-byte secret (the cheap, shared-secret case);
//! - `jwt/es256`: ECDSA P-256 with the public key of `plugins/jwt/testdata/` (what most
//!   identity providers issue besides RS256).
//!
//! The same token is sent every time, as a client does, so with the default config these two
//! measure the plugin's cache of verified tokens (a hit: no signature, no JSON). The
//! `_uncached` variants set `cache_seconds: 0`: every request verifies in full, which is also
//! what the first request of each token costs.
//!
//! `authenticate` is async only for the trait's sake: it never awaits I/O, so it is driven with
//! `now_or_never`, and setup checks that it completes and authenticates. Tokens are minted in
//! setup, valid for an hour.

use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

use bucketgate_plugin::{Plugin, RequestView, Verdict};
use bucketgate_plugin_jwt::{JwtConfig, JwtPlugin};
use criterion::{criterion_group, criterion_main, Criterion};
use futures_util::FutureExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

const SECRET: &str = "bench-only-secret-0123456789abcdef";

fn testdata(name: &str) -> String {
    format!("{}/plugins/jwt/testdata/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A plugin as a route would configure it: one pinned key, issuer, audience and a grant;
/// `extra` adds settings.
fn plugin(key_yaml: &str, extra: &str) -> JwtPlugin {
    let yaml = format!(
        "keys: [{key_yaml}]\n\
         issuer: https://idp.example.com/\n\
         audience: bucketgate\n\
         grants: [{{bucket: genomics, prefix: 'users/{{sub}}/', operations: [read, write]}}]\n\
         {extra}\n"
    );
    let cfg: JwtConfig = serde_yaml::from_str(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    JwtPlugin::new(&cfg).unwrap()
}

fn token(alg: Algorithm, key: &EncodingKey) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({
        "sub": "alice",
        "iss": "https://idp.example.com/",
        "aud": "bucketgate",
        "iat": now,
        "exp": now + 3600,
    });
    jsonwebtoken::encode(&Header::new(alg), &claims, key).unwrap()
}

fn request(token: &str) -> RequestView {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    headers.insert(http::header::RANGE, "bytes=0-65535".parse().unwrap());
    RequestView {
        method: http::Method::GET,
        path: "/files/users/alice/sample.bam".into(),
        query: String::new(),
        headers,
        client_addr: None,
        route: "genomes".into(),
        tls: false,
    }
}

/// Runs `authenticate` to completion; it never awaits, so anything but `Some` is a bug.
fn authenticate(plugin: &JwtPlugin, req: &RequestView) -> Verdict {
    plugin
        .authenticate(req)
        .now_or_never()
        .expect("JwtPlugin::authenticate awaited something")
}

fn bench_jwt(c: &mut Criterion) {
    let hs_key = format!("{{algorithm: HS256, secret: {SECRET}}}");
    let hs_token = token(
        Algorithm::HS256,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    );
    let es_key = format!(
        "{{algorithm: ES256, pem_file: '{}'}}",
        testdata("ec256_public.pem")
    );
    let ec_pem = std::fs::read(testdata("ec256_private.pem")).unwrap();
    let es_token = token(
        Algorithm::ES256,
        &EncodingKey::from_ec_pem(&ec_pem).unwrap(),
    );
    let cases = [
        ("hs256", plugin(&hs_key, ""), &hs_token),
        (
            "hs256_uncached",
            plugin(&hs_key, "cache_seconds: 0"),
            &hs_token,
        ),
        ("es256", plugin(&es_key, ""), &es_token),
        (
            "es256_uncached",
            plugin(&es_key, "cache_seconds: 0"),
            &es_token,
        ),
    ];

    let mut group = c.benchmark_group("jwt");
    for (name, plugin, token) in cases {
        let req = request(token);
        match authenticate(&plugin, &req) {
            Verdict::Authenticated(identity) => assert_eq!(identity.subject, "alice"),
            Verdict::Reject(r) => panic!("{name}: token rejected: {}", r.log_reason),
            _ => panic!("{name}: the plugin did not take the token"),
        }
        group.bench_function(name, |b| b.iter(|| authenticate(&plugin, black_box(&req))));
    }
    group.finish();
}

criterion_group!(benches, bench_jwt);
criterion_main!(benches);
