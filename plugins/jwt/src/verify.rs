//! Signature verification: choosing the candidate keys for a token's header (same pinned
//! algorithm, same `kid` when both have one), checking the signature with each in turn, and
//! only then reading the payload. Claims are checked afterwards, by `claims.rs`.
//!
//! HMAC signatures are checked with keys keyed once (`hmac_key.rs`); for public keys
//! jsonwebtoken is used for the signature alone (`crypto::verify`). Its claim validation is
//! replaced by ours, which gives a precise reason for every failure.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;

use crate::claims::Claims;
use crate::hmac_key::NotBase64;
use crate::keys::{truncate, KeyMaterial, VerifyKey};
use crate::token::Header;

const NOT_BASE64: &str = "malformed token: signature is not base64url";

/// Whether `key` may verify a token with this header.
pub fn is_candidate(key: &VerifyKey, header: &Header) -> bool {
    key.alg == header.alg
        && match (&header.kid, &key.kid) {
            (Some(wanted), Some(have)) => wanted == have,
            _ => true,
        }
}

/// The verified payload of `token` (whose header is `header`), or a log reason that never
/// contains the token.
pub fn verify<'a>(
    token: &str,
    header: &Header,
    keys: impl IntoIterator<Item = &'a VerifyKey>,
) -> Result<Claims, String> {
    let Some((message, signature)) = token.rsplit_once('.') else {
        return Err("malformed token".into());
    };
    let mut tried = 0usize;
    for key in keys.into_iter().filter(|k| is_candidate(k, header)) {
        tried += 1;
        let verified = match &key.key {
            KeyMaterial::Hmac(hmac) => hmac
                .verify(message.as_bytes(), signature)
                .map_err(|NotBase64| NOT_BASE64)?,
            KeyMaterial::Public(public) => match jsonwebtoken::crypto::verify(
                signature,
                message.as_bytes(),
                public,
                key.alg.to_jwt(),
            ) {
                Ok(verified) => verified,
                Err(e) => match e.kind() {
                    ErrorKind::Base64(_) => return Err(NOT_BASE64.into()),
                    other => {
                        log::debug!(
                            "jwt: key kid {:?} / alg {} cannot verify: {other:?}",
                            key.kid,
                            key.alg
                        );
                        false
                    }
                },
            },
        };
        if verified {
            return payload(message);
        }
    }
    if tried == 0 {
        return Err(match &header.kid {
            Some(kid) => format!("no key for kid {:?} / alg {}", truncate(kid), header.alg),
            None => format!("no key for alg {}", header.alg),
        });
    }
    Err(format!("signature invalid ({tried} candidate keys tried)"))
}

/// The claims of a signed `header.payload`: a JSON object.
fn payload(message: &str) -> Result<Claims, String> {
    let encoded = message.split_once('.').map_or("", |(_, p)| p);
    let bytes = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| "malformed token: payload is not base64url".to_owned())?;
    serde_json::from_slice(&bytes)
        .map_err(|_| "malformed token: payload is not a JSON object".to_owned())
}
