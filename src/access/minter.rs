//! Mints sealed S3 access keys for the oidc plugin: a user who signs in at `/<bucket>/?auth` on
//! an S3 route gets a `BG1…` key pair carrying their subject and the grants their claims give,
//! sealed with `access_keys.sealing_keys` exactly as `bucketgate keys mint` does, so every
//! instance with the same keyring accepts it and nothing is stored.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bucketgate_plugin::Grant;
use bucketgate_plugin_oidc::{KeyMinter, MintedKey};

use crate::s3::sealed::{self, Claims, Keyring};

/// A [`KeyMinter`] over the sealing keyring.
pub struct SealedKeyMinter {
    keyring: Keyring,
}

impl SealedKeyMinter {
    pub fn new(keyring: Keyring) -> SealedKeyMinter {
        SealedKeyMinter { keyring }
    }
}

impl KeyMinter for SealedKeyMinter {
    fn mint(&self, subject: &str, grants: &[Grant], ttl: Duration) -> Result<MintedKey, String> {
        // Sealed keys carry whole seconds: report the expiry the key really has.
        let expires_at = whole_seconds(SystemTime::now() + ttl);
        let claims = Claims {
            subject: subject.to_string(),
            grants: grants.to_vec(),
            expires_at,
        };
        let (access_key_id, secret) =
            sealed::mint(&self.keyring, &claims).map_err(|e| e.to_string())?;
        Ok(MintedKey {
            access_key_id,
            secret_access_key: secret.expose().to_string(),
            expires_at,
        })
    }
}

fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    UNIX_EPOCH + Duration::from_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::sealed::SealingKeyConfig;
    use bucketgate_plugin::Operation;

    fn keyring() -> Keyring {
        let key = sealed::generate_sealing_key().unwrap();
        let cfg: Vec<SealingKeyConfig> =
            serde_yaml::from_str(&format!("- {{id: k1, key: \"{key}\"}}")).unwrap();
        Keyring::from_config(&cfg).unwrap()
    }

    #[test]
    fn minted_keys_open_with_the_same_keyring_and_carry_subject_grants_and_expiry() {
        let minter = SealedKeyMinter::new(keyring());
        let grant = Grant::new("data", "users/alice/", &[Operation::Read]);
        let key = minter
            .mint(
                "alice",
                std::slice::from_ref(&grant),
                Duration::from_secs(3600),
            )
            .unwrap();
        assert!(key.access_key_id.starts_with("BG1"));
        let now = SystemTime::now();
        let left = key.expires_at.duration_since(now).unwrap();
        assert!(left <= Duration::from_secs(3600) && left > Duration::from_secs(3500));

        let (claims, secret) = sealed::open(&minter.keyring, &key.access_key_id, now).unwrap();
        assert_eq!(claims.subject, "alice");
        assert_eq!(claims.grants, vec![grant]);
        assert_eq!(claims.expires_at, key.expires_at);
        assert_eq!(secret.expose(), key.secret_access_key);

        // Another keyring cannot open it.
        assert!(sealed::open(&keyring(), &key.access_key_id, now).is_err());
    }
}
