//! HS256/384/512 verification with each secret's HMAC key schedule computed once, when the key
//! is loaded. jsonwebtoken's `crypto::verify` builds its HMAC verifier (`Hs256Verifier::new`,
//! the key schedule: two hash blocks) on every call, and its public API offers no reusable
//! verifier that could be kept in a `Sync` plugin (the factory returns a `Box<dyn JwtVerifier>`,
//! neither `Send` nor `Sync`). So HMAC is done here, with the same crates its backend uses and
//! the same comparison (`verify_slice`, constant time); asymmetric keys still go through
//! jsonwebtoken.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384, Sha512};

use crate::config::Algorithm;

/// An HMAC key, keyed once.
#[derive(Clone)]
pub enum HmacKey {
    S256(Hmac<Sha256>),
    S384(Hmac<Sha384>),
    S512(Hmac<Sha512>),
}

/// The signature segment was not base64url.
#[derive(Debug, PartialEq, Eq)]
pub struct NotBase64;

/// The longest signature segment decoded on the stack: HS512's 64 bytes are 86 characters.
const MAX_STACK_SIGNATURE_CHARS: usize = 128;

impl HmacKey {
    /// The key for `alg` (an HMAC algorithm) from a secret; None for any other algorithm.
    pub fn new(secret: &[u8], alg: Algorithm) -> Option<HmacKey> {
        // `new_from_slice` accepts keys of any length for HMAC; it cannot fail here.
        Some(match alg {
            Algorithm::HS256 => HmacKey::S256(Hmac::new_from_slice(secret).ok()?),
            Algorithm::HS384 => HmacKey::S384(Hmac::new_from_slice(secret).ok()?),
            Algorithm::HS512 => HmacKey::S512(Hmac::new_from_slice(secret).ok()?),
            _ => return None,
        })
    }

    /// Whether `signature` (the base64url third segment of a token) is this key's MAC of
    /// `message` (the first two segments and their dot).
    pub fn verify(&self, message: &[u8], signature: &str) -> Result<bool, NotBase64> {
        let mut stack = [0u8; MAX_STACK_SIGNATURE_CHARS / 4 * 3];
        let heap;
        let mac: &[u8] = if signature.len() <= MAX_STACK_SIGNATURE_CHARS {
            let n = URL_SAFE_NO_PAD
                .decode_slice(signature, &mut stack)
                .map_err(|_| NotBase64)?;
            &stack[..n]
        } else {
            // Longer than any HMAC: decoded only to tell bad base64 from a wrong length.
            heap = URL_SAFE_NO_PAD.decode(signature).map_err(|_| NotBase64)?;
            &heap
        };
        Ok(match self {
            HmacKey::S256(key) => key.clone().chain_update(message).verify_slice(mac).is_ok(),
            HmacKey::S384(key) => key.clone().chain_update(message).verify_slice(mac).is_ok(),
            HmacKey::S512(key) => key.clone().chain_update(message).verify_slice(mac).is_ok(),
        })
    }
}
