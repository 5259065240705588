//! The config section: the documented YAML deserializes, unknown keys are errors, and
//! `validate` (and `JwtPlugin::new`) report every broken entry at its path, without secrets.

use bucketgate_plugin::ConfigProblem;

use super::support::*;
use crate::{JwtConfig, JwtPlugin, TokenSource};

fn problems(yaml: &str) -> Vec<ConfigProblem> {
    config(yaml).validate()
}

/// Asserts that exactly one problem is reported, at `path`, with `message` in it.
fn one_problem(yaml: &str, path: &str, message: &str) -> ConfigProblem {
    let found = problems(yaml);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].path, path, "{found:#?}");
    assert!(found[0].message.contains(message), "{found:#?}");
    found.into_iter().next().unwrap()
}

#[test]
fn the_documented_schema_deserializes() {
    let cfg = config(&format!(
        r#"
keys:
  - kid: main
    algorithm: RS256
    pem_file: TD/rsa_public.pem
  - algorithm: HS256
    secret: "{SECRET32}"
  - jwks_file: TD/jwks.json
  - jwks_url: http://127.0.0.1:9/jwks.json
    refresh_seconds: 300
issuer: https://idp.example.com/
audience: bucketgate
leeway_seconds: 30
token_from: [header, {{query: access_token}}, {{cookie: jwt}}]
subject_claim: sub
grants:
  - {{bucket: data, prefix: "users/{{sub}}/", operations: [read, write, delete, list]}}
grants_claim: storage
"#
    ));
    assert_eq!(cfg.validate(), vec![]);
    assert_eq!(cfg.keys.len(), 4);
    assert_eq!(
        cfg.token_from,
        vec![
            TokenSource::Header,
            TokenSource::Query("access_token".into()),
            TokenSource::Cookie("jwt".into())
        ]
    );
}

#[test]
fn json_deserializes_the_same() {
    let cfg: JwtConfig = serde_json::from_value(serde_json::json!({
        "keys": [{"jwks_file": td("jwks.json")}],
        "token_from": ["header", {"query": "access_token"}, {"cookie": "jwt"}],
    }))
    .unwrap();
    assert_eq!(cfg.validate(), vec![]);
    assert_eq!(cfg.token_from[2], TokenSource::Cookie("jwt".into()));
}

#[test]
fn defaults() {
    let cfg = config("keys: [{jwks_file: TD/jwks.json}]");
    assert_eq!(cfg.leeway_seconds, 30);
    assert_eq!(cfg.token_from, vec![TokenSource::Header]);
    assert_eq!(cfg.subject_claim, "sub");
    assert!(cfg.grants.is_empty());
    assert_eq!(cfg.issuer, None);
    assert_eq!(cfg.audience, None);
    assert_eq!(cfg.grants_claim, None);
}

#[test]
fn unknown_keys_and_bad_values_are_errors() {
    for yaml in [
        "keys: [{jwks_file: x}]\nissuers: x",
        "keys: [{jwks_file: x, pem: y}]",
        "keys: [{algorithm: none, pem_file: x}]",
        "keys: [{algorithm: rs256, pem_file: x}]",
        "keys: [{jwks_file: x}]\ntoken_from: [{header: x}]",
        "keys: [{jwks_file: x}]\ntoken_from: [body]",
        "keys: [{jwks_file: x}]\ntoken_from: [{query: a, cookie: b}]",
        "keys: [{jwks_file: x}]\ntoken_from: [{}]",
        "keys: [{jwks_file: x}]\ntoken_from: [{query: [a]}]",
        "keys: [{jwks_file: x}]\ngrants: [{bucket: b, operations: [read], extra: 1}]",
        "issuer: x",
    ] {
        assert!(serde_yaml::from_str::<JwtConfig>(yaml).is_err(), "{yaml}");
    }
}

#[test]
fn empty_keys() {
    one_problem("keys: []", "keys", "at least one");
}

#[test]
fn two_sources_in_one_entry() {
    one_problem(
        "keys: [{algorithm: RS256, pem_file: TD/rsa_public.pem, jwks_file: TD/jwks.json}]",
        "keys[0]",
        "exactly one of pem_file, secret, jwks_file, jwks_url",
    );
    one_problem("keys: [{kid: a}]", "keys[0]", "found 0");
}

#[test]
fn missing_file() {
    one_problem(
        "keys: [{jwks_file: TD/jwks.json}, {algorithm: ES256, pem_file: /nonexistent/key.pem}]",
        "keys[1].pem_file",
        "cannot read /nonexistent/key.pem",
    );
    one_problem(
        "keys: [{jwks_file: /nonexistent/jwks.json}]",
        "keys[0].jwks_file",
        "cannot read",
    );
}

#[test]
fn bad_pem() {
    let garbage =
        TempFile::new("-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n");
    one_problem(
        &format!("keys: [{{algorithm: RS256, pem_file: {}}}]", garbage.0),
        "keys[0].pem_file",
        "not an RSA public key",
    );
    // A key of another family than the algorithm.
    one_problem(
        "keys: [{algorithm: RS256, pem_file: TD/ec256_public.pem}]",
        "keys[0].pem_file",
        "not an RSA public key",
    );
    one_problem(
        "keys: [{algorithm: ES256, pem_file: TD/ec384_public.pem}]",
        "keys[0].pem_file",
        "not an EC P-256 public key",
    );
    one_problem(
        "keys: [{algorithm: EdDSA, pem_file: TD/rsa_public.pem}]",
        "keys[0].pem_file",
        "not an Ed25519 public key",
    );
    // A private key where the public key belongs: refused, and its contents never echoed.
    let p = one_problem(
        "keys: [{algorithm: RS256, pem_file: TD/rsa_private.pem}]",
        "keys[0].pem_file",
        "private key",
    );
    assert!(!p.message.contains("MII"), "{p:?}");
}

#[test]
fn hmac_keys_only_from_secret() {
    one_problem(
        "keys: [{algorithm: HS256, pem_file: TD/rsa_public.pem}]",
        "keys[0].algorithm",
        "only from `secret`",
    );
    one_problem(
        "keys: [{algorithm: HS256, jwks_file: TD/jwks.json}]",
        "keys[0].algorithm",
        "only from `secret`",
    );
    one_problem(
        &format!("keys: [{{algorithm: RS256, secret: \"{SECRET64}\"}}]"),
        "keys[0].algorithm",
        "not an HMAC algorithm",
    );
    let oct = TempFile::new(
        r#"{"keys":[{"kty":"oct","alg":"HS256","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}"#,
    );
    one_problem(
        &format!("keys: [{{jwks_file: {}}}]", oct.0),
        "keys[0].jwks_file",
        "only from `secret`",
    );
}

#[test]
fn algorithm_is_required_for_pem_and_secret() {
    one_problem(
        "keys: [{pem_file: TD/rsa_public.pem}]",
        "keys[0].algorithm",
        "required",
    );
    one_problem(
        &format!("keys: [{{secret: \"{SECRET32}\"}}]"),
        "keys[0].algorithm",
        "required",
    );
}

#[test]
fn too_short_secret() {
    for (alg, len) in [("HS256", 32), ("HS384", 48), ("HS512", 64)] {
        let secret = "s".repeat(len - 1);
        let p = one_problem(
            &format!("keys: [{{algorithm: {alg}, secret: \"{secret}\"}}]"),
            "keys[0].secret",
            &format!("at least {len}"),
        );
        assert!(!p.message.contains(&secret), "{p:?}");
        let secret = "s".repeat(len);
        assert_eq!(
            problems(&format!(
                "keys: [{{algorithm: {alg}, secret: \"{secret}\"}}]"
            )),
            vec![]
        );
    }
}

#[test]
fn secrets_are_not_in_debug_output() {
    let cfg = config(&format!(
        "keys: [{{algorithm: HS256, secret: \"{SECRET32}\"}}]"
    ));
    let shown = format!("{cfg:?}");
    assert!(!shown.contains(SECRET32), "{shown}");
    let plugin = JwtPlugin::new(&cfg).unwrap();
    assert!(!format!("{plugin:?}").contains(SECRET32));
}

#[test]
fn jwks_file_problems() {
    let no_alg = TempFile::new(
        r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k","x":"LLWfdwIEKTNCXht_f2CRLciCuidhcc-1M4eu8e-Rekc"}]}"#,
    );
    one_problem(
        &format!("keys: [{{jwks_file: {}}}]", no_alg.0),
        "keys[0].jwks_file",
        "key 0 (kid \"k\"): no `alg`",
    );
    assert_eq!(
        problems(&format!(
            "keys: [{{jwks_file: {}, algorithm: EdDSA}}]",
            no_alg.0
        )),
        vec![]
    );
    let not_jwks = TempFile::new(r#"{"kty":"RSA"}"#);
    one_problem(
        &format!("keys: [{{jwks_file: {}}}]", not_jwks.0),
        "keys[0].jwks_file",
        "no \"keys\" array",
    );
    let not_json = TempFile::new("keys:");
    one_problem(
        &format!("keys: [{{jwks_file: {}}}]", not_json.0),
        "keys[0].jwks_file",
        "not a JSON document",
    );
    let empty = TempFile::new(r#"{"keys":[]}"#);
    one_problem(
        &format!("keys: [{{jwks_file: {}}}]", empty.0),
        "keys[0].jwks_file",
        "no usable signature key",
    );
    let bad_point = TempFile::new(
        r#"{"keys":[{"kty":"EC","crv":"P-256","alg":"ES256","x":"AAAA","y":"AAAA"}]}"#,
    );
    one_problem(
        &format!("keys: [{{jwks_file: {}}}]", bad_point.0),
        "keys[0].jwks_file",
        "not a point on P-256",
    );
    // A kid on a JWKS entry is meaningless: each JWK has its own.
    one_problem(
        "keys: [{jwks_file: TD/jwks.json, kid: x}]",
        "keys[0].kid",
        "from the JWK",
    );
}

#[test]
fn other_static_checks() {
    one_problem(
        "keys: [{jwks_url: ftp://idp/jwks}]",
        "keys[0].jwks_url",
        "http",
    );
    one_problem(
        "keys: [{jwks_url: \"https://\"}]",
        "keys[0].jwks_url",
        "http",
    );
    one_problem(
        "keys: [{jwks_url: https://idp/jwks, refresh_seconds: 1}]",
        "keys[0].refresh_seconds",
        "at least 10",
    );
    one_problem(
        "keys: [{jwks_file: TD/jwks.json, refresh_seconds: 60}]",
        "keys[0].refresh_seconds",
        "only a jwks_url",
    );
    one_problem(
        "keys: [{jwks_file: TD/jwks.json}]\nleeway_seconds: 100000",
        "leeway_seconds",
        "at most",
    );
    one_problem(
        "keys: [{jwks_file: TD/jwks.json}]\ntoken_from: []",
        "token_from",
        "at least one",
    );
    one_problem(
        "keys: [{jwks_file: TD/jwks.json}]\ntoken_from: [header, {query: \"\"}]",
        "token_from[1]",
        "non-empty",
    );
    one_problem(
        "keys: [{jwks_file: TD/jwks.json}]\nsubject_claim: \"\"",
        "subject_claim",
        "empty",
    );
    one_problem(
        "keys: [{jwks_file: TD/jwks.json}]\nissuer: \"\"",
        "issuer",
        "empty",
    );
    one_problem(
        "keys: [{jwks_file: TD/jwks.json}]\ngrants_claim: \"\"",
        "grants_claim",
        "empty",
    );
    one_problem(
        "keys: [{jwks_file: TD/jwks.json}]\ngrants: [{bucket: data, prefix: \"users/{sub/\", operations: [read]}]",
        "grants[0].prefix",
        "unclosed",
    );
    one_problem(
        "keys: [{jwks_file: TD/jwks.json}]\ngrants: [{bucket: \"{}\", operations: [read]}]",
        "grants[0].bucket",
        "empty placeholder",
    );
}

#[test]
fn every_problem_is_reported() {
    let found = problems(
        "keys:
           - {algorithm: RS256, pem_file: /nonexistent/a.pem}
           - {algorithm: HS256, secret: short}
           - {}
subject_claim: \"\"",
    );
    let paths: Vec<&str> = found.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "keys[0].pem_file",
            "keys[1].secret",
            "keys[2]",
            "subject_claim"
        ]
    );
}

#[test]
fn new_refuses_a_bad_config() {
    let err = JwtPlugin::new(&config("keys: []")).unwrap_err();
    assert_eq!(err.path, "keys");
}
