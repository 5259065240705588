//! Request-rate counters shared by a fleet through Redis, so N instances enforce one limit.
//!
//! Each counter is a Redis key that lives for one window: `SET key 0 PX window NX`, `INCRBY`,
//! `PTTL`, sent together as one `MULTI`/`EXEC` round trip, so a window starts at its first
//! request and ends when the key expires (exact counts, no clock agreement needed). All the
//! counters a request needs go in the same round trip.
//!
//! The request path never waits long: every round trip has a deadline (`timeout_ms`). When
//! Redis fails or is late, the caller counts locally instead ([`super::local`]), this module
//! logs it once for the outage (not per request), and skips Redis for [`RETRY_AFTER`] before
//! trying again, so an outage costs at most one deadline per second.
//!
//! Like the OIDC session store, the connection is a [`RedisLink`] (a small runtime of its own
//! thread: Pingora runs several runtimes, and a Redis connection belongs to the one that made it).
//! One client per distinct `redis:` setting is kept process-wide, so a config reload keeps
//! the connection and the outage state.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bucketgate_plugin::redis_link::RedisLink;
use once_cell::sync::Lazy;

use crate::config::limits::RedisLimits;

/// How long Redis is skipped after a failure.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// One counter operation.
pub enum Op {
    /// Add `n` to `key` in its window of `window` and read the count and the time left.
    Add {
        key: String,
        window: Duration,
        n: u64,
    },
}

/// A counter after the operation: the count in the current window and the time left in it.
pub type Count = (u64, Duration);

pub struct Shared {
    setting: RedisLimits,
    link: RedisLink,
    timeout: Duration,
    /// Milliseconds after `epoch` before which Redis is not tried.
    skip_until_ms: AtomicU64,
    epoch: Instant,
    /// Set while Redis is failing; the first failure and the recovery are logged.
    down: AtomicBool,
}

/// The client for the `redis:` setting, made once and reused by every reload that keeps it.
static CLIENTS: Lazy<Mutex<Vec<Arc<Shared>>>> = Lazy::new(|| Mutex::new(Vec::new()));

/// The shared client for `setting`; Err when the URL does not parse or the thread cannot
/// start (config validation has already checked the URL).
pub fn client(setting: &RedisLimits) -> Result<Arc<Shared>, String> {
    let mut clients = CLIENTS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = clients.iter().find(|c| &c.setting == setting) {
        return Ok(c.clone());
    }
    let c = Arc::new(Shared::new(setting)?);
    // Only the current setting is worth keeping: a reload that changed it drops the old one
    // (its thread ends when the last gateway using it is gone).
    clients.clear();
    clients.push(c.clone());
    Ok(c)
}

impl Shared {
    fn new(setting: &RedisLimits) -> Result<Shared, String> {
        let timeout = Duration::from_millis(setting.timeout_ms.max(1));
        Ok(Shared {
            setting: setting.clone(),
            link: RedisLink::new(
                &setting.url,
                "bucketgate-limits",
                timeout.max(Duration::from_millis(200)),
                timeout,
            )?,
            timeout,
            skip_until_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            down: AtomicBool::new(false),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Runs `ops` in one round trip. None when Redis is down, late or skipped: count locally.
    pub async fn run(&self, ops: &[Op]) -> Option<Vec<Count>> {
        if ops.is_empty() {
            return Some(Vec::new());
        }
        if self.now_ms() < self.skip_until_ms.load(Ordering::Relaxed) {
            return None;
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        for op in ops {
            let Op::Add { key, window, n } = op;
            let key = format!("{}{key}", self.setting.key_prefix);
            let ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
            pipe.cmd("SET")
                .arg(&key)
                .arg(0)
                .arg("PX")
                .arg(ms)
                .arg("NX")
                .ignore();
            pipe.cmd("INCRBY").arg(&key).arg(*n);
            pipe.cmd("PTTL").arg(&key);
        }
        match self.query(pipe).await {
            Ok(values) => {
                if self.down.swap(false, Ordering::Relaxed) {
                    log::warn!(
                        "rate limits: Redis {} answers again; limits are shared again",
                        self.link.label
                    );
                }
                Some(
                    values
                        .chunks(2)
                        .map(|pair| {
                            let count = pair.first().copied().flatten().unwrap_or(0);
                            let ttl = pair.get(1).copied().flatten().unwrap_or(0);
                            (
                                u64::try_from(count).unwrap_or(0),
                                Duration::from_millis(u64::try_from(ttl).unwrap_or(0)),
                            )
                        })
                        .collect(),
                )
            }
            Err(why) => {
                self.skip_until_ms.store(
                    self.now_ms() + u64::try_from(RETRY_AFTER.as_millis()).unwrap_or(1000),
                    Ordering::Relaxed,
                );
                if !self.down.swap(true, Ordering::Relaxed) {
                    log::warn!(
                        "rate limits: shared counters unavailable ({why}); counting locally in \
                         each process until Redis answers again"
                    );
                }
                None
            }
        }
    }

    /// Takes back `n` from `key` (an authentication attempt that succeeded), only while the key
    /// exists and stays at or above zero: a window that ended in between is left alone. Errors
    /// are ignored (the count then errs on the strict side until its window ends).
    pub async fn give_back(&self, key: &str, n: u64) {
        if self.now_ms() < self.skip_until_ms.load(Ordering::Relaxed) {
            return;
        }
        const SCRIPT: &str = "local c = tonumber(redis.call('GET', KEYS[1]) or '0') \
            if c > 0 then return redis.call('DECRBY', KEYS[1], math.min(c, tonumber(ARGV[1]))) end \
            return 0";
        let mut pipe = redis::pipe();
        pipe.cmd("EVAL")
            .arg(SCRIPT)
            .arg(1)
            .arg(format!("{}{key}", self.setting.key_prefix))
            .arg(n);
        if let Err(why) = self.query(pipe).await {
            log::debug!("rate limits: giving back an attempt failed: {why}");
        }
    }

    /// Sends `pipe` on the link's runtime, with the deadline.
    async fn query(&self, pipe: redis::Pipeline) -> Result<Vec<Option<i64>>, String> {
        self.link
            .run(self.timeout, move |mut conn| async move {
                pipe.query_async::<Vec<Option<i64>>>(&mut conn).await
            })
            .await
    }
}
