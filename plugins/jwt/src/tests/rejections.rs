//! Every way a token can be bad is a 401 with a precise log reason: time claims, issuer,
//! audience, wrong key, `alg: none`, HS-with-a-public-key, malformed tokens, missing `exp`,
//! `kid` mismatch, an algorithm the key is not pinned to.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bucketgate_plugin::Verdict;
use jsonwebtoken::Algorithm as A;
use jsonwebtoken::EncodingKey;
use serde_json::json;

use super::support::*;

fn hs_plugin(extra: &str) -> crate::JwtPlugin {
    plugin(&format!(
        "keys: [{{algorithm: HS256, secret: \"{SECRET32}\"}}]\n{extra}"
    ))
}

#[test]
fn expired() {
    let p = hs_plugin("leeway_seconds: 30");
    rejected(
        &p,
        &hs(&claims_with(json!({"exp": now() - 100}))),
        "token expired",
    );
    // Within the leeway.
    accepted(&p, &hs(&claims_with(json!({"exp": now() - 10}))));
    // The default leeway is 30 s too.
    let p = hs_plugin("");
    rejected(
        &p,
        &hs(&claims_with(json!({"exp": now() - 60}))),
        "token expired",
    );
}

#[test]
fn not_yet_valid() {
    let p = hs_plugin("leeway_seconds: 30");
    rejected(
        &p,
        &hs(&claims_with(json!({"nbf": now() + 100}))),
        "not yet valid",
    );
    accepted(&p, &hs(&claims_with(json!({"nbf": now() + 10}))));
    accepted(&p, &hs(&claims_with(json!({"nbf": now() - 10}))));
}

#[test]
fn time_claims_must_be_numbers() {
    let p = hs_plugin("");
    rejected(
        &p,
        &hs(&claims_with(json!({"exp": "tomorrow"}))),
        "exp is not a number",
    );
    rejected(
        &p,
        &hs(&claims_with(json!({"nbf": [1]}))),
        "nbf is not a number",
    );
    // Huge values do not overflow anything.
    accepted(&p, &hs(&claims_with(json!({"exp": u64::MAX}))));
    rejected(&p, &hs(&claims_with(json!({"exp": -1}))), "token expired");
    accepted(&p, &hs(&claims_with(json!({"exp": 1e300}))));
}

#[test]
fn missing_exp() {
    let p = hs_plugin("");
    rejected(
        &p,
        &hs(&claims_with(json!({"exp": null}))),
        "token has no exp",
    );
}

#[test]
fn wrong_issuer() {
    let p = hs_plugin("issuer: https://idp.example.com/");
    accepted(
        &p,
        &hs(&claims_with(json!({"iss": "https://idp.example.com/"}))),
    );
    rejected(
        &p,
        &hs(&claims_with(json!({"iss": "https://evil.example/"}))),
        "wrong issuer",
    );
    rejected(
        &p,
        &hs(&claims_with(json!({"iss": ["https://idp.example.com/"]}))),
        "wrong issuer",
    );
    rejected(&p, &hs(&claims()), "token has no iss");
    // Without `issuer`, iss is not checked.
    accepted(&hs_plugin(""), &hs(&claims_with(json!({"iss": "anyone"}))));
}

#[test]
fn wrong_audience() {
    let p = hs_plugin("audience: bucketgate");
    accepted(&p, &hs(&claims_with(json!({"aud": "bucketgate"}))));
    accepted(
        &p,
        &hs(&claims_with(json!({"aud": ["other", "bucketgate"]}))),
    );
    rejected(
        &p,
        &hs(&claims_with(json!({"aud": "other"}))),
        "wrong audience",
    );
    rejected(
        &p,
        &hs(&claims_with(json!({"aud": ["other"]}))),
        "wrong audience",
    );
    rejected(&p, &hs(&claims_with(json!({"aud": 7}))), "wrong audience");
    rejected(&p, &hs(&claims()), "token has no aud");
}

#[test]
fn wrong_key() {
    // Another HMAC secret.
    let p = hs_plugin("");
    let other = EncodingKey::from_secret(b"another-test-secret-0123456789abcdef");
    rejected(
        &p,
        &sign(A::HS256, &other, None, &claims()),
        "signature invalid",
    );

    // Another P-256 public key than the one that signed.
    use p256::elliptic_curve::sec1::ToEncodedPoint as _;
    let other = p256::SecretKey::from_slice(&[7u8; 32])
        .unwrap()
        .public_key();
    let point = other.to_encoded_point(false);
    let jwks = json!({"keys": [{
        "kty": "EC", "crv": "P-256", "alg": "ES256", "kid": "ec1",
        "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
        "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()),
    }]});
    let file = TempFile::new(&jwks.to_string());
    let p = plugin(&format!("keys: [{{jwks_file: {}}}]", file.0));
    rejected(
        &p,
        &sign(A::ES256, &ec256_key(), Some("ec1"), &claims()),
        "signature invalid",
    );
}

#[test]
fn tampered_payload() {
    let p = plugin("keys: [{algorithm: RS256, pem_file: TD/rsa_public.pem}]");
    let token = sign(A::RS256, &rsa_key(), None, &claims());
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(claims_with(json!({"sub": "root"})).to_string());
    rejected(&p, &parts.join("."), "signature invalid");
}

#[test]
fn alg_none() {
    let p = hs_plugin("");
    for alg in ["none", "None", "NONE"] {
        let token = raw_token(&json!({"alg": alg, "typ": "JWT"}), &claims(), None);
        rejected(&p, &token, "alg none");
    }
}

/// The classic confusion: an HS256 token whose HMAC secret is the RSA public key PEM. Keys
/// from a PEM file or a JWKS are never HMAC keys, so there is no key for HS256 at all.
#[test]
fn hs256_signed_with_the_public_key_pem() {
    let public_pem = read("rsa_public.pem");
    let forged = sign(
        A::HS256,
        &EncodingKey::from_secret(&public_pem),
        None,
        &claims(),
    );
    let p = plugin(
        "keys:
           - {algorithm: RS256, pem_file: TD/rsa_public.pem}
           - {jwks_file: TD/jwks.json}",
    );
    rejected(&p, &forged, "no key for alg HS256");
    let forged_kid = sign(
        A::HS256,
        &EncodingKey::from_secret(&public_pem),
        Some("rsa1"),
        &claims(),
    );
    rejected(&p, &forged_kid, "no key for kid \"rsa1\" / alg HS256");

    // With a real HS256 key configured too, the forged token is still only tried with it.
    let p = plugin(&format!(
        "keys:
           - {{algorithm: RS256, pem_file: TD/rsa_public.pem}}
           - {{algorithm: HS256, secret: \"{SECRET32}\"}}"
    ));
    rejected(&p, &forged, "signature invalid (1 candidate keys tried)");
    // And the legitimate RS256 token still passes.
    accepted(&p, &sign(A::RS256, &rsa_key(), None, &claims()));
}

#[test]
fn malformed_tokens() {
    let p = hs_plugin("");
    let good = hs(&claims());
    let parts: Vec<&str> = good.split('.').collect();
    let cases = [
        ("abc".to_owned(), "3"),
        ("a.b".to_owned(), "segments"),
        (format!("{good}.x.y"), "5 segments"),
        ("!!!.b.c".to_owned(), "not base64url"),
        (
            format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode("not json"),
                parts[1],
                parts[2]
            ),
            "not JSON",
        ),
        (
            format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode("[1]"),
                parts[1],
                parts[2]
            ),
            "not a JSON object",
        ),
        (
            format!("{}.{}.{}", URL_SAFE_NO_PAD.encode("{}"), parts[1], parts[2]),
            "no alg",
        ),
        (
            format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(r#"{"alg":5}"#),
                parts[1],
                parts[2]
            ),
            "alg is not a string",
        ),
        (
            format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"XX999"}"#),
                parts[1],
                parts[2]
            ),
            "unsupported alg",
        ),
        (
            format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","kid":1}"#),
                parts[1],
                parts[2]
            ),
            "kid is not a string",
        ),
        (format!("{}.{}.%%%", parts[0], parts[1]), "malformed"),
        (
            format!("{}.%%%.{}", parts[0], parts[2]),
            "signature invalid",
        ),
        (format!("{}.{}.", parts[0], parts[1]), "signature invalid"),
        ("..".to_owned(), "malformed"),
        ("x".repeat(20_000), "too long"),
    ];
    for (token, reason) in cases {
        rejected(&p, &token, reason);
    }
}

#[test]
fn payload_must_be_an_object() {
    let p = hs_plugin("");
    let key = EncodingKey::from_secret(SECRET32.as_bytes());
    for payload in [json!([1, 2]), json!("x"), json!(null)] {
        let token = raw_token(&json!({"alg": "HS256"}), &payload, Some((&key, A::HS256)));
        rejected(&p, &token, "malformed");
    }
}

#[test]
fn crit_headers_are_refused() {
    let p = hs_plugin("");
    let key = EncodingKey::from_secret(SECRET32.as_bytes());
    let token = raw_token(
        &json!({"alg": "HS256", "crit": ["exp"], "exp": 1}),
        &claims(),
        Some((&key, A::HS256)),
    );
    rejected(&p, &token, "crit");
}

#[test]
fn never_panics_on_garbage() {
    let p = hs_plugin("");
    let good = hs(&claims());
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet = b"abcXYZ019-_.=+/ {}\":,";
    for _ in 0..2000 {
        let mut token = good.clone().into_bytes();
        for _ in 0..(next() % 4 + 1) {
            let i = (next() as usize) % token.len();
            token[i] = alphabet[(next() as usize) % alphabet.len()];
        }
        let token = String::from_utf8(token).unwrap();
        if let Verdict::Reject(r) = authenticate(&p, &bearer(&token)) {
            check_rejection(&r, &token);
        }
    }
}

#[test]
fn kid_mismatch() {
    let p = plugin("keys: [{kid: main, algorithm: RS256, pem_file: TD/rsa_public.pem}]");
    rejected(
        &p,
        &sign(A::RS256, &rsa_key(), Some("other"), &claims()),
        "no key for kid \"other\" / alg RS256",
    );
    accepted(&p, &sign(A::RS256, &rsa_key(), Some("main"), &claims()));
    // A token without kid may use a key with one; a key without kid takes any token kid.
    accepted(&p, &sign(A::RS256, &rsa_key(), None, &claims()));
    let p = plugin("keys: [{algorithm: RS256, pem_file: TD/rsa_public.pem}]");
    accepted(&p, &sign(A::RS256, &rsa_key(), Some("whatever"), &claims()));
}

#[test]
fn alg_not_pinned() {
    let p = plugin("keys: [{algorithm: RS256, pem_file: TD/rsa_public.pem}]");
    // The same RSA key, another algorithm than the pinned one.
    rejected(
        &p,
        &sign(A::PS256, &rsa_key(), None, &claims()),
        "no key for alg PS256",
    );
    rejected(
        &p,
        &sign(A::RS512, &rsa_key(), None, &claims()),
        "no key for alg RS512",
    );
    let p = plugin(&format!(
        "keys: [{{algorithm: HS512, secret: \"{SECRET64}\"}}]"
    ));
    let key = EncodingKey::from_secret(SECRET64.as_bytes());
    rejected(
        &p,
        &sign(A::HS256, &key, None, &claims()),
        "no key for alg HS256",
    );
}

#[test]
fn subject_claim_is_required() {
    let p = hs_plugin("");
    rejected(
        &p,
        &hs(&claims_with(json!({"sub": null}))),
        "subject claim \"sub\"",
    );
    rejected(
        &p,
        &hs(&claims_with(json!({"sub": ""}))),
        "subject claim \"sub\"",
    );
    rejected(
        &p,
        &hs(&claims_with(json!({"sub": 42}))),
        "subject claim \"sub\"",
    );
    rejected(
        &p,
        &hs(&claims_with(json!({"sub": "a\nb"}))),
        "control characters",
    );
    let p = hs_plugin("subject_claim: email");
    rejected(&p, &hs(&claims()), "subject claim \"email\"");
    let id = accepted(&p, &hs(&claims_with(json!({"email": "a@example.com"}))));
    assert_eq!(id.subject, "a@example.com");
}
