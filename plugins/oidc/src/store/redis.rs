//! The shared store: Redis, so several bucketgate instances behind a load balancer see the same
//! logins and sessions. `SET key value PX ttl`, `GET`, `GETDEL` (Redis 6.2+), `DEL`, every key
//! under a prefix.
//!
//! Pingora runs several tokio runtimes, and a Redis connection belongs to the runtime that made
//! it. So the store owns one small runtime on its own thread, holding the reconnecting
//! `ConnectionManager`; each operation is spawned onto it and its `JoinHandle` awaited, which
//! works from any runtime. Redis down is a `StoreError`, never a panic or a hang: every
//! operation has a deadline.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use super::{SessionStore, StoreError};
use crate::config::without_userinfo;

/// The deadline of one operation, connecting included.
const OP_TIMEOUT: Duration = Duration::from_secs(5);

pub struct RedisStore {
    prefix: String,
    label: String,
    client: redis::Client,
    handle: Handle,
    manager: Arc<Mutex<Option<ConnectionManager>>>,
    /// Dropping it ends the runtime thread.
    _stop: oneshot::Sender<()>,
}

impl RedisStore {
    /// Parses the URL and starts the runtime thread; does not connect (that happens at the first
    /// operation, and again whenever the connection is lost).
    pub fn new(url: &str, prefix: &str) -> Result<RedisStore, String> {
        let label = without_userinfo(url);
        let client = redis::Client::open(url)
            .map_err(|e| format!("bad Redis URL {label}: {}", e.category()))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the Redis runtime: {e}"))?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("bucketgate-redis".into())
            .spawn(move || {
                // Drives every spawned operation until the store is dropped.
                let _ = runtime.block_on(stopped);
            })
            .map_err(|e| format!("cannot start the Redis thread: {e}"))?;
        Ok(RedisStore {
            prefix: prefix.to_owned(),
            label,
            client,
            handle,
            manager: Arc::new(Mutex::new(None)),
            _stop: stop,
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Runs `cmd` on the store's runtime, with a deadline.
    async fn run<T>(&self, cmd: redis::Cmd) -> Result<T, StoreError>
    where
        T: redis::FromRedisValue + Send + 'static,
    {
        let client = self.client.clone();
        let slot = Arc::clone(&self.manager);
        let label = self.label.clone();
        let task = self.handle.spawn(async move {
            let work = async {
                let mut conn = connection(&client, &slot)?;
                cmd.query_async::<T>(&mut conn).await
            };
            match tokio::time::timeout(OP_TIMEOUT, work).await {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(e)) => Err(StoreError::Unavailable(format!(
                    "Redis {label}: {}{}",
                    e.category(),
                    e.code().map(|c| format!(" ({c})")).unwrap_or_default()
                ))),
                Err(_) => Err(StoreError::Unavailable(format!(
                    "Redis {label}: no answer within {}s",
                    OP_TIMEOUT.as_secs()
                ))),
            }
        });
        task.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable(
                "Redis operation was cancelled".into(),
            ))
        })
    }
}

/// The shared connection manager, made at first use (inside the store's runtime).
fn connection(
    client: &redis::Client,
    slot: &Mutex<Option<ConnectionManager>>,
) -> redis::RedisResult<ConnectionManager> {
    let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(conn) = slot.as_ref() {
        return Ok(conn.clone());
    }
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)))
        .set_number_of_retries(1);
    let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
    *slot = Some(conn.clone());
    Ok(conn)
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
