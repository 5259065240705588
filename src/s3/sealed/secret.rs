//! The secret access key that goes with a sealed access key id: derived from the id with a
//! subkey of the sealing key, so it is stored nowhere and cannot be computed without that key.

use std::fmt;

use data_encoding::BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroize;

/// Bytes of HMAC output kept: 30 bytes are exactly 40 base64 characters, with no padding.
const SECRET_BYTES: usize = 30;

/// A secret access key: 40 characters of `[A-Za-z0-9+/]`, like the ones AWS issues. `Debug`
/// prints `<redacted>`, there is no `Display`, and the memory is wiped on drop.
#[derive(Clone)]
pub struct SecretAccessKey(String);

impl SecretAccessKey {
    /// The secret itself, to sign or verify with, or for the operator to hand out.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretAccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretAccessKey(<redacted>)")
    }
}

impl Drop for SecretAccessKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// The secret of `access_key_id` under the secret subkey `key`.
pub(super) fn derive(key: &[u8; 32], access_key_id: &str) -> SecretAccessKey {
    // HMAC accepts keys of any length: this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(access_key_id.as_bytes());
    let mut tag = mac.finalize().into_bytes();
    let secret = BASE64.encode(&tag[..SECRET_BYTES]);
    tag.as_mut_slice().zeroize();
    SecretAccessKey(secret)
}
