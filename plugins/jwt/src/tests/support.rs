//! Helpers for the tests: test keys, token signing, configs from YAML, requests, and a
//! minimal executor for `authenticate` (which never awaits anything).

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bucketgate_plugin::{Identity, Plugin, Rejection, RequestView, Verdict};
use jsonwebtoken::{Algorithm as A, EncodingKey, Header};
use serde_json::{json, Value};

use crate::cache::TokenCache;
use crate::clock::Clock;
use crate::remote::Timing;
use crate::{JwtConfig, JwtPlugin};

/// A 32-byte HS256 test secret (48 and 64 bytes for HS384 and HS512 below).
pub const SECRET32: &str = "test-only-secret-0123456789abcdef";
pub const SECRET48: &str = "test-only-secret-0123456789abcdef0123456789abcdef";
pub const SECRET64: &str = "test-only-secret-0123456789abcdef0123456789abcdef0123456789abcdef";

/// The path of a file in testdata/.
pub fn td(name: &str) -> String {
    format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"))
}

pub fn read(name: &str) -> Vec<u8> {
    std::fs::read(td(name)).unwrap()
}

pub fn rsa_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(&read("rsa_private.pem")).unwrap()
}

pub fn ec256_key() -> EncodingKey {
    EncodingKey::from_ec_pem(&read("ec256_private.pem")).unwrap()
}

pub fn ec384_key() -> EncodingKey {
    EncodingKey::from_ec_pem(&read("ec384_private.pem")).unwrap()
}

pub fn ed_key() -> EncodingKey {
    EncodingKey::from_ed_pem(&read("ed25519_private.pem")).unwrap()
}

pub fn now() -> u64 {
    crate::clock::unix_now()
}

/// Claims of a token valid for ten minutes, for subject alice.
pub fn claims() -> Value {
    json!({"sub": "alice", "exp": now() + 600, "iat": now()})
}

/// `claims()` with some fields replaced (a null removes the field).
pub fn claims_with(changes: Value) -> Value {
    let mut c = claims();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

pub fn sign(alg: A, key: &EncodingKey, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

/// A token with an arbitrary header, signed with `alg` (None: an empty signature).
/// An HS256 token signed with [`SECRET32`].
pub fn hs(claims: &Value) -> String {
    sign(
        A::HS256,
        &EncodingKey::from_secret(SECRET32.as_bytes()),
        None,
        claims,
    )
}

pub fn raw_token(header: &Value, claims: &Value, key: Option<(&EncodingKey, A)>) -> String {
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = match key {
        Some((key, alg)) => jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap(),
        None => String::new(),
    };
    format!("{message}.{signature}")
}

/// A config from YAML; `TD/` is replaced by the testdata directory.
pub fn config(yaml: &str) -> JwtConfig {
    let yaml = yaml.replace("TD/", &td(""));
    serde_yaml::from_str(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

pub fn plugin(yaml: &str) -> JwtPlugin {
    JwtPlugin::new(&config(yaml)).unwrap()
}

/// A plugin whose jwks_url refresher runs with short test intervals.
pub fn plugin_fast(yaml: &str) -> JwtPlugin {
    let timing = Timing {
        first_timeout: std::time::Duration::from_secs(3),
        timeout: std::time::Duration::from_secs(3),
        min_early: std::time::Duration::ZERO,
        retry: std::time::Duration::from_millis(200),
    };
    JwtPlugin::with_timing(&config(yaml), timing).unwrap()
}

/// A plugin whose clock is the returned cell (set to `now()` to start), with `cache` as its
/// token cache (None: the one its config asks for).
pub fn plugin_with_clock(yaml: &str, cache: Option<TokenCache>) -> (JwtPlugin, Arc<AtomicU64>) {
    let cfg = config(yaml);
    let time = Arc::new(AtomicU64::new(now()));
    let cache = cache.unwrap_or_else(|| TokenCache::new(cfg.cache_seconds));
    let plugin =
        JwtPlugin::with_parts(&cfg, Timing::default(), Clock::Manual(time.clone()), cache).unwrap();
    (plugin, time)
}

/// How many tokens the plugin verified in full (its cache misses).
pub fn verifications(plugin: &JwtPlugin) -> usize {
    plugin.verifications.load(Ordering::SeqCst)
}

pub fn request(headers: &[(&str, &str)], query: &str) -> RequestView {
    let mut map = http::HeaderMap::new();
    for (k, v) in headers {
        map.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    RequestView {
        method: http::Method::GET,
        path: "/data/key".into(),
        query: query.into(),
        headers: map,
        client_addr: None,
        route: "test".into(),
        tls: false,
    }
}

pub fn bearer(token: &str) -> RequestView {
    request(&[("authorization", &format!("Bearer {token}"))], "")
}

/// Runs a future that never waits on anything (as `authenticate` is).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

pub fn authenticate(plugin: &JwtPlugin, req: &RequestView) -> Verdict {
    block_on(plugin.authenticate(req))
}

/// The identity of a token sent as a Bearer header; panics with the reason otherwise.
pub fn accepted(plugin: &JwtPlugin, token: &str) -> Identity {
    match authenticate(plugin, &bearer(token)) {
        Verdict::Authenticated(identity) => identity,
        other => panic!("expected Authenticated, got {other:?}"),
    }
}

/// The rejection of a token sent as a Bearer header, checked for shape; its log reason must
/// contain `reason`.
pub fn rejected(plugin: &JwtPlugin, token: &str, reason: &str) -> Rejection {
    match authenticate(plugin, &bearer(token)) {
        Verdict::Reject(r) => {
            check_rejection(&r, token);
            assert!(
                r.log_reason.contains(reason),
                "log reason {:?} does not contain {reason:?}",
                r.log_reason
            );
            r
        }
        other => panic!("expected Reject ({reason}), got {other:?}"),
    }
}

/// Every rejection looks the same to the client, and its log reason never holds the token.
pub fn check_rejection(r: &Rejection, token: &str) {
    assert_eq!(r.status, 401);
    assert_eq!(r.public_message, "invalid token");
    assert_eq!(
        r.headers,
        vec![(
            "www-authenticate".to_owned(),
            "Bearer realm=\"bucketgate\", error=\"invalid_token\"".to_owned()
        )]
    );
    if token.len() > 8 {
        assert!(!r.log_reason.contains(token), "token in {:?}", r.log_reason);
    }
    for part in token.split('.').filter(|p| p.len() > 16) {
        assert!(
            !r.log_reason.contains(part),
            "token part in {:?}",
            r.log_reason
        );
    }
}

/// A file in the temp dir that is removed when dropped.
pub struct TempFile(pub String);

impl TempFile {
    pub fn new(contents: &str) -> TempFile {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "bucketgate-jwt-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, contents).unwrap();
        TempFile(path.to_string_lossy().into_owned())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
