//! The shared store: Redis, so several bucketgate instances behind a load balancer see the same
//! logins and sessions. `SET key value PX ttl`, `GET`, `GETDEL` (Redis 6.2+), `DEL`, every key
//! under a prefix.
//!
//! The connection is a [`RedisLink`] (its own runtime thread, so it works from any of Pingora's
//! runtimes). Redis down is a `StoreError`, never a panic or a hang: every operation has a
//! deadline.

use std::time::Duration;

use async_trait::async_trait;
use bucketgate_plugin::redis_link::RedisLink;

use super::{SessionStore, StoreError};

/// The deadline of one operation, connecting included.
const OP_TIMEOUT: Duration = Duration::from_secs(5);

pub struct RedisStore {
    prefix: String,
    link: RedisLink,
}

impl RedisStore {
    /// Parses the URL and starts the runtime thread; does not connect (that happens at the first
    /// operation, and again whenever the connection is lost).
    pub fn new(url: &str, prefix: &str) -> Result<RedisStore, String> {
        Ok(RedisStore {
            prefix: prefix.to_owned(),
            link: RedisLink::new(
                url,
                "bucketgate-redis",
                Duration::from_secs(2),
                Duration::from_secs(2),
            )?,
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Runs `cmd` on the link's runtime, with a deadline.
    async fn run<T>(&self, cmd: redis::Cmd) -> Result<T, StoreError>
    where
        T: redis::FromRedisValue + Send + 'static,
    {
        self.link
            .run(OP_TIMEOUT, move |mut conn| async move {
                cmd.query_async::<T>(&mut conn).await
            })
            .await
            .map_err(StoreError::Unavailable)
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key)).arg(value).arg("PX").arg(ms);
        self.run::<()>(cmd).await
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.key(key));
        self.run(cmd).await
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut cmd = redis::cmd("GETDEL");
        cmd.arg(self.key(key));
        self.run(cmd).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.key(key));
        self.run::<()>(cmd).await
    }
}
