//! A JWKS document (`{"keys": [...]}`, RFC 7517) as verification keys, from a file or a URL.
//! One bad JWK does not spoil the others: the caller decides whether a rejected key is an
//! error (a file in the config) or a warning (a document fetched at run time).

use serde_json::Value;

use crate::config::Algorithm;
use crate::keys::{jwk_key, truncate, JwkOutcome, VerifyKey};

/// The most JWKs read from one document.
pub const MAX_KEYS: usize = 100;

/// The usable keys of a document, and why the others were refused.
#[derive(Debug, Default)]
pub struct Document {
    pub keys: Vec<VerifyKey>,
    /// Unusable keys: `key 2 (kid "x"): why`.
    pub rejected: Vec<String>,
    /// Keys that are not for us (encryption keys, another algorithm than the pin).
    pub skipped: Vec<String>,
}

/// Parses a JWKS document. `pin` is the entry's `algorithm`. Fails only when the document as a
/// whole is not a JWKS.
pub fn parse(text: &str, pin: Option<Algorithm>) -> Result<Document, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("not a JSON document: {e}"))?;
    let keys = value
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("not a JWKS: no \"keys\" array")?;
    if keys.len() > MAX_KEYS {
        return Err(format!("{} keys; at most {MAX_KEYS} are read", keys.len()));
    }
    let mut doc = Document::default();
    for (i, jwk) in keys.iter().enumerate() {
        let name = match jwk.get("kid").and_then(Value::as_str) {
            Some(kid) => format!("key {i} (kid {:?})", truncate(kid)),
            None => format!("key {i}"),
        };
        match jwk_key(jwk, pin) {
            JwkOutcome::Key(key) => doc.keys.push(*key),
            JwkOutcome::Skipped(why) => doc.skipped.push(format!("{name}: {why}")),
            JwkOutcome::Rejected(why) => doc.rejected.push(format!("{name}: {why}")),
        }
    }
    Ok(doc)
}
