//! JWT authentication end to end, through the real bucketgate binary in front of a real S3
//! server: a token signed with each supported algorithm family (HS256 from a `secret`, RS256,
//! ES256, ES384 and EdDSA from PEM files, RS256/ES256/EdDSA from a `jwks_file`) reads an object;
//! expired, not-yet-valid, wrong-issuer, wrong-audience, wrongly signed, tampered, `alg: none`,
//! key-confusion (HS256 keyed with the RSA public key) and malformed tokens get 401 with
//! `error="invalid_token"` and a body and log free of the token and of key material; a request
//! without a token, or with the token where the route does not look, gets the plain Bearer
//! challenge. Tokens are minted here with the `jsonwebtoken` crate and the test-only keys of
//! `plugins/jwt/testdata/`.

mod common;

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use common::client::{self, request, Response};
use common::fresh_bucket;
use common::gateway::{config_with_routes, Gateway};
use common::upstream::Upstream;

const ISSUER: &str = "https://issuer.test/";
const AUDIENCE: &str = "bucketgate";
/// The route's HS256 secret (at least 32 bytes).
const SECRET: &str = "auth-jwt-test-secret-0123456789-abcdefghij";
/// The challenge of a request that carried no token the route looks for.
const PLAIN_CHALLENGE: &str = "Bearer realm=\"bucketgate\"";
const OBJECT: &str = "doc/report.txt";
const BODY: &[u8] = b"only for token holders\n";

fn testdata(name: &str) -> String {
    format!("{}/plugins/jwt/testdata/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn read_testdata(name: &str) -> Vec<u8> {
    std::fs::read(testdata(name)).unwrap_or_else(|e| panic!("reading {}: {e}", testdata(name)))
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Claims every route of this file accepts: right issuer and audience, valid for 10 minutes.
fn good_claims(sub: &str) -> Value {
    let t = now();
    json!({"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "iat": t, "exp": t + 600})
}

/// `good_claims` with one claim changed (`Value::Null` removes it).
fn claims_with(name: &str, value: Value) -> Value {
    let mut c = good_claims("alice");
    let map = c.as_object_mut().unwrap();
    if value.is_null() {
        map.remove(name);
    } else {
        map.insert(name.into(), value);
    }
    c
}

fn sign(alg: Algorithm, key: &EncodingKey, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).expect("signing a test token")
}

fn hs256_key() -> EncodingKey {
    EncodingKey::from_secret(SECRET.as_bytes())
}

fn rsa_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(&read_testdata("rsa_private.pem")).unwrap()
}

fn ec256_key() -> EncodingKey {
    EncodingKey::from_ec_pem(&read_testdata("ec256_private.pem")).unwrap()
}

fn ec384_key() -> EncodingKey {
    EncodingKey::from_ec_pem(&read_testdata("ec384_private.pem")).unwrap()
}

fn ed_key() -> EncodingKey {
    EncodingKey::from_ed_pem(&read_testdata("ed25519_private.pem")).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with a hand-written header, signed (over that header) with `key` as `sign_as`.
fn forge(header: &Value, claims: &Value, key: &EncodingKey, sign_as: Algorithm) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), key, sign_as).expect("signing");
    format!("{input}.{sig}")
}

/// An RSA key nobody configured, made now with `openssl genpkey`.
fn fresh_rsa_key() -> EncodingKey {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other_rsa.pem");
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&path)
        .output()
        .expect("running openssl genpkey (openssl must be installed)");
    assert!(
        out.status.success(),
        "openssl genpkey failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    EncodingKey::from_rsa_pem(&std::fs::read(&path).unwrap()).unwrap()
}

/// One `jwt:` auth section granting read on the whole bucket, with these `keys:` entries.
fn jwt_route(name: &str, prefix: &str, bucket: &str, keys: &[String], extra: &str) -> String {
    let keys: String = keys
        .iter()
        .map(|k| format!("            - {k}\n"))
        .collect();
    format!(
        "  - name: {name}
    path_prefix: {prefix}
    upstream: s3
    bucket: {bucket}
    methods: [GET, HEAD]
    auth:
      - jwt:
          keys:
{keys}          issuer: \"{ISSUER}\"
          audience: {AUDIENCE}
{extra}          grants:
            - {{bucket: \"{bucket}\", prefix: \"\", operations: [read]}}
"
    )
}

/// A gateway with three routes on one bucket holding [`OBJECT`]:
/// - `/files`: HS256 secret and RS256, ES256, ES384, EdDSA PEM files, header only;
/// - `/jwks`: only `jwks.json` (kids rsa1, ec1, ed1);
/// - `/rsa`: only the RSA public key (the setting key confusion attacks).
fn gateway() -> (Gateway, String) {
    let bucket = fresh_bucket("jwt");
    Upstream::get().put_object(&bucket, OBJECT, BODY, &[("content-type", "text/plain")]);
    let pem =
        |alg: &str, file: &str| format!("{{algorithm: {alg}, pem_file: \"{}\"}}", testdata(file));
    let files = jwt_route(
        "files",
        "/files",
        &bucket,
        &[
            format!("{{algorithm: HS256, secret: \"{SECRET}\"}}"),
            pem("RS256", "rsa_public.pem"),
            pem("ES256", "ec256_public.pem"),
            pem("ES384", "ec384_public.pem"),
            pem("EdDSA", "ed25519_public.pem"),
        ],
        "          token_from: [header]\n",
    );
    let jwks = jwt_route(
        "jwks",
        "/jwks",
        &bucket,
        &[format!("{{jwks_file: \"{}\"}}", testdata("jwks.json"))],
        "",
    );
    let rsa = jwt_route(
        "rsa",
        "/rsa",
        &bucket,
        &[pem("RS256", "rsa_public.pem")],
        "",
    );
    let gw = Gateway::start(&config_with_routes(&format!("routes:\n{files}{jwks}{rsa}")));
    (gw, bucket)
}

fn get_with_token(gw: &Gateway, path: &str, token: &str) -> Response {
    let auth = format!("Bearer {token}");
    request(gw.addr(), "GET", path, &[("Authorization", &auth)], None)
}

/// Problems with a 401 for a rejected token, or None when it is exactly that.
fn rejection_problems(r: &Response, token: &str, want_challenge_error: bool) -> Option<String> {
    let mut problems = Vec::new();
    if r.status != 401 {
        problems.push(format!("status {} (want 401)", r.status));
    }
    let challenges = r.header_all("www-authenticate");
    let has_error = challenges
        .iter()
        .any(|c| c.contains("error=\"invalid_token\""));
    if challenges.is_empty() || !challenges.iter().all(|c| c.starts_with("Bearer")) {
        problems.push(format!(
            "challenge {challenges:?} (want a Bearer challenge)"
        ));
    }
    if want_challenge_error && !has_error {
        problems.push(format!(
            "challenge {challenges:?} lacks error=\"invalid_token\""
        ));
    }
    if !want_challenge_error && challenges != [PLAIN_CHALLENGE] {
        problems.push(format!(
            "challenge {challenges:?} (want exactly {PLAIN_CHALLENGE:?}: no token was found)"
        ));
    }
    let text = r.text();
    if r.body.windows(BODY.len()).any(|w| w == BODY) {
        problems.push("the object's body was served".into());
    }
    for leak in secret_material(token) {
        if text.contains(&leak) {
            problems.push(format!("the body contains {leak:?}: {text}"));
        }
    }
    if r.status == 401
        && serde_json::from_slice::<Value>(&r.body)
            .ok()
            .map(|v| v["error"].clone())
            != Some(json!("unauthorized"))
    {
        problems.push(format!(
            "body is not {{\"error\":\"unauthorized\",..}}: {text}"
        ));
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// Strings that must never appear in a response or a log line: the token, its signature, the
/// HMAC secret and a piece of each PEM key.
fn secret_material(token: &str) -> Vec<String> {
    let mut out = vec![SECRET.to_string(), "BEGIN".into(), "PRIVATE KEY".into()];
    if token.len() >= 16 {
        out.push(token.to_string());
    }
    if let Some(sig) = token.rsplit('.').next().filter(|s| s.len() >= 20) {
        out.push(sig.to_string());
    }
    for pem in ["rsa_public.pem", "rsa_private.pem", "ec256_private.pem"] {
        let text = String::from_utf8(read_testdata(pem)).unwrap();
        // The second line of a PEM is base64 of the key itself.
        if let Some(line) = text.lines().nth(1) {
            out.push(line.to_string());
        }
    }
    out
}

#[test]
fn every_algorithm_family_reads_the_object() {
    let (gw, _bucket) = gateway();
    let claims = good_claims("alice");
    let cases = [
        (
            "HS256 secret",
            "/files",
            sign(Algorithm::HS256, &hs256_key(), None, &claims),
        ),
        (
            "RS256 PEM",
            "/files",
            sign(Algorithm::RS256, &rsa_key(), None, &claims),
        ),
        (
            "ES256 PEM",
            "/files",
            sign(Algorithm::ES256, &ec256_key(), None, &claims),
        ),
        (
            "ES384 PEM",
            "/files",
            sign(Algorithm::ES384, &ec384_key(), None, &claims),
        ),
        (
            "EdDSA PEM",
            "/files",
            sign(Algorithm::EdDSA, &ed_key(), None, &claims),
        ),
        (
            "RS256 JWKS rsa1",
            "/jwks",
            sign(Algorithm::RS256, &rsa_key(), Some("rsa1"), &claims),
        ),
        (
            "ES256 JWKS ec1",
            "/jwks",
            sign(Algorithm::ES256, &ec256_key(), Some("ec1"), &claims),
        ),
        (
            "EdDSA JWKS ed1",
            "/jwks",
            sign(Algorithm::EdDSA, &ed_key(), Some("ed1"), &claims),
        ),
        (
            "RS256 only-RSA route",
            "/rsa",
            sign(Algorithm::RS256, &rsa_key(), None, &claims),
        ),
    ];
    let mut failures = Vec::new();
    for (label, prefix, token) in &cases {
        let r = get_with_token(&gw, &format!("{prefix}/{OBJECT}"), token);
        if r.status != 200 || r.body != BODY {
            failures.push(format!("{label}: {} {}", r.status, r.text()));
        }
    }
    assert!(
        failures.is_empty(),
        "valid tokens refused:\n{}\nlog:\n{}",
        failures.join("\n"),
        gw.log()
    );

    // The scheme name is case-insensitive (RFC 7235), and HEAD is a read too.
    let token = &cases[0].2;
    let lower = format!("bearer {token}");
    let r = request(
        gw.addr(),
        "GET",
        &format!("/files/{OBJECT}"),
        &[("authorization", &lower)],
        None,
    );
    r.assert_status(200);
    assert_eq!(r.body, BODY);
    let auth = format!("Bearer {token}");
    let h = request(
        gw.addr(),
        "HEAD",
        &format!("/files/{OBJECT}"),
        &[("Authorization", &auth)],
        None,
    );
    h.assert_status(200);
    assert_eq!(
        h.header("content-length"),
        Some(BODY.len().to_string().as_str())
    );

    // Accepted tokens are not logged either.
    let log = gw.wait_for_log("status=200", std::time::Duration::from_secs(5));
    for (label, _, token) in &cases {
        assert!(
            !log.contains(token.as_str()),
            "{label}: the token is in the log:\n{log}"
        );
    }
}

#[test]
fn bad_tokens_get_401_invalid_token_without_leaking() {
    let (gw, _bucket) = gateway();
    let t = now();
    let hs = |claims: &Value| sign(Algorithm::HS256, &hs256_key(), None, claims);
    let rs_valid = sign(Algorithm::RS256, &rsa_key(), None, &good_claims("alice"));
    let rsa_public_pem = read_testdata("rsa_public.pem");

    // A valid RS256 token whose payload is swapped for another subject's: signature mismatch.
    let tampered = {
        let parts: Vec<&str> = rs_valid.split('.').collect();
        let payload = b64(good_claims("admin").to_string().as_bytes());
        format!("{}.{payload}.{}", parts[0], parts[2])
    };
    let none_payload = b64(good_claims("alice").to_string().as_bytes());
    let alg_none = format!("{}.{none_payload}.", b64(br#"{"alg":"none","typ":"JWT"}"#));
    let alg_none_mixed = format!("{}.{none_payload}.", b64(br#"{"alg":"nOnE","typ":"JWT"}"#));
    // HS256 with the RSA public key PEM as the HMAC secret: the classic key-confusion attack.
    let confused = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(&rsa_public_pem),
        None,
        &good_claims("alice"),
    );
    let confused_kid = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(&rsa_public_pem),
        Some("rsa1"),
        &good_claims("alice"),
    );
    // Signed with the P-256 key but claiming RS256.
    let ec_as_rs = forge(
        &json!({"alg": "RS256", "typ": "JWT"}),
        &good_claims("alice"),
        &ec256_key(),
        Algorithm::ES256,
    );
    // ES256 signed by the right EC key, but naming the RSA key's kid.
    let wrong_kid = sign(
        Algorithm::ES256,
        &ec256_key(),
        Some("rsa1"),
        &good_claims("alice"),
    );
    let unknown_kid = sign(
        Algorithm::RS256,
        &rsa_key(),
        Some("nope"),
        &good_claims("alice"),
    );
    let other_rsa = sign(
        Algorithm::RS256,
        &fresh_rsa_key(),
        None,
        &good_claims("alice"),
    );
    let other_secret = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(b"another-secret-of-at-least-32-bytes!!"),
        None,
        &good_claims("alice"),
    );

    let cases: Vec<(&str, &str, String)> = vec![
        (
            "expired 10 min ago",
            "/files",
            hs(&claims_with("exp", json!(t - 600))),
        ),
        (
            "nbf in 10 min",
            "/files",
            hs(&claims_with("nbf", json!(t + 600))),
        ),
        ("no exp", "/files", hs(&claims_with("exp", Value::Null))),
        (
            "wrong iss",
            "/files",
            hs(&claims_with("iss", json!("https://evil.test/"))),
        ),
        ("no iss", "/files", hs(&claims_with("iss", Value::Null))),
        (
            "wrong aud",
            "/files",
            hs(&claims_with("aud", json!("someone-else"))),
        ),
        (
            "wrong aud array",
            "/files",
            hs(&claims_with("aud", json!(["a", "b"]))),
        ),
        ("no sub", "/files", hs(&claims_with("sub", Value::Null))),
        (
            "expired RS256 via JWKS",
            "/jwks",
            sign(
                Algorithm::RS256,
                &rsa_key(),
                Some("rsa1"),
                &claims_with("exp", json!(t - 600)),
            ),
        ),
        ("another HMAC secret", "/files", other_secret),
        ("another RSA key", "/files", other_rsa.clone()),
        ("another RSA key, JWKS route", "/jwks", other_rsa),
        ("tampered payload", "/files", tampered.clone()),
        ("tampered payload, RSA route", "/rsa", tampered),
        ("EC signature claiming RS256", "/files", ec_as_rs.clone()),
        ("EC signature claiming RS256, RSA route", "/rsa", ec_as_rs),
        ("alg none", "/files", alg_none.clone()),
        ("alg none, JWKS route", "/jwks", alg_none),
        ("alg nOnE", "/files", alg_none_mixed),
        (
            "HS256 keyed with the RSA public PEM",
            "/files",
            confused.clone(),
        ),
        (
            "HS256 keyed with the RSA public PEM, RSA route",
            "/rsa",
            confused.clone(),
        ),
        (
            "HS256 keyed with the RSA public PEM, JWKS route",
            "/jwks",
            confused,
        ),
        (
            "HS256 keyed with the RSA public PEM, kid rsa1",
            "/jwks",
            confused_kid,
        ),
        ("ES256 naming kid rsa1", "/jwks", wrong_kid),
        ("unknown kid", "/jwks", unknown_kid),
        ("malformed abc.def", "/files", "abc.def".into()),
        (
            "malformed three garbage segments",
            "/files",
            "a%b.c!d.e*f".into(),
        ),
        (
            "malformed header JSON",
            "/files",
            format!("{}.{}.sig", b64(b"not json"), b64(b"{}")),
        ),
    ];

    let mut failures = Vec::new();
    for (label, prefix, token) in &cases {
        let r = get_with_token(&gw, &format!("{prefix}/{OBJECT}"), token);
        if let Some(p) = rejection_problems(&r, token, true) {
            failures.push(format!("{label} on {prefix}: {p}"));
        }
    }
    assert!(
        failures.is_empty(),
        "bad tokens not refused as they should be:\n{}\nlog:\n{}",
        failures.join("\n"),
        gw.log()
    );

    // The refusals are logged with a reason, and never with the token or a key.
    let log = gw.wait_for_log("token expired", std::time::Duration::from_secs(5));
    for (label, _, token) in &cases {
        for leak in secret_material(token) {
            assert!(
                !log.contains(&leak),
                "{label}: the log contains {leak:?}:\n{log}"
            );
        }
    }
}

#[test]
fn no_token_or_token_in_the_wrong_place_gets_the_plain_challenge() {
    let (gw, _bucket) = gateway();
    let token = sign(Algorithm::HS256, &hs256_key(), None, &good_claims("alice"));
    let path = format!("/files/{OBJECT}");

    let none = client::get(gw.addr(), &path);
    if let Some(p) = rejection_problems(&none, "", false) {
        panic!("no token: {p}");
    }

    // `/files` looks in the Authorization header only: a token elsewhere is not a credential.
    let in_query = client::get(gw.addr(), &format!("{path}?access_token={token}"));
    if let Some(p) = rejection_problems(&in_query, &token, false) {
        panic!("token in ?access_token= on a header-only route: {p}");
    }
    let cookie = format!("token={token}");
    let in_cookie = request(gw.addr(), "GET", &path, &[("Cookie", &cookie)], None);
    if let Some(p) = rejection_problems(&in_cookie, &token, false) {
        panic!("token in a cookie on a header-only route: {p}");
    }
    // Another scheme is not a Bearer token either.
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("a:b")
    );
    let other_scheme = request(gw.addr(), "GET", &path, &[("Authorization", &basic)], None);
    if let Some(p) = rejection_problems(&other_scheme, "", false) {
        panic!("Authorization: Basic on a JWT route: {p}");
    }

    // The same token in the header works, so the refusals above were about where it was.
    get_with_token(&gw, &path, &token).assert_status(200);
    let log = gw.wait_for_log("status=200", std::time::Duration::from_secs(5));
    assert!(!log.contains(&token), "the token is in the log:\n{log}");
}

#[test]
fn tokens_from_query_and_cookie_when_configured() {
    let bucket = fresh_bucket("jwtsrc");
    Upstream::get().put_object(&bucket, OBJECT, BODY, &[]);
    let route = jwt_route(
        "anywhere",
        "/files",
        &bucket,
        &[format!("{{algorithm: HS256, secret: \"{SECRET}\"}}")],
        "          token_from: [header, {query: access_token}, {cookie: token}]\n",
    );
    let gw = Gateway::start(&config_with_routes(&format!("routes:\n{route}")));
    let path = format!("/files/{OBJECT}");
    let token = sign(Algorithm::HS256, &hs256_key(), None, &good_claims("alice"));

    let q = client::get(gw.addr(), &format!("{path}?access_token={token}"));
    q.assert_status(200);
    assert_eq!(q.body, BODY);
    let cookie = format!("theme=dark; token={token}");
    let c = request(gw.addr(), "GET", &path, &[("Cookie", &cookie)], None);
    c.assert_status(200);
    assert_eq!(c.body, BODY);
    get_with_token(&gw, &path, &token).assert_status(200);

    // A bad token found in the query is a rejected credential, not a missing one.
    let expired = sign(
        Algorithm::HS256,
        &hs256_key(),
        None,
        &claims_with("exp", json!(now() - 600)),
    );
    let bad = client::get(gw.addr(), &format!("{path}?access_token={expired}"));
    if let Some(p) = rejection_problems(&bad, &expired, true) {
        panic!("expired token in the query: {p}");
    }

    // Query strings are never logged, so neither is a token that came in one.
    let log = gw.wait_for_log("status=401", std::time::Duration::from_secs(5));
    for t in [&token, &expired] {
        assert!(!log.contains(t.as_str()), "a token is in the log:\n{log}");
    }
}
