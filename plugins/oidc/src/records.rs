//! What is kept between requests, and how: login states and sessions as JSON, sealed with the
//! session key (`seal.rs`) before they reach any store, under keys that never hold a raw cookie
//! value (`session:<sha256 of the id>`).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::seal::Sealer;
use crate::store::{SessionStore, StoreError};

pub type Claims = serde_json::Map<String, serde_json::Value>;

/// What a login is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// A session, then back to the return URL.
    Session,
    /// A session and a minted S3 key, shown as HTML or JSON.
    Mint { json: bool },
}

/// A login started and not yet finished (key `state:<state>`, single-use, TTL `state_ttl`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateRecord {
    pub pkce_verifier: String,
    pub nonce: String,
    pub return_url: String,
    pub mode: Mode,
    /// Seconds since the epoch.
    pub created_at: u64,
    /// SHA-256 (base64url) of the browser-binding cookie's value.
    pub binding: String,
}

/// A signed-in browser (key `session:<sha256(id)>`, TTL `cookie.lifetime`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub subject: String,
    /// The verified ID token's payload; grants are computed from it on each use, so a config
    /// change applies to existing sessions.
    pub claims: Claims,
    pub id_token: Option<String>,
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// When the access token expires (seconds since the epoch), if the provider said.
    pub access_expires_at: Option<u64>,
    pub created_at: u64,
    /// When the session ends (seconds since the epoch).
    pub expires_at: u64,
    /// The last re-check attempt, and the last that succeeded (the login counts as both).
    pub last_check: u64,
    pub last_ok: u64,
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    unix(SystemTime::now())
}

pub fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// 32 random bytes, base64url: session ids, states, nonces, binding values.
pub fn random_token() -> Option<String> {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).ok()?;
    Some(URL_SAFE_NO_PAD.encode(raw))
}

/// Whether `s` could be a [`random_token`]: 43 base64url characters. Anything else is not
/// looked up at all.
pub fn is_token_shaped(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// SHA-256, base64url.
pub fn digest(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(s.as_bytes()))
}

pub fn session_key(id: &str) -> String {
    format!("session:{}", digest(id))
}

pub fn state_key(state: &str) -> String {
    format!("state:{state}")
}

/// What binds a record to one provider and client: `issuer` and `client_id`. Records are
/// sealed with it, so two plugins sharing a store (the same Redis prefix, or one memory store)
/// never read each other's sessions or login states.
pub fn scope(issuer: &str, client_id: &str) -> String {
    format!("{issuer}\n{client_id}")
}

/// The store, sealing every record on the way in and opening it on the way out. A record that
/// does not open (tampered, another key, another provider or client) or does not parse reads
/// as absent.
pub struct Records {
    store: Arc<dyn SessionStore>,
    sealer: Sealer,
    /// [`scope`], bound into every record with its store key.
    scope: String,
}

impl Records {
    pub fn new(store: Arc<dyn SessionStore>, key: &[u8; 32], scope: &str) -> Records {
        Records {
            store,
            sealer: Sealer::new(key),
            scope: scope.to_owned(),
        }
    }

    /// What a record under `key` is sealed to: the scope and the key.
    fn binding(&self, key: &str) -> String {
        format!("{}\n{key}", self.scope)
    }

    pub async fn put<T: Serialize>(
        &self,
        key: &str,
        record: &T,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let json = zeroize::Zeroizing::new(
            serde_json::to_vec(record)
                .map_err(|e| StoreError::Unavailable(format!("cannot encode a record: {e}")))?,
        );
        let sealed = self
            .sealer
            .seal(&self.binding(key), &json)
            .ok_or_else(|| StoreError::Unavailable("no randomness to seal a record".into()))?;
        self.store.put(key, sealed, ttl).await
    }

    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        Ok(self.store.get(key).await?.and_then(|v| self.open(key, &v)))
    }

    pub async fn take<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        Ok(self.store.take(key).await?.and_then(|v| self.open(key, &v)))
    }

    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.store.delete(key).await
    }

    fn open<T: DeserializeOwned>(&self, key: &str, sealed: &[u8]) -> Option<T> {
        let Some(json) = self
            .sealer
            .open(&self.binding(key), sealed)
            .map(zeroize::Zeroizing::new)
        else {
            log::warn!("oidc: a stored record did not decrypt (tampered, or another session key)");
            return None;
        };
        match serde_json::from_slice(&json) {
            Ok(v) => Some(v),
            Err(e) => {
                log::warn!("oidc: a stored record did not parse: {e}");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use crate::tests::support::block;

    fn state() -> StateRecord {
        StateRecord {
            pkce_verifier: "v".repeat(43),
            nonce: "n".into(),
            return_url: "/a?b".into(),
            mode: Mode::Mint { json: true },
            created_at: 1,
            binding: digest("b"),
        }
    }

    #[test]
    fn tokens_are_random_and_shaped() {
        let a = random_token().unwrap();
        assert!(is_token_shaped(&a));
        assert_ne!(a, random_token().unwrap());
        for bad in [
            "",
            "short",
            &format!("{a}x"),
            &a.replace(|_| true, "+")[..43],
        ] {
            assert!(!is_token_shaped(bad), "{bad:?}");
        }
        let id = random_token().unwrap();
        assert!(!session_key(&id).contains(&id), "the raw id is never a key");
    }

    #[test]
    fn records_round_trip_sealed_and_take_is_single_use() {
        block(async {
            let mem = Arc::new(MemoryStore::default());
            let records = Records::new(mem.clone(), &[1u8; 32], &scope("i", "c"));
            let key = state_key("s1");
            records
                .put(&key, &state(), Duration::from_secs(60))
                .await
                .unwrap();
            // At rest: sealed, not JSON.
            let raw = mem.get(&key).await.unwrap().unwrap();
            assert!(serde_json::from_slice::<serde_json::Value>(&raw).is_err());
            assert!(!raw.windows(4).any(|w| w == b"/a?b"));
            assert_eq!(
                records.take::<StateRecord>(&key).await.unwrap(),
                Some(state())
            );
            assert_eq!(
                records.take::<StateRecord>(&key).await.unwrap(),
                None,
                "replayed"
            );
        });
    }

    #[test]
    fn tampered_moved_or_foreign_records_read_as_absent() {
        block(async {
            let mem = Arc::new(MemoryStore::default());
            let records = Records::new(mem.clone(), &[1u8; 32], &scope("i", "c"));
            let hour = Duration::from_secs(3600);
            records.put("session:a", &state(), hour).await.unwrap();
            let mut raw = mem.get("session:a").await.unwrap().unwrap();
            // Moved under another key.
            mem.put("session:b", raw.clone(), hour).await.unwrap();
            assert_eq!(records.get::<StateRecord>("session:b").await.unwrap(), None);
            // Flipped bit.
            let last = raw.len() - 1;
            raw[last] ^= 0x80;
            mem.put("session:a", raw, hour).await.unwrap();
            assert_eq!(records.get::<StateRecord>("session:a").await.unwrap(), None);
            // Sealed with another session key.
            let other = Records::new(mem.clone(), &[2u8; 32], &scope("i", "c"));
            other.put("session:c", &state(), hour).await.unwrap();
            assert_eq!(records.get::<StateRecord>("session:c").await.unwrap(), None);
            assert_eq!(
                other.get::<StateRecord>("session:c").await.unwrap(),
                Some(state())
            );
            // Same key and store, another provider or client.
            for foreign in [scope("i2", "c"), scope("i", "c2")] {
                let foreign = Records::new(mem.clone(), &[1u8; 32], &foreign);
                foreign.put("session:d", &state(), hour).await.unwrap();
                assert_eq!(records.get::<StateRecord>("session:d").await.unwrap(), None);
            }
        });
    }
}
