//! The sealing keys: their config, its validation, and the subkeys each one expands into.
//!
//! ```yaml
//! sealing_keys:            # the FIRST key seals new access keys; every listed key opens them
//!   - id: k2               # 1 to 8 characters of A-Z a-z 0-9 _ -, stored in clear in each key
//!     key: ${SEALING_KEY_2}  # 32 random bytes: base64 (`openssl rand -base64 32`) or hex
//!   - id: k1               #   (`openssl rand -hex 32`)
//!     key: ${SEALING_KEY_1}
//! ```
//!
//! Rotating without a window where some proxies cannot open fresh keys: add the new key at the
//! end of the list and roll that out (every proxy can now open its keys, nobody seals with it);
//! then move it to the top (it seals); once the old key's access keys have expired, remove the
//! old key (its access keys now fail with [`super::OpenError::UnknownKey`]).
//!
//! Order rather than a `primary: true` flag: a list cannot have two primaries or none.

use std::fmt;

use chacha20poly1305::{KeyInit, XChaCha20Poly1305};
use data_encoding::{BASE64, BASE64URL, BASE64URL_NOPAD, BASE64_NOPAD, HEXLOWER_PERMISSIVE};
use hkdf::Hkdf;
use serde::Deserialize;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use super::budget::MAX_KEY_ID_LEN;
use super::error::SealError;

/// HKDF salt: binds the subkeys to this use of the sealing key.
const HKDF_SALT: &[u8] = b"bucketgate sealed access keys";
const INFO_AEAD: &[u8] = b"BG1 aead";
const INFO_SECRET: &[u8] = b"BG1 secret";

/// One entry of `sealing_keys`. `Debug` never prints the key.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealingKeyConfig {
    pub id: String,
    pub key: String,
}

impl fmt::Debug for SealingKeyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealingKeyConfig")
            .field("id", &self.id)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// A problem with `sealing_keys`: the entry (None for the list itself), the field, and what is
/// wrong, for the config loader to place at a line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyProblem {
    pub index: Option<usize>,
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "sealing_keys[{i}].{}: {}", self.field, self.message),
            None => write!(f, "sealing_keys: {}", self.message),
        }
    }
}

/// One sealing key, expanded: the AEAD and the secret subkey. `Debug` shows only the id.
pub(super) struct SealingKey {
    pub(super) id: String,
    pub(super) aead: XChaCha20Poly1305,
    pub(super) secret_key: Zeroizing<[u8; 32]>,
}

/// The sealing keys, first (newest) first. `Debug` shows only the ids.
pub struct Keyring {
    keys: Vec<SealingKey>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("ids", &self.ids().collect::<Vec<_>>())
            .field("keys", &"<redacted>")
            .finish()
    }
}

impl Keyring {
    /// The keyring of `config`, or every problem with it joined by `; `.
    pub fn from_config(config: &[SealingKeyConfig]) -> Result<Keyring, String> {
        let problems = validate(config);
        if !problems.is_empty() {
            let all: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err(all.join("; "));
        }
        let mut keys = Vec::with_capacity(config.len());
        for c in config {
            let raw = decode_key(&c.key).map_err(|e| format!("sealing key `{}`: {e}", c.id))?;
            keys.push(expand(&c.id, &raw));
        }
        Ok(Keyring { keys })
    }

    /// A random keyring of this process alone, drawn once and kept until it exits, for what
    /// must survive a config reload but not a restart when the config has no sealing keys:
    /// the session key of memory-stored SSO sessions and the listing-marker key. `None` if the
    /// system has no randomness (then nothing can be sealed at all).
    pub fn process_local() -> Option<&'static Keyring> {
        static LOCAL: once_cell::sync::OnceCell<Keyring> = once_cell::sync::OnceCell::new();
        LOCAL
            .get_or_try_init(|| {
                let mut raw = Zeroizing::new([0u8; 32]);
                getrandom::fill(raw.as_mut_slice()).map_err(|_| SealError::Random)?;
                Ok::<_, SealError>(Keyring {
                    keys: vec![expand("local", &raw)],
                })
            })
            .ok()
    }

    /// The id of the key that seals new access keys.
    pub fn primary_id(&self) -> &str {
        self.keys.first().map_or("", |k| k.id.as_str())
    }

    /// The ids of every key that opens, sealing key first.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.id.as_str())
    }

    pub(super) fn primary(&self) -> Option<&SealingKey> {
        self.keys.first()
    }

    /// A 32-byte key for another use of the newest sealing key, named by `info` (so no two uses
    /// share a key). Every instance with the same keyring derives the same bytes.
    pub fn derive(&self, info: &[u8]) -> Zeroizing<[u8; 32]> {
        use hmac::{Hmac, Mac as _};
        let mut out = Zeroizing::new([0u8; 32]);
        if let Some(key) = self.keys.first() {
            let mut mac = Hmac::<Sha256>::new_from_slice(key.secret_key.as_slice())
                .expect("HMAC takes keys of any length");
            mac.update(b"bucketgate derived key: ");
            mac.update(info);
            out.copy_from_slice(&mac.finalize().into_bytes());
        }
        out
    }

    pub(super) fn find(&self, id: &str) -> Option<&SealingKey> {
        self.keys.iter().find(|k| k.id == id)
    }
}

/// Every problem with `config`, none when [`Keyring::from_config`] will accept it.
pub fn validate(config: &[SealingKeyConfig]) -> Vec<KeyProblem> {
    let mut problems = Vec::new();
    if config.is_empty() {
        problems.push(KeyProblem {
            index: None,
            field: "",
            message: "list at least one key; the first one seals new access keys".into(),
        });
    }
    let mut decoded: Vec<(usize, Zeroizing<[u8; 32]>)> = Vec::new();
    for (i, c) in config.iter().enumerate() {
        let at = |field, message| KeyProblem {
            index: Some(i),
            field,
            message,
        };
        if let Err(e) = check_id(&c.id) {
            problems.push(at("id", e));
        } else if let Some(first) = config[..i].iter().position(|o| o.id == c.id) {
            problems.push(at(
                "id",
                format!("`{}` is already the id of sealing_keys[{first}]", c.id),
            ));
        }
        match decode_key(&c.key) {
            Err(e) => problems.push(at("key", e)),
            Ok(raw) => {
                if let Some((first, _)) = decoded.iter().find(|(_, k)| **k == *raw) {
                    problems.push(at(
                        "key",
                        format!("the same key as sealing_keys[{first}]: generate a new one"),
                    ));
                }
                decoded.push((i, raw));
            }
        }
    }
    problems
}

/// A new sealing key for the config, as base64 of 32 random bytes.
pub fn generate_sealing_key() -> Result<String, SealError> {
    let mut raw = Zeroizing::new([0u8; 32]);
    getrandom::fill(raw.as_mut_slice()).map_err(|_| SealError::Random)?;
    Ok(BASE64.encode(raw.as_slice()))
}

fn check_id(id: &str) -> Result<(), String> {
    if is_valid_id(id.as_bytes()) {
        Ok(())
    } else {
        Err(format!(
            "must be 1 to {MAX_KEY_ID_LEN} characters of A-Z, a-z, 0-9, `_` and `-` \
             (it is stored in clear in every access key)"
        ))
    }
}

/// Whether `id` is a well-formed key id; also applied to ids read from access keys.
pub(super) fn is_valid_id(id: &[u8]) -> bool {
    (1..=MAX_KEY_ID_LEN).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
}

/// The 32 bytes written in `text` (hex or base64), or why not. Never echoes the text.
fn decode_key(text: &str) -> Result<Zeroizing<[u8; 32]>, String> {
    const HOW: &str = "a sealing key is 32 random bytes written as base64 \
                       (`openssl rand -base64 32`) or hex (`openssl rand -hex 32`)";
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("must not be empty: {HOW}"));
    }
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        HEXLOWER_PERMISSIVE.decode(text.as_bytes()).ok()
    } else {
        [BASE64, BASE64_NOPAD, BASE64URL, BASE64URL_NOPAD]
            .iter()
            .find_map(|enc| enc.decode(text.as_bytes()).ok())
    };
    let Some(mut bytes) = bytes else {
        return Err(format!("is neither base64 nor hex: {HOW}"));
    };
    let result = match <[u8; 32]>::try_from(bytes.as_slice()) {
        Ok(raw) if raw.iter().all(|b| *b == raw[0]) => Err(format!(
            "is one byte repeated 32 times, not a random key: {HOW}"
        )),
        Ok(raw) => Ok(Zeroizing::new(raw)),
        Err(_) => Err(format!("decodes to {} bytes, not 32: {HOW}", bytes.len())),
    };
    bytes.zeroize();
    result
}

/// The AEAD and secret subkeys of `raw`, by HKDF-SHA256.
fn expand(id: &str, raw: &[u8; 32]) -> SealingKey {
    let hk = Hkdf::<Sha256>::new(Some(HKDF_SALT), raw);
    let mut aead_key = Zeroizing::new([0u8; 32]);
    let mut secret_key = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA256's limit of 255 * 32: these cannot fail.
    hk.expand(INFO_AEAD, aead_key.as_mut_slice())
        .expect("32 bytes of HKDF output");
    hk.expand(INFO_SECRET, secret_key.as_mut_slice())
        .expect("32 bytes of HKDF output");
    let aead = XChaCha20Poly1305::new(&(*aead_key).into());
    SealingKey {
        id: id.to_string(),
        aead,
        secret_key,
    }
}
