//! HS256/384/512 verified with keys keyed once (`hmac_key.rs`): tokens signed by jsonwebtoken
//! verify, and signatures of the wrong length, of the wrong key or not in base64url do not;
//! and the key-set comparison that decides when a `jwks_url` refresh clears the cache.

use jsonwebtoken::Algorithm as A;
use jsonwebtoken::EncodingKey;

use super::support::*;
use crate::config::Algorithm;
use crate::hmac_key::{HmacKey, NotBase64};
use crate::jwks;
use crate::keys::same_keys;

#[test]
fn agrees_with_jsonwebtoken_for_every_hmac_algorithm() {
    for (alg, ours, secret) in [
        (A::HS256, Algorithm::HS256, SECRET32),
        (A::HS384, Algorithm::HS384, SECRET48),
        (A::HS512, Algorithm::HS512, SECRET64),
    ] {
        let key = HmacKey::new(secret.as_bytes(), ours).unwrap();
        let token = sign(
            alg,
            &EncodingKey::from_secret(secret.as_bytes()),
            None,
            &claims(),
        );
        let (message, signature) = token.rsplit_once('.').unwrap();
        assert_eq!(
            key.verify(message.as_bytes(), signature),
            Ok(true),
            "{ours}"
        );
        // Another message, another key, another algorithm's MAC: false.
        assert_eq!(key.verify(b"x.y", signature), Ok(false), "{ours}");
        let other = HmacKey::new(&[b'k'; 64], ours).unwrap();
        assert_eq!(
            other.verify(message.as_bytes(), signature),
            Ok(false),
            "{ours}"
        );
    }
    let hs256 = HmacKey::new(SECRET64.as_bytes(), Algorithm::HS256).unwrap();
    let token512 = sign(
        A::HS512,
        &EncodingKey::from_secret(SECRET64.as_bytes()),
        None,
        &claims(),
    );
    let (message, signature) = token512.rsplit_once('.').unwrap();
    assert_eq!(hs256.verify(message.as_bytes(), signature), Ok(false));
    assert!(HmacKey::new(SECRET32.as_bytes(), Algorithm::RS256).is_none());
}

#[test]
fn signatures_of_the_wrong_length_or_not_base64url() {
    let key = HmacKey::new(SECRET32.as_bytes(), Algorithm::HS256).unwrap();
    let token = hs(&claims());
    let (message, signature) = token.rsplit_once('.').unwrap();
    let m = message.as_bytes();
    assert_eq!(key.verify(m, &signature[..40]), Ok(false));
    assert_eq!(key.verify(m, ""), Ok(false));
    // Longer than any HMAC: decoded on the heap, still just wrong.
    assert_eq!(key.verify(m, &"A".repeat(400)), Ok(false));
    assert_eq!(
        key.verify(m, &format!("{}!", "A".repeat(400))),
        Err(NotBase64)
    );
    assert_eq!(key.verify(m, "ab!d"), Err(NotBase64));
    // Padding is not base64url without padding.
    assert_eq!(key.verify(m, &format!("{signature}=")), Err(NotBase64));

    let p = plugin(&format!(
        "keys: [{{algorithm: HS256, secret: \"{SECRET32}\"}}]"
    ));
    rejected(
        &p,
        &format!("{message}.{}", &signature[..40]),
        "signature invalid",
    );
    rejected(
        &p,
        &format!("{message}.{}!", "A".repeat(400)),
        "signature is not base64url",
    );
}

#[test]
fn a_changed_jwks_is_a_different_key_set() {
    let text = String::from_utf8(read("jwks.json")).unwrap();
    let full = jwks::parse(&text, None).unwrap().keys;
    let again = jwks::parse(&text, None).unwrap().keys;
    assert!(same_keys(&full, &again));
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let fewer = serde_json::json!({"keys": [value["keys"][1], value["keys"][2]]});
    let fewer = jwks::parse(&fewer.to_string(), None).unwrap().keys;
    assert!(!same_keys(&full, &fewer));
    // The same key under another kid is another key set.
    let mut renamed = value.clone();
    renamed["keys"][0]["kid"] = "rsa2".into();
    let renamed = jwks::parse(&renamed.to_string(), None).unwrap().keys;
    assert!(!same_keys(&full, &renamed));
    // Another RSA modulus under the same kid too.
    let mut other_n = value.clone();
    let n = other_n["keys"][0]["n"].as_str().unwrap().to_owned();
    let flipped = if &n[100..101] == "A" { "B" } else { "A" };
    other_n["keys"][0]["n"] = format!("{}{flipped}{}", &n[..100], &n[101..]).into();
    let other_n = jwks::parse(&other_n.to_string(), None).unwrap().keys;
    assert_eq!(other_n.len(), 3);
    assert!(!same_keys(&full, &other_n));
}
