//! The cache of successful verifications, so that a client re-sending the same Basic credentials
//! on every request (IGV does, on every Range request) pays for bcrypt once per `cache_seconds`.
//!
//! Per user it keeps an HMAC-SHA256 of `(user, password)` under a random per-process key and the
//! instant of the verification: never the password, and nothing an attacker reading memory could
//! test passwords against offline without the key. A lookup compares MACs in constant time. Only
//! successful verifications are stored; the owner drops the whole cache when the users change.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// More entries than this and the cache starts afresh.
pub const MAX_ENTRIES: usize = 10_000;

type Tag = [u8; 32];

/// Verified credentials, keyed by user name. `Debug` shows neither the key nor a MAC.
pub struct VerifiedCache {
    ttl: Duration,
    key: Option<Tag>,
    entries: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    tag: Tag,
    verified_at: Instant,
}

impl std::fmt::Debug for VerifiedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedCache")
            .field("ttl", &self.ttl)
            .field("enabled", &self.enabled().is_some())
            .field("entries", &self.lock().len())
            .finish()
    }
}

impl VerifiedCache {
    /// A cache whose entries last `ttl`; a zero `ttl` disables it. It is disabled too when the
    /// system has no randomness for the process key (logged once).
    pub fn new(ttl: Duration) -> VerifiedCache {
        VerifiedCache {
            ttl,
            key: process_key(),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn enabled(&self) -> Option<&Tag> {
        self.key.as_ref().filter(|_| !self.ttl.is_zero())
    }

    /// Whether `(user, password)` was verified less than `ttl` ago.
    pub fn hit(&self, user: &str, password: &[u8]) -> bool {
        let Some(key) = self.enabled() else {
            return false;
        };
        let tag = mac(key, user, password);
        let mut entries = self.lock();
        let Some(entry) = entries.get(user) else {
            return false;
        };
        if entry.verified_at.elapsed() >= self.ttl {
            entries.remove(user);
            return false;
        }
        entry.tag.ct_eq(&tag).into()
    }

    /// Records a successful verification of `(user, password)`, now.
    pub fn insert(&self, user: &str, password: &[u8]) {
        let Some(key) = self.enabled() else {
            return;
        };
        let entry = Entry {
            tag: mac(key, user, password),
            verified_at: Instant::now(),
        };
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(user) {
            entries.clear();
        }
        entries.insert(user.to_owned(), entry);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // A panic elsewhere while holding the lock leaves a map that is still consistent.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// HMAC-SHA256 of the user name's length, the user name and the password: the length prefix
/// keeps `("ab", "c")` and `("a", "bc")` apart.
fn mac(key: &Tag, user: &str, password: &[u8]) -> Tag {
    let Ok(mut m) = Hmac::<Sha256>::new_from_slice(key) else {
        // HMAC takes keys of any length; this branch is unreachable.
        return [0; 32];
    };
    m.update(&(user.len() as u64).to_be_bytes());
    m.update(user.as_bytes());
    m.update(password);
    m.finalize().into_bytes().into()
}

/// The random key of this process, made once.
fn process_key() -> Option<Tag> {
    static KEY: OnceLock<Option<Tag>> = OnceLock::new();
    *KEY.get_or_init(|| {
        let mut key = [0; 32];
        match getrandom::fill(&mut key) {
            Ok(()) => Some(key),
            Err(e) => {
                log::error!(
                    "basic: no randomness for the verification cache key ({e}); caching disabled"
                );
                None
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_only_the_same_user_and_password() {
        let c = VerifiedCache::new(Duration::from_secs(60));
        assert!(!c.hit("igv", b"pw"));
        c.insert("igv", b"pw");
        assert!(c.hit("igv", b"pw"));
        assert!(!c.hit("igv", b"pw2"));
        assert!(!c.hit("igv", b"p"));
        assert!(!c.hit("other", b"pw"));
        assert!(!c.hit("ig", b"vpw"));
    }

    #[test]
    fn entries_expire() {
        let c = VerifiedCache::new(Duration::from_millis(50));
        c.insert("igv", b"pw");
        assert!(c.hit("igv", b"pw"));
        std::thread::sleep(Duration::from_millis(80));
        assert!(!c.hit("igv", b"pw"));
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn zero_ttl_disables() {
        let c = VerifiedCache::new(Duration::ZERO);
        c.insert("igv", b"pw");
        assert!(!c.hit("igv", b"pw"));
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn size_is_bounded() {
        let c = VerifiedCache::new(Duration::from_secs(60));
        for i in 0..MAX_ENTRIES {
            c.insert(&format!("u{i}"), b"pw");
        }
        assert_eq!(c.len(), MAX_ENTRIES);
        c.insert("u0", b"again");
        assert_eq!(c.len(), MAX_ENTRIES);
        c.insert("one-more", b"pw");
        assert_eq!(c.len(), 1);
        assert!(c.hit("one-more", b"pw"));
    }

    #[test]
    fn stores_no_password() {
        let c = VerifiedCache::new(Duration::from_secs(60));
        c.insert("igv", b"very-secret-password");
        let shown = format!("{c:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(!shown.contains("key"), "{shown}");
        assert!(shown.contains("entries: 1"), "{shown}");
    }
}
