//! One Redis connection usable from any of Pingora's tokio runtimes, for plugins and the
//! gateway alike (the oidc session store, the shared rate-limit counters).
//!
//! A Redis connection belongs to the runtime that made it, and Pingora runs several. So a link
//! owns one small runtime on its own thread, holding a reconnecting `ConnectionManager` made at
//! first use; each operation is spawned onto that runtime and its `JoinHandle` awaited, which
//! works from anywhere. Every operation has a deadline: Redis down is an error string (with the
//! URL's password left out), never a panic or a hang. Dropping the link ends the thread.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::without_userinfo;

pub struct RedisLink {
    /// The URL without its password, for messages.
    pub label: String,
    client: redis::Client,
    handle: Handle,
    manager: Arc<Mutex<Option<ConnectionManager>>>,
    connect_timeout: Duration,
    response_timeout: Duration,
    /// Dropping it ends the runtime thread.
    _stop: oneshot::Sender<()>,
}

impl RedisLink {
    /// Parses the URL and starts the runtime thread `thread`; does not connect (that happens at
    /// the first operation, and again whenever the connection is lost).
    pub fn new(
        url: &str,
        thread: &str,
        connect_timeout: Duration,
        response_timeout: Duration,
    ) -> Result<RedisLink, String> {
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
            .name(thread.into())
            .spawn(move || {
                // Drives every spawned operation until the link is dropped.
                let _ = runtime.block_on(stopped);
            })
            .map_err(|e| format!("cannot start the Redis thread: {e}"))?;
        Ok(RedisLink {
            label,
            client,
            handle,
            manager: Arc::new(Mutex::new(None)),
            connect_timeout,
            response_timeout,
            _stop: stop,
        })
    }

    /// Runs `work` with the connection on the link's runtime, cut off after `deadline`.
    /// Errors read `Redis <url>: <category>` or `... no answer within N ms`.
    pub async fn run<T, F, Fut>(&self, deadline: Duration, work: F) -> Result<T, String>
    where
        T: Send + 'static,
        F: FnOnce(ConnectionManager) -> Fut + Send + 'static,
        Fut: Future<Output = redis::RedisResult<T>> + Send,
    {
        let label = self.label.clone();
        let client = self.client.clone();
        let slot = Arc::clone(&self.manager);
        let timeouts = (self.connect_timeout, self.response_timeout);
        let task = self.handle.spawn(async move {
            let attempt = async {
                let conn = connection(&client, &slot, timeouts)?;
                work(conn).await
            };
            match tokio::time::timeout(deadline, attempt).await {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(e)) => Err(format!(
                    "Redis {label}: {}{}",
                    e.category(),
                    e.code().map(|c| format!(" ({c})")).unwrap_or_default()
                )),
                Err(_) => Err(format!(
                    "Redis {label}: no answer within {} ms",
                    deadline.as_millis()
                )),
            }
        });
        task.await
            .unwrap_or_else(|_| Err("the Redis operation was cancelled".into()))
    }
}

/// The shared connection manager, made at first use (inside the link's runtime).
fn connection(
    client: &redis::Client,
    slot: &Mutex<Option<ConnectionManager>>,
    (connect_timeout, response_timeout): (Duration, Duration),
) -> redis::RedisResult<ConnectionManager> {
    let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(conn) = slot.as_ref() {
        return Ok(conn.clone());
    }
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(connect_timeout))
        .set_response_timeout(Some(response_timeout))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(500));
    let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
    *slot = Some(conn.clone());
    Ok(conn)
}
