//! The JWT plugin (`bucketgate-plugin-jwt`) on hostile tokens, through its public API
//! (`JwtPlugin::authenticate`): finding the token (Authorization: Bearer, a query parameter, a
//! cookie), reading its JOSE header, picking keys, checking the signature and the claims, and
//! filling the grant templates.
//!
//! The plugin trusts an HS256 secret and the RSA, P-256 and Ed25519 public keys of
//! plugins/jwt/testdata. Input: a mode byte, then
//! - mode 0: the raw `Authorization` value, query string or cookie header (as the mode's high
//!   bits say);
//! - mode 1: `header JSON` 0xFF `claims JSON`, made into a token signed here with the HS256
//!   secret, so the claim checks and grant filling see arbitrary claims;
//! - mode 2: the same, but HMAC-signed with the RSA *public* key's PEM as the secret (the
//!   classic algorithm-confusion forgery), which must never authenticate.
//!
//! Properties: no panic; `Authenticated` only for a token whose header says HS256 and whose
//! signature is the HS256 secret's, with a string `sub` equal to the identity's subject, the
//! configured `iss` and `aud`, and an `exp` not past; no rejection's log reason carries the
//! secret or the signature.
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bucketgate_fuzz::block_on;
use bucketgate_plugin::{Plugin, RequestView, Verdict};
use bucketgate_plugin_jwt::{JwtConfig, JwtPlugin};
use hmac::Mac;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

const SECRET: &str = "bucketgate-fuzz-hs256-secret-0123456789";
const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "bucketgate";

fn testdata(file: &str) -> String {
    format!(
        "{}/../../plugins/jwt/testdata/{file}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn plugin() -> JwtPlugin {
    let cfg: JwtConfig = serde_json::from_value(json!({
        "keys": [
            {"secret": SECRET, "algorithm": "HS256"},
            {"pem_file": testdata("rsa_public.pem"), "algorithm": "RS256", "kid": "rsa1"},
            {"pem_file": testdata("ec256_public.pem"), "algorithm": "ES256"},
            {"jwks_file": testdata("jwks.json")},
        ],
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "token_from": ["header", {"query": "token"}, {"cookie": "jwt"}],
        "grants": [{"bucket": "data", "prefix": "users/{sub}/", "operations": ["read"]}],
        "grants_claim": "grants",
        "cache_seconds": 0,
    }))
    .expect("a valid jwt section");
    JwtPlugin::new(&cfg).expect("the jwt plugin builds")
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("any key");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn sign(header: &[u8], claims: &[u8], key: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let sig = URL_SAFE_NO_PAD.encode(hmac_sha256(key, input.as_bytes()));
    format!("{input}.{sig}")
}

/// Whether `token` is an HS256 token signed with [`SECRET`], checked here from scratch; its
/// claims if so.
fn genuine(token: &str) -> Option<serde_json::Map<String, Value>> {
    let mut parts = token.split('.');
    let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
    if header.get("alg")? != "HS256" {
        return None;
    }
    let sig = URL_SAFE_NO_PAD.decode(s).ok()?;
    if sig != hmac_sha256(SECRET.as_bytes(), format!("{h}.{c}").as_bytes()) {
        return None;
    }
    match serde_json::from_slice(&URL_SAFE_NO_PAD.decode(c).ok()?).ok()? {
        Value::Object(claims) => Some(claims),
        _ => None,
    }
}

fn view(headers: http::HeaderMap, query: String) -> RequestView {
    RequestView {
        method: http::Method::GET,
        path: "/files/x".into(),
        query,
        headers,
        client_addr: None,
        route: "fuzz".into(),
        tls: true,
    }
}

fuzz_target!(|data: &[u8]| {
    static PLUGIN: std::sync::OnceLock<JwtPlugin> = std::sync::OnceLock::new();
    let plugin = PLUGIN.get_or_init(plugin);
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut headers = http::HeaderMap::new();
    let mut query = String::new();
    let token_text;
    match mode % 3 {
        0 => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            token_text = text.to_owned();
            match (mode >> 2) % 3 {
                0 => {
                    let Ok(v) = http::HeaderValue::from_str(text) else {
                        return;
                    };
                    headers.append(http::header::AUTHORIZATION, v);
                }
                1 => query = text.to_owned(),
                _ => {
                    let Ok(v) = http::HeaderValue::from_str(text) else {
                        return;
                    };
                    headers.append(http::header::COOKIE, v);
                }
            }
        }
        m => {
            let (header, claims) = match rest.iter().position(|&b| b == 0xff) {
                Some(at) => (&rest[..at], &rest[at + 1..]),
                None => (&br#"{"alg":"HS256","typ":"JWT"}"#[..], rest),
            };
            let key = if m == 1 {
                SECRET.as_bytes().to_vec()
            } else {
                std::fs::read(testdata("rsa_public.pem")).expect("the RSA public key")
            };
            token_text = sign(header, claims, &key);
            let v = http::HeaderValue::from_str(&format!("Bearer {token_text}")).expect("ASCII");
            headers.append(http::header::AUTHORIZATION, v);
        }
    }

    let req = view(headers, query);
    match block_on(plugin.authenticate(&req)) {
        Verdict::Authenticated(identity) => {
            // Whatever the source, the token that authenticated must be one of ours.
            let from_query = req.query_param("token").unwrap_or_default();
            let token = token_text
                .split(|c: char| c == ' ' || c == '=' || c == ';' || c == '&' || c == '"')
                .chain(std::iter::once(from_query.as_str()))
                .find_map(|t| genuine(t.trim()));
            let Some(claims) = token else {
                panic!("authenticated a token not signed with the HS256 secret: {token_text:?}");
            };
            assert_eq!(
                claims.get("sub").and_then(Value::as_str),
                Some(identity.subject.as_str())
            );
            assert_eq!(claims.get("iss").and_then(Value::as_str), Some(ISSUER));
            let aud_ok = match claims.get("aud") {
                Some(Value::String(a)) => a == AUDIENCE,
                Some(Value::Array(a)) => a.iter().any(|v| v == AUDIENCE),
                _ => false,
            };
            assert!(aud_ok, "audience {:?}", claims.get("aud"));
            let exp = claims.get("exp").and_then(Value::as_f64).expect("an exp");
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("after 1970")
                .as_secs_f64();
            assert!(exp + 30.0 + 5.0 >= now, "expired token accepted");
            assert_eq!(mode % 3 == 2, false, "algorithm confusion accepted");
        }
        Verdict::Reject(r) | Verdict::SignIn(r) => {
            let shown = format!("{} {} {:?}", r.public_message, r.log_reason, r.headers);
            assert!(
                !shown.contains(SECRET),
                "rejection shows the secret: {shown}"
            );
        }
        Verdict::NotMine => {}
    }
});
