//! Every supported algorithm family verifies: HMAC from `secret`, RSA / EC / Ed25519 from a PEM
//! file and from a JWKS file.

use jsonwebtoken::Algorithm as A;
use jsonwebtoken::EncodingKey;

use super::support::*;

#[test]
fn hmac_from_secret() {
    for (alg, name, secret) in [
        (A::HS256, "HS256", SECRET32),
        (A::HS384, "HS384", SECRET48),
        (A::HS512, "HS512", SECRET64),
    ] {
        let p = plugin(&format!(
            "keys: [{{algorithm: {name}, secret: \"{secret}\"}}]"
        ));
        let token = sign(
            alg,
            &EncodingKey::from_secret(secret.as_bytes()),
            None,
            &claims(),
        );
        assert_eq!(accepted(&p, &token).subject, "alice", "{name}");
    }
}

#[test]
fn rsa_from_pem() {
    for (alg, name) in [
        (A::RS256, "RS256"),
        (A::RS384, "RS384"),
        (A::RS512, "RS512"),
        (A::PS256, "PS256"),
        (A::PS384, "PS384"),
        (A::PS512, "PS512"),
    ] {
        let p = plugin(&format!(
            "keys: [{{algorithm: {name}, pem_file: TD/rsa_public.pem}}]"
        ));
        let token = sign(alg, &rsa_key(), None, &claims());
        assert_eq!(accepted(&p, &token).subject, "alice", "{name}");
    }
}

#[test]
fn rsa_from_pkcs1_pem() {
    use rsa::pkcs1::EncodeRsaPublicKey as _;
    use rsa::pkcs8::DecodePublicKey as _;
    let spki = String::from_utf8(read("rsa_public.pem")).unwrap();
    let key = rsa::RsaPublicKey::from_public_key_pem(&spki).unwrap();
    let pkcs1 = key.to_pkcs1_pem(rsa::pkcs1::LineEnding::LF).unwrap();
    assert!(pkcs1.contains("BEGIN RSA PUBLIC KEY"));
    let file = TempFile::new(&pkcs1);
    let p = plugin(&format!(
        "keys: [{{algorithm: RS256, pem_file: {}}}]",
        file.0
    ));
    accepted(&p, &sign(A::RS256, &rsa_key(), None, &claims()));
}

#[test]
fn ec_and_ed25519_from_pem() {
    let p = plugin(
        "keys:
           - {algorithm: ES256, pem_file: TD/ec256_public.pem}
           - {algorithm: ES384, pem_file: TD/ec384_public.pem}
           - {algorithm: EdDSA, pem_file: TD/ed25519_public.pem}",
    );
    accepted(&p, &sign(A::ES256, &ec256_key(), None, &claims()));
    accepted(&p, &sign(A::ES384, &ec384_key(), None, &claims()));
    accepted(&p, &sign(A::EdDSA, &ed_key(), None, &claims()));
}

/// Also shows that testdata/jwks.json holds the same public keys as the PEM files.
#[test]
fn jwks_file_matches_the_pem_keys() {
    let p = plugin("keys: [{jwks_file: TD/jwks.json}]");
    for (alg, key, kid) in [
        (A::RS256, rsa_key(), "rsa1"),
        (A::ES256, ec256_key(), "ec1"),
        (A::EdDSA, ed_key(), "ed1"),
    ] {
        accepted(&p, &sign(alg, &key, Some(kid), &claims()));
        // Without a kid every key of the right algorithm is a candidate.
        accepted(&p, &sign(alg, &key, None, &claims()));
    }
}

#[test]
fn jwks_keys_are_pinned_to_their_alg() {
    let p = plugin("keys: [{jwks_file: TD/jwks.json}]");
    // rsa1 is an RS256 key: the same RSA key signing PS256 or RS512 does not verify.
    rejected(
        &p,
        &sign(A::PS256, &rsa_key(), Some("rsa1"), &claims()),
        "no key",
    );
    rejected(
        &p,
        &sign(A::RS512, &rsa_key(), None, &claims()),
        "no key for alg RS512",
    );
}

#[test]
fn jwks_entry_algorithm_fills_a_missing_alg() {
    let jwks: serde_json::Value = serde_json::from_slice(&read("jwks.json")).unwrap();
    let mut rsa = jwks["keys"][0].clone();
    rsa.as_object_mut().unwrap().remove("alg");
    let file = TempFile::new(&serde_json::json!({"keys": [rsa]}).to_string());
    let p = plugin(&format!(
        "keys: [{{jwks_file: {}, algorithm: PS256}}]",
        file.0
    ));
    accepted(&p, &sign(A::PS256, &rsa_key(), Some("rsa1"), &claims()));
    rejected(
        &p,
        &sign(A::RS256, &rsa_key(), Some("rsa1"), &claims()),
        "no key",
    );
}

#[test]
fn jwks_entry_algorithm_skips_other_algs() {
    // Pinned to EdDSA: the RSA and EC keys of the file are not loaded.
    let p = plugin("keys: [{jwks_file: TD/jwks.json, algorithm: EdDSA}]");
    accepted(&p, &sign(A::EdDSA, &ed_key(), Some("ed1"), &claims()));
    rejected(
        &p,
        &sign(A::RS256, &rsa_key(), Some("rsa1"), &claims()),
        "no key",
    );
}

#[test]
fn identity_carries_subject_plugin_and_claims() {
    let p = plugin(&format!(
        "keys: [{{algorithm: HS256, secret: \"{SECRET32}\"}}]"
    ));
    let c = claims_with(serde_json::json!({"email": "a@example.com"}));
    let id = accepted(
        &p,
        &sign(
            A::HS256,
            &EncodingKey::from_secret(SECRET32.as_bytes()),
            None,
            &c,
        ),
    );
    assert_eq!(id.subject, "alice");
    assert_eq!(id.plugin, "jwt");
    assert_eq!(id.claims["email"], "a@example.com");
    assert_eq!(id.claims, *c.as_object().unwrap());
}
