//! What is kept between requests, and how: sessions as JSON, sealed with the session key
//! (`seal.rs`) before they reach any store, under keys that never hold a raw cookie value
//! (`session:<sha256 of the id>`); and the state of a login in progress, sealed the same way
//! into a short-lived cookie of the browser that started it (never into a store, so anonymous
//! requests write nothing anywhere).

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

/// A login started and not yet finished: the `<cookie>_login` cookie's content (sealed), which
/// lives `state_ttl` on the callback path of the browser that started the login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginState {
    /// The `state` sent to the provider; the callback's must equal it.
    pub state: String,
    pub pkce_verifier: String,
    pub nonce: String,
    pub return_url: String,
    /// Seconds since the epoch.
    pub created_at: u64,
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

/// The store, sealing every record on the way in and opening it on the way out. A record that
/// does not open (tampered, another key, another route set) or does not parse reads as absent.
pub struct Records {
    store: Arc<dyn SessionStore>,
    sealer: Sealer,
    /// The session binding (`OidcConfig::session_binding`: provider, client, cookie name, the
    /// `allow` rules), bound into every record with its store key, so two plugins sharing a
    /// store (the same Redis prefix, or one memory store) read each other's records only when
    /// they agree on all of it.
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
        format!("{}\nstore:{key}", self.scope)
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

    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.store.delete(key).await
    }

    /// `record` sealed for a cookie named `name`, base64url; None without randomness.
    pub fn seal_cookie<T: Serialize>(&self, name: &str, record: &T) -> Option<String> {
        let json = zeroize::Zeroizing::new(serde_json::to_vec(record).ok()?);
        let sealed = self.sealer.seal(&self.cookie_binding(name), &json)?;
        Some(URL_SAFE_NO_PAD.encode(sealed))
    }

    /// The record in a cookie named `name` that [`Records::seal_cookie`] made; None when it was
    /// altered, made for another cookie or route set, or does not parse.
    pub fn open_cookie<T: DeserializeOwned>(&self, name: &str, value: &str) -> Option<T> {
        // A sealed login state is a few hundred bytes; a cookie is at most 4 KiB.
        if value.len() > 8192 {
            return None;
        }
        let sealed = URL_SAFE_NO_PAD.decode(value.as_bytes()).ok()?;
        let json = zeroize::Zeroizing::new(self.sealer.open(&self.cookie_binding(name), &sealed)?);
        serde_json::from_slice(&json).ok()
    }

    /// What a cookie's record is sealed to: the scope and the cookie's name, in a namespace of
    /// its own (a cookie can never be replayed as a store record, nor the other way).
    fn cookie_binding(&self, name: &str) -> String {
        format!("{}\ncookie:{name}", self.scope)
    }

    fn open<T: DeserializeOwned>(&self, key: &str, sealed: &[u8]) -> Option<T> {
        let Some(json) = self
            .sealer
            .open(&self.binding(key), sealed)
            .map(zeroize::Zeroizing::new)
        else {
            log::warn!(
                "oidc: a stored record did not decrypt (tampered, another session key, or a session of another route set)"
            );
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

    fn state() -> LoginState {
        LoginState {
            state: "s".repeat(43),
            pkce_verifier: "v".repeat(43),
            nonce: "n".into(),
            return_url: "/a?b".into(),
            created_at: 1,
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
    fn records_round_trip_sealed() {
        block(async {
            let mem = Arc::new(MemoryStore::default());
            let records = Records::new(mem.clone(), &[1u8; 32], "scope");
            let key = "session:k";
            records
                .put(key, &state(), Duration::from_secs(60))
                .await
                .unwrap();
            // At rest: sealed, not JSON.
            let raw = mem.get(key).await.unwrap().unwrap();
            assert!(serde_json::from_slice::<serde_json::Value>(&raw).is_err());
            assert!(!raw.windows(4).any(|w| w == b"/a?b"));
            assert_eq!(records.get::<LoginState>(key).await.unwrap(), Some(state()));
            records.delete(key).await.unwrap();
            assert_eq!(records.get::<LoginState>(key).await.unwrap(), None);
        });
    }

    #[test]
    fn tampered_moved_or_foreign_records_read_as_absent() {
        block(async {
            let mem = Arc::new(MemoryStore::default());
            let records = Records::new(mem.clone(), &[1u8; 32], "scope");
            let hour = Duration::from_secs(3600);
            records.put("session:a", &state(), hour).await.unwrap();
            let mut raw = mem.get("session:a").await.unwrap().unwrap();
            // Moved under another key.
            mem.put("session:b", raw.clone(), hour).await.unwrap();
            assert_eq!(records.get::<LoginState>("session:b").await.unwrap(), None);
            // Flipped bit.
            let last = raw.len() - 1;
            raw[last] ^= 0x80;
            mem.put("session:a", raw, hour).await.unwrap();
            assert_eq!(records.get::<LoginState>("session:a").await.unwrap(), None);
            // Sealed with another session key.
            let other = Records::new(mem.clone(), &[2u8; 32], "scope");
            other.put("session:c", &state(), hour).await.unwrap();
            assert_eq!(records.get::<LoginState>("session:c").await.unwrap(), None);
            assert_eq!(
                other.get::<LoginState>("session:c").await.unwrap(),
                Some(state())
            );
            // Same key and store, another route set (provider, client, cookie, allow rules).
            let foreign = Records::new(mem.clone(), &[1u8; 32], "another scope");
            foreign.put("session:d", &state(), hour).await.unwrap();
            assert_eq!(records.get::<LoginState>("session:d").await.unwrap(), None);
        });
    }

    #[test]
    fn sealed_cookies_open_only_under_their_name_and_scope() {
        let records = Records::new(Arc::new(MemoryStore::default()), &[1u8; 32], "scope");
        let value = records.seal_cookie("c_login", &state()).unwrap();
        assert!(value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert!(!value.contains("/a?b") && !value.contains(&"v".repeat(10)));
        assert_eq!(
            records.open_cookie::<LoginState>("c_login", &value),
            Some(state())
        );
        assert_eq!(records.open_cookie::<LoginState>("other", &value), None);
        let foreign = Records::new(Arc::new(MemoryStore::default()), &[1u8; 32], "another");
        assert_eq!(foreign.open_cookie::<LoginState>("c_login", &value), None);
        let mut bad = value.clone().into_bytes();
        bad[30] = if bad[30] == b'A' { b'B' } else { b'A' };
        let bad = String::from_utf8(bad).unwrap();
        for v in [
            bad.as_str(),
            "",
            "!!",
            &value[..value.len() - 2],
            &"A".repeat(9000),
        ] {
            assert_eq!(
                records.open_cookie::<LoginState>("c_login", v),
                None,
                "{v:.20}"
            );
        }
        // Not a store record: the same bytes under a store key do not open.
        block(async {
            let mem = Arc::new(MemoryStore::default());
            let records = Records::new(mem.clone(), &[1u8; 32], "scope");
            let raw = URL_SAFE_NO_PAD.decode(&value).unwrap();
            mem.put("cookie:c_login", raw, Duration::from_secs(60))
                .await
                .unwrap();
            assert_eq!(
                records.get::<LoginState>("cookie:c_login").await.unwrap(),
                None
            );
        });
    }
}
