//! Sealing and opening: the `BG1` prefix, the base32 text, the clear key id, the random nonce
//! and the XChaCha20-Poly1305 seal around the payload (layout in the parent module's docs).

use std::time::SystemTime;

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::XNonce;
use data_encoding::BASE32_NOPAD;

use super::budget::MAX_ACCESS_KEY_ID_LEN;
use super::claims::Claims;
use super::error::{OpenError, SealError};
use super::keyring::{is_valid_id, Keyring};
use super::payload;
use super::secret::{self, SecretAccessKey};

/// What every sealed access key id starts with; the `1` is the format version.
pub const PREFIX: &str = "BG1";

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// Whether `access_key_id` claims to be sealed (starts with [`PREFIX`]); static key ids must
/// not, and [`open`] decides whether it really is.
pub fn is_sealed(access_key_id: &str) -> bool {
    access_key_id.starts_with(PREFIX)
}

/// Seals `claims` with the keyring's first key: the access key id and its secret.
pub fn mint(keyring: &Keyring, claims: &Claims) -> Result<(String, SecretAccessKey), SealError> {
    let key = keyring
        .primary()
        .ok_or_else(|| SealError::Claims("the keyring has no keys".into()))?;
    let plaintext = payload::encode(claims).map_err(SealError::Claims)?;
    let header = header(key.id.as_bytes());
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|_| SealError::Random)?;
    let sealed = key
        .aead
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: &plaintext,
                aad: &aad(&header),
            },
        )
        .map_err(|_| SealError::Claims("the payload is too long to seal".into()))?;
    let mut envelope = header;
    envelope.extend_from_slice(&nonce);
    envelope.extend_from_slice(&sealed);
    let access_key_id = format!("{PREFIX}{}", BASE32_NOPAD.encode(&envelope));
    if access_key_id.len() > MAX_ACCESS_KEY_ID_LEN {
        return Err(SealError::TooLong {
            len: access_key_id.len(),
            max: MAX_ACCESS_KEY_ID_LEN,
        });
    }
    let secret = secret::derive(&key.secret_key, &access_key_id);
    Ok((access_key_id, secret))
}

/// Opens `access_key_id`: its claims and secret, if it was sealed by a key on the ring, is
/// unaltered, and has not expired at `now`. Never panics, whatever the input.
pub fn open(
    keyring: &Keyring,
    access_key_id: &str,
    now: SystemTime,
) -> Result<(Claims, SecretAccessKey), OpenError> {
    let body = access_key_id
        .strip_prefix(PREFIX)
        .ok_or(OpenError::NotSealed)?;
    if access_key_id.len() > MAX_ACCESS_KEY_ID_LEN {
        return Err(OpenError::Malformed);
    }
    let envelope = BASE32_NOPAD
        .decode(body.as_bytes())
        .map_err(|_| OpenError::Malformed)?;
    let (&id_len, rest) = envelope.split_first().ok_or(OpenError::Malformed)?;
    let id_len = usize::from(id_len);
    if rest.len() < id_len + NONCE_LEN + TAG_LEN {
        return Err(OpenError::Malformed);
    }
    let (id, rest) = rest.split_at(id_len);
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    if !is_valid_id(id) {
        return Err(OpenError::Malformed);
    }
    // is_valid_id admits only ASCII: the id is safe to show.
    let id = String::from_utf8_lossy(id);
    let key = keyring
        .find(&id)
        .ok_or_else(|| OpenError::UnknownKey(id.to_string()))?;
    let nonce = XNonce::try_from(nonce).map_err(|_| OpenError::Malformed)?;
    let plaintext = key
        .aead
        .decrypt(
            &nonce,
            Payload {
                msg: sealed,
                aad: &aad(&envelope[..1 + id_len]),
            },
        )
        .map_err(|_| OpenError::Tampered)?;
    let claims = payload::decode(&plaintext).ok_or(OpenError::Malformed)?;
    if now >= claims.expires_at {
        return Err(OpenError::Expired);
    }
    Ok((claims, secret::derive(&key.secret_key, access_key_id)))
}

/// The clear header: the key id, length-prefixed.
fn header(id: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(1 + id.len() + NONCE_LEN);
    // Key ids are at most 8 bytes (checked when the keyring is built).
    h.push(id.len() as u8);
    h.extend_from_slice(id);
    h
}

/// The authenticated data: the prefix (format version) and the clear header.
fn aad(header: &[u8]) -> Vec<u8> {
    let mut a = PREFIX.as_bytes().to_vec();
    a.extend_from_slice(header);
    a
}
