//! The S3 frontend's [`KeyStore`]: one lookup over the two kinds of access keys, so the
//! signature check does not care where a secret came from.
//!
//! - Static pairs from `access_keys.static` and the key files, held in a map.
//! - Sealed keys (`BG1…`), opened with the keyring on every request: nothing is stored, so a
//!   key minted by any instance (or by `bucketgate keys mint`) works on every instance that
//!   holds the sealing key, across restarts.
//!
//! An unknown, expired, tampered or retired key looks the same to the client
//! (`InvalidAccessKeyId`); the log says which it was, without the key's secret.

use std::collections::HashMap;
use std::time::SystemTime;

use bucketgate_plugin::Identity;

use crate::config::model::{AccessKeys, StaticKey};
use crate::s3::sealed::{self, keyring::Keyring, OpenError};
use crate::s3::verify::{KeyStore, Secret};

/// The plugin name identities from static keys carry (logs, metrics).
pub const STATIC_PLUGIN: &str = "s3-key";
/// The plugin name identities from sealed keys carry.
pub const SEALED_PLUGIN: &str = "sealed-key";

pub struct AccessKeyStore {
    static_keys: HashMap<String, StaticKey>,
    keyring: Option<Keyring>,
}

impl AccessKeyStore {
    /// The store for a validated `access_keys` section (key files already read into it).
    pub fn from_config(config: &AccessKeys) -> Result<AccessKeyStore, String> {
        let keyring = if config.sealing_keys.is_empty() {
            None
        } else {
            Some(Keyring::from_config(&config.sealing_keys)?)
        };
        Ok(AccessKeyStore {
            static_keys: config
                .static_keys
                .iter()
                .map(|k| (k.access_key_id.clone(), k.clone()))
                .collect(),
            keyring,
        })
    }

    /// The sealing keys, if any are configured.
    pub fn keyring(&self) -> Option<&Keyring> {
        self.keyring.as_ref()
    }

    /// Looks a key up as of `now` (sealed keys expire).
    pub fn lookup(&self, access_key_id: &str, now: SystemTime) -> Option<Secret<Identity>> {
        if sealed::is_sealed(access_key_id) {
            return self.open_sealed(access_key_id, now);
        }
        let key = self.static_keys.get(access_key_id)?;
        Some(Secret::new(
            key.secret_access_key.clone(),
            Identity {
                subject: key.subject.clone(),
                plugin: STATIC_PLUGIN.into(),
                claims: Default::default(),
                grants: key.grants.clone(),
            },
        ))
    }

    fn open_sealed(&self, access_key_id: &str, now: SystemTime) -> Option<Secret<Identity>> {
        let Some(keyring) = &self.keyring else {
            log::info!("sealed access key refused: no access_keys.sealing_keys are configured");
            return None;
        };
        match sealed::open(keyring, access_key_id, now) {
            Ok((claims, secret)) => Some(Secret::new(
                secret.expose(),
                Identity {
                    subject: claims.subject,
                    plugin: SEALED_PLUGIN.into(),
                    claims: Default::default(),
                    grants: claims.grants,
                },
            )),
            Err(why @ (OpenError::Expired | OpenError::UnknownKey(_))) => {
                log::info!("sealed access key refused: {why}");
                None
            }
            Err(why) => {
                log::warn!("sealed access key refused: {why}");
                None
            }
        }
    }
}

impl KeyStore for AccessKeyStore {
    type Identity = Identity;

    fn secret(&self, access_key_id: &str) -> Option<Secret<Identity>> {
        self.lookup(access_key_id, SystemTime::now())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bucketgate_plugin::{Grant, Operation};

    use super::*;
    use crate::s3::sealed::keyring::SealingKeyConfig;
    use crate::s3::sealed::{mint, Claims};

    const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "HxwdHhscGRoXGBUWExQREg8QDQ4LDAkKBwgFBgMEAQI=";

    fn ring(keys: &[(&str, &str)]) -> Vec<SealingKeyConfig> {
        keys.iter()
            .map(|(id, key)| SealingKeyConfig {
                id: (*id).into(),
                key: (*key).into(),
            })
            .collect()
    }

    fn store(sealing: Vec<SealingKeyConfig>) -> AccessKeyStore {
        AccessKeyStore::from_config(&AccessKeys {
            sealing_keys: sealing,
            static_keys: vec![StaticKey {
                access_key_id: "AKIAALICE".into(),
                secret_access_key: "alicesecret".into(),
                subject: "alice".into(),
                grants: vec![Grant::new("data", "alice/", &[Operation::Read])],
            }],
            files: vec![],
        })
        .unwrap()
    }

    fn minted(sealing: &[SealingKeyConfig], ttl: Duration) -> (String, String) {
        let keyring = Keyring::from_config(sealing).unwrap();
        let claims = Claims {
            subject: "bob".into(),
            grants: vec![Grant::new("data", "bob/", &[Operation::Write])],
            expires_at: SystemTime::now() + ttl,
        };
        let (id, secret) = mint(&keyring, &claims).unwrap();
        (id, secret.expose().to_string())
    }

    #[test]
    fn static_keys_resolve_with_grants() {
        let s = store(vec![]);
        let secret = s.secret("AKIAALICE").unwrap();
        assert_eq!(secret.secret_access_key, "alicesecret");
        assert_eq!(secret.identity.subject, "alice");
        assert_eq!(secret.identity.plugin, STATIC_PLUGIN);
        assert!(s.secret("AKIAMALLORY").is_none());
    }

    #[test]
    fn sealed_keys_survive_rotation_until_retired() {
        let old = ring(&[("k1", K1)]);
        let (id, secret) = minted(&old, Duration::from_secs(3600));
        let rotated = store(ring(&[("k2", K2), ("k1", K1)]));
        let got = rotated.secret(&id).expect("opens after rotation");
        assert_eq!(got.secret_access_key, secret);
        assert_eq!(got.identity.subject, "bob");
        assert_eq!(got.identity.grants[0].prefix, "bob/");
        let retired = store(ring(&[("k2", K2)]));
        assert!(retired.secret(&id).is_none(), "k1 was retired");
        assert!(store(vec![]).secret(&id).is_none(), "no keyring at all");
    }

    #[test]
    fn expired_and_tampered_sealed_keys_fail() {
        let keys = ring(&[("k1", K1)]);
        let (id, _) = minted(&keys, Duration::from_secs(60));
        let s = store(keys);
        assert!(s
            .lookup(&id, SystemTime::now() + Duration::from_secs(120))
            .is_none());
        let mut tampered = id.clone().into_bytes();
        let at = tampered.len() - 5;
        tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
        assert!(s.secret(&String::from_utf8(tampered).unwrap()).is_none());
    }
}
