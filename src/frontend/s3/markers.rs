//! Listing pagination state, sealed. Where the next page of a listing starts (a
//! [`super::scope::Cursor`]: the range, and the upstream's own `NextMarker`,
//! `NextContinuationToken` or `NextKeyMarker` in it) goes to clients only sealed
//! (XChaCha20-Poly1305, bound to the bucket, the caller and the listing's parameters) as the
//! `Next*` fields; they hand it back as `marker`, `continuation-token` or `key-marker`, and only
//! bucketgate reads it. A V2 `continuation-token` must be one of these; a plain `marker`,
//! `key-marker` or `start-after` is the client's own key, placed among the ranges it may list.
//! The fields that echo the request (`Marker`, `ContinuationToken`, `KeyMarker`,
//! `UploadIdMarker`, `StartAfter`) show the client's own value back, exactly as it sent it;
//! only the `Next*` fields are sealed.
//!
//! The key is derived from the newest sealing key, so every instance of a fleet reads every
//! other's tokens; without sealing keys it is random per process (a token then works only on
//! the instance that made it, and until it restarts; a config reload keeps it).

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use data_encoding::BASE64URL_NOPAD;

use crate::s3::sealed::keyring::Keyring;

/// What every sealed marker starts with.
const PREFIX: &str = "bgm1.";
const NONCE_LEN: usize = 24;
/// Longest marker accepted back: a cursor holds a range and a key (S3 keys are at most 1024
/// bytes) or an upstream token.
const MAX_TOKEN: usize = 8192;

pub struct MarkerSealer {
    aead: XChaCha20Poly1305,
}

impl MarkerSealer {
    /// The sealer of a fleet sharing `keyring`, or of this process alone (then its key
    /// survives config reloads, so tokens handed out before a reload still work).
    pub fn new(keyring: Option<&Keyring>) -> MarkerSealer {
        let ring = match keyring {
            Some(ring) => Some(ring),
            None => Keyring::process_local(),
        };
        let key = match ring {
            Some(ring) => ring.derive(b"listing markers"),
            None => {
                log::error!("no randomness for the listing-marker key");
                zeroize::Zeroizing::new([0u8; 32])
            }
        };
        MarkerSealer {
            aead: XChaCha20Poly1305::new(&(*key).into()),
        }
    }

    /// `value` sealed for `context` (the client bucket and the caller).
    pub fn seal(&self, value: &str, context: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        if getrandom::fill(&mut nonce).is_err() {
            return String::new();
        }
        let Ok(sealed) = self.aead.encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: value.as_bytes(),
                aad: context.as_bytes(),
            },
        ) else {
            return String::new();
        };
        let mut raw = nonce.to_vec();
        raw.extend_from_slice(&sealed);
        format!("{PREFIX}{}", BASE64URL_NOPAD.encode(&raw))
    }

    /// Whether `token` looks sealed (then it must open).
    pub fn is_sealed(token: &str) -> bool {
        token.starts_with(PREFIX)
    }

    /// The value sealed in `token` for `context`, or `None` if it is not ours, altered, or
    /// for another bucket or caller.
    pub fn open(&self, token: &str, context: &str) -> Option<String> {
        if token.len() > MAX_TOKEN {
            return None;
        }
        let raw = BASE64URL_NOPAD
            .decode(token.strip_prefix(PREFIX)?.as_bytes())
            .ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).ok()?;
        let plain = self
            .aead
            .decrypt(
                &nonce,
                Payload {
                    msg: sealed,
                    aad: context.as_bytes(),
                },
            )
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

/// The sealer of a fleet with a fixed sealing key: tokens of other fleets, for tests.
#[cfg(test)]
pub(crate) fn other_fleet(seed: u8) -> MarkerSealer {
    let key = crate::s3::sealed::SealingKeyConfig {
        id: "other".into(),
        key: data_encoding::HEXLOWER.encode(&std::array::from_fn::<u8, 32, _>(|i| seed ^ i as u8)),
    };
    MarkerSealer::new(Some(&Keyring::from_config(&[key]).expect("a valid key")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let s = MarkerSealer::new(None);
        let t = s.seal("users/bob/secret.txt", "data alice");
        assert!(MarkerSealer::is_sealed(&t));
        assert!(!t.contains("bob"));
        assert_eq!(
            s.open(&t, "data alice").as_deref(),
            Some("users/bob/secret.txt")
        );
        assert_eq!(s.open(&t, "data mallory"), None);
        assert_eq!(s.open(&t, "other alice"), None);
        let mut bad = t.clone();
        bad.pop();
        bad.push(if t.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(s.open(&bad, "data alice"), None);
        assert_eq!(s.open("bgm1.!!", "data alice"), None);
        assert_eq!(s.open("plain", "data alice"), None);
        // Another fleet's sealer cannot open it; this process's can, whenever it is built
        // (a reload builds a new one).
        assert_eq!(other_fleet(7).open(&t, "data alice"), None);
        assert_eq!(
            MarkerSealer::new(None).open(&t, "data alice").as_deref(),
            Some("users/bob/secret.txt")
        );
        let fleet = other_fleet(7).seal("k", "c");
        assert_eq!(other_fleet(7).open(&fleet, "c").as_deref(), Some("k"));
        assert_eq!(other_fleet(8).open(&fleet, "c"), None);
        assert_eq!(s.open(&fleet, "c"), None);
    }
}
