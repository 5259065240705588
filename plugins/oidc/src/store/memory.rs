//! The in-process store, the default: a map behind a mutex, entries swept when they expire.
//! It holds sessions only (a login in progress lives in the browser's cookie), so only finished
//! sign-ins fill it. Bounded all the same: when full of live entries, new ones are refused (the
//! user gets an error page) rather than evicting sessions, and a full store is swept for expired
//! entries at most once a second, so refused writes never each scan the map under the lock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{SessionStore, StoreError};

/// The default bound on entries.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// How often a full store may be swept for expired entries.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

type Entries = HashMap<String, (Vec<u8>, Instant)>;

pub struct MemoryStore {
    capacity: usize,
    inner: Mutex<Inner>,
}

struct Inner {
    entries: Entries,
    /// When a full store was last swept.
    swept: Option<Instant>,
}

impl MemoryStore {
    pub fn new(capacity: usize) -> MemoryStore {
        MemoryStore {
            capacity,
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                swept: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Live entries (for tests).
    #[cfg(test)]
    pub fn live(&self) -> usize {
        let now = Instant::now();
        self.lock()
            .entries
            .values()
            .filter(|(_, exp)| *exp > now)
            .count()
    }
}

impl Default for MemoryStore {
    fn default() -> MemoryStore {
        MemoryStore::new(DEFAULT_CAPACITY)
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        let now = Instant::now();
        let Some(expires) = now.checked_add(ttl) else {
            return Err(StoreError::Unavailable("ttl out of range".into()));
        };
        let mut inner = self.lock();
        if inner.entries.len() >= self.capacity && !inner.entries.contains_key(key) {
            let due = inner
                .swept
                .is_none_or(|at| now.saturating_duration_since(at) >= SWEEP_EVERY);
            if due {
                inner.entries.retain(|_, (_, exp)| *exp > now);
                inner.swept = Some(now);
            }
            if inner.entries.len() >= self.capacity {
                return Err(StoreError::Full);
            }
        }
        inner.entries.insert(key.to_owned(), (value, expires));
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = Instant::now();
        let map = &mut self.lock().entries;
        match map.get(key) {
            Some((value, exp)) if *exp > now => Ok(Some(value.clone())),
            Some(_) => {
                map.remove(key);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = Instant::now();
        Ok(self
            .lock()
            .entries
            .remove(key)
            .filter(|(_, exp)| *exp > now)
            .map(|(v, _)| v))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.lock().entries.remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::support::block;

    #[test]
    fn put_get_take_delete() {
        block(async {
            let s = MemoryStore::default();
            let hour = Duration::from_secs(3600);
            s.put("a", b"1".to_vec(), hour).await.unwrap();
            assert_eq!(s.get("a").await.unwrap(), Some(b"1".to_vec()));
            assert_eq!(
                s.get("a").await.unwrap(),
                Some(b"1".to_vec()),
                "get keeps it"
            );
            assert_eq!(s.take("a").await.unwrap(), Some(b"1".to_vec()));
            assert_eq!(s.take("a").await.unwrap(), None, "take is single-use");
            assert_eq!(s.get("a").await.unwrap(), None);
            s.put("b", b"2".to_vec(), hour).await.unwrap();
            s.put("b", b"3".to_vec(), hour).await.unwrap();
            assert_eq!(
                s.get("b").await.unwrap(),
                Some(b"3".to_vec()),
                "put replaces"
            );
            s.delete("b").await.unwrap();
            assert_eq!(s.get("b").await.unwrap(), None);
            s.delete("never").await.unwrap();
        });
    }

    #[test]
    fn entries_expire() {
        block(async {
            let s = MemoryStore::default();
            s.put("gone", b"x".to_vec(), Duration::ZERO).await.unwrap();
            s.put("kept", b"y".to_vec(), Duration::from_secs(3600))
                .await
                .unwrap();
            assert_eq!(s.get("gone").await.unwrap(), None);
            assert_eq!(s.take("gone").await.unwrap(), None);
            assert_eq!(s.get("kept").await.unwrap(), Some(b"y".to_vec()));
        });
    }

    #[test]
    fn full_of_live_entries_refuses_new_keys_but_sweeps_expired_ones() {
        block(async {
            let s = MemoryStore::new(2);
            let hour = Duration::from_secs(3600);
            s.put("a", vec![1], hour).await.unwrap();
            s.put("b", vec![2], Duration::ZERO).await.unwrap();
            // "b" is expired: swept to make room.
            s.put("c", vec![3], hour).await.unwrap();
            assert_eq!(s.live(), 2);
            assert_eq!(s.put("d", vec![4], hour).await, Err(StoreError::Full));
            // Replacing a live key is always possible.
            s.put("a", vec![5], hour).await.unwrap();
            assert_eq!(s.get("a").await.unwrap(), Some(vec![5]));
            assert_eq!(
                s.get("c").await.unwrap(),
                Some(vec![3]),
                "live sessions not evicted"
            );
        });
    }

    #[test]
    fn a_full_store_is_swept_at_most_once_a_second() {
        block(async {
            let s = MemoryStore::new(1);
            let hour = Duration::from_secs(3600);
            s.put("a", vec![1], hour).await.unwrap();
            assert_eq!(s.put("b", vec![2], hour).await, Err(StoreError::Full));
            // "a" is now expired, but the store was swept a moment ago: no new scan yet.
            s.put("a", vec![3], Duration::ZERO).await.unwrap();
            assert_eq!(s.put("b", vec![2], hour).await, Err(StoreError::Full));
            tokio::time::sleep(Duration::from_millis(1100)).await;
            s.put("b", vec![2], hour).await.unwrap();
            assert_eq!(s.get("b").await.unwrap(), Some(vec![2]));
        });
    }
}
