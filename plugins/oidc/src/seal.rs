//! Encryption of every record before it reaches a store (memory or Redis): XChaCha20-Poly1305
//! with the context's session key and a random 24-byte nonce, laid out `nonce || ciphertext`.
//! The store key is the associated data, so a record cannot be moved to another key (a login
//! state replayed as a session) without failing to open.

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// Seals and opens records with one key.
pub struct Sealer {
    aead: XChaCha20Poly1305,
}

impl Sealer {
    pub fn new(key: &[u8; 32]) -> Sealer {
        Sealer {
            aead: XChaCha20Poly1305::new(&(*key).into()),
        }
    }

    /// `nonce || ciphertext` of `plaintext`, bound to `store_key`. None when no random nonce
    /// could be drawn.
    pub fn seal(&self, store_key: &str, plaintext: &[u8]) -> Option<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).ok()?;
        let sealed = self
            .aead
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: store_key.as_bytes(),
                },
            )
            .ok()?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Some(out)
    }

    /// The plaintext of a record sealed for `store_key`, or None when it was altered, sealed
    /// for another key, or sealed with another session key.
    pub fn open(&self, store_key: &str, record: &[u8]) -> Option<Vec<u8>> {
        if record.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, sealed) = record.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).ok()?;
        self.aead
            .decrypt(
                &nonce,
                Payload {
                    msg: sealed,
                    aad: store_key.as_bytes(),
                },
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_tamper_is_refused() {
        let s = Sealer::new(&[7u8; 32]);
        let rec = s.seal("session:abc", b"{\"sub\":\"alice\"}").unwrap();
        assert_eq!(s.open("session:abc", &rec).unwrap(), b"{\"sub\":\"alice\"}");
        // Not readable as plaintext at rest.
        assert!(!rec.windows(5).any(|w| w == b"alice"));
        // Two seals of the same record differ (random nonce).
        assert_ne!(rec, s.seal("session:abc", b"{\"sub\":\"alice\"}").unwrap());
        for i in 0..rec.len() {
            let mut bad = rec.clone();
            bad[i] ^= 1;
            assert_eq!(s.open("session:abc", &bad), None, "byte {i}");
        }
        assert_eq!(s.open("session:abd", &rec), None, "moved to another key");
        assert_eq!(Sealer::new(&[8u8; 32]).open("session:abc", &rec), None);
        assert_eq!(s.open("session:abc", &rec[..rec.len() - 1]), None);
        assert_eq!(s.open("session:abc", &[]), None);
    }
}
