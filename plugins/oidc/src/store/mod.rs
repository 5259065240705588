//! Where login states and sessions live: a small key-value trait with TTLs, so one process can
//! keep them in memory and several instances behind a load balancer can share them in Redis.
//! Values are already encrypted (`seal.rs`) when they get here.

mod memory;
mod redis;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

pub use self::memory::MemoryStore;
pub use self::redis::RedisStore;

/// Why a store could not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The backend is unreachable or failed (Redis down, timeout). Never holds a value.
    Unavailable(String),
    /// The memory store holds as many live entries as it may.
    Full,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable(why) => write!(f, "session store unavailable: {why}"),
            StoreError::Full => f.write_str("session store full"),
        }
    }
}

/// A key-value store whose keys expire.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores `value` under `key` for `ttl`, replacing any previous value.
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError>;
    /// The live value of `key`.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Reads and deletes `key` at once: of two concurrent takes, one gets the value.
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
}
