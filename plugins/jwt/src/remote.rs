//! `jwks_url` key sets: fetched over http(s) by one background thread per plugin, and swapped
//! in whole, so `authenticate` only ever takes a read lock long enough to clone an `Arc`. A
//! fetch that changes a set clears the plugin's cache of verified tokens, so a key removed at
//! the provider stops working within one refresh.
//!
//! The thread refreshes each set every `refresh_seconds`, retries a failed fetch sooner, and
//! refreshes early (at most once per [`Timing::min_early`]) when a token names an unknown `kid`
//! (a key rotation). It ends when its plugin is dropped.
//!
//! The keys decide who gets in, so where they come from is pinned down: the URL must be
//! `https://` ([`check_url`]; plain `http://` only for a loopback host, where nothing crosses
//! a network), and a fetch follows no redirect. A `3xx` (or any status but `200`) is a failed
//! fetch that keeps the previous keys and says so in the log: a redirect could otherwise lead
//! from `https` to `http`, or to a host the operator never named. The OIDC plugin's client
//! follows the same rule.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use bucketgate_plugin::without_userinfo;

use crate::cache::TokenCache;
use crate::config::Algorithm;
use crate::jwks;
use crate::keys::{same_keys, VerifyKey};

/// The largest JWKS document accepted.
const MAX_DOCUMENT_BYTES: u64 = 1 << 20;

/// How the refresher paces itself.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// The timeout of the fetch done while the plugin starts.
    pub first_timeout: Duration,
    /// The timeout of a background fetch.
    pub timeout: Duration,
    /// The least time between two early refreshes of a set (unknown `kid`).
    pub min_early: Duration,
    /// The first retry delay after a failure; doubles up to the refresh interval.
    pub retry: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            first_timeout: Duration::from_secs(3),
            timeout: Duration::from_secs(10),
            min_early: Duration::from_secs(10),
            retry: Duration::from_secs(5),
        }
    }
}

/// One `jwks_url` entry and its current keys.
#[derive(Debug)]
pub struct RemoteSet {
    pub url: String,
    /// The URL for logs: without any `user:password@`.
    pub label: String,
    /// The entry's `algorithm`.
    pub pin: Option<Algorithm>,
    pub refresh: Duration,
    keys: RwLock<Arc<Vec<VerifyKey>>>,
    /// The plugin's verified tokens: cleared when the keys change.
    cache: Arc<TokenCache>,
}

impl RemoteSet {
    pub fn new(
        url: String,
        pin: Option<Algorithm>,
        refresh: Duration,
        cache: Arc<TokenCache>,
    ) -> RemoteSet {
        RemoteSet {
            label: without_userinfo(&url),
            url,
            pin,
            refresh,
            keys: RwLock::new(Arc::new(Vec::new())),
            cache,
        }
    }

    /// The current keys. Never blocks on a fetch: the lock is held only to swap an `Arc`.
    pub fn keys(&self) -> Arc<Vec<VerifyKey>> {
        match self.keys.read() {
            Ok(keys) => Arc::clone(&keys),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Swaps `keys` in; when they differ from the current ones, then clears the token cache
    /// (in that order: a verification that read the old keys read the cache's generation
    /// before, and its insertion is refused).
    fn store(&self, keys: Vec<VerifyKey>) {
        let keys = Arc::new(keys);
        let changed = {
            let mut slot = self.keys.write().unwrap_or_else(PoisonError::into_inner);
            let changed = !same_keys(&slot, &keys);
            *slot = keys;
            changed
        };
        if changed {
            self.cache.clear();
        }
    }

    /// Fetches the document once and swaps its keys in. On failure the old keys stay.
    pub fn fetch(&self, timeout: Duration) -> Result<usize, String> {
        // Checked at config time too; again here, as the last word before a request goes out.
        check_url(&self.url)?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .user_agent("bucketgate-jwt")
            .max_redirects(0)
            .http_status_as_error(false)
            .build()
            .into();
        let mut response = agent
            .get(&self.url)
            .header("accept", "application/json")
            .call()
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(refused_status(status, response.headers()));
        }
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_DOCUMENT_BYTES)
            .read_to_string()
            .map_err(|e| e.to_string())?;
        let doc = jwks::parse(&text, self.pin)?;
        for why in &doc.rejected {
            log::warn!("jwt: JWKS {}: ignoring {why}", self.label);
        }
        for why in &doc.skipped {
            log::debug!("jwt: JWKS {}: skipping {why}", self.label);
        }
        let count = doc.keys.len();
        if count == 0 {
            log::warn!("jwt: JWKS {} holds no usable signature key", self.label);
        }
        self.store(doc.keys);
        Ok(count)
    }
}

/// Why a JWKS URL may not be used, if it may not: it must be `https://` with a host, or
/// `http://` to a loopback host (`localhost`, `127.0.0.0/8`, `::1`).
pub fn check_url(url: &str) -> Result<(), String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| "must be an https:// URL with a host".to_string())?;
    let host = uri.host().unwrap_or_default();
    if host.is_empty() {
        return Err("must be an https:// URL with a host".into());
    }
    match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
        Some("https") => Ok(()),
        Some("http") if is_loopback_host(host) => Ok(()),
        Some("http") => Err(format!(
            "must be https: the keys decide who gets in, and plain http would let anyone on the \
             path to {host} swap them (http is accepted only for a loopback host)"
        )),
        _ => Err("must be an https:// URL with a host".into()),
    }
}

/// `localhost` or a loopback address (IPv6 in brackets, as in a URL).
fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The error of a fetch answered with `status`: a redirect names where it pointed (without
/// any userinfo), since that is what the operator must fix in `jwks_url`.
fn refused_status(status: u16, headers: &http::HeaderMap) -> String {
    if (300..400).contains(&status) {
        let location = headers
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(without_userinfo)
            .unwrap_or_else(|| "nowhere".into());
        format!(
            "answered {status}, a redirect to {location}, which is not followed: set jwks_url to \
             the document's final https URL"
        )
    } else {
        format!("answered {status} instead of 200")
    }
}

/// The handle of the refresher thread: asks for an early refresh, stops the thread when dropped.
#[derive(Debug)]
pub struct Refresher {
    nudge: SyncSender<()>,
}

impl Refresher {
    /// Asks for an early refresh without waiting; a request already pending absorbs this one.
    pub fn nudge(&self) {
        match self.nudge.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
        }
    }
}

/// Fetches every set once (blocking, with the short first timeout), then starts the thread.
/// None when there is nothing to refresh or the thread cannot start (logged).
pub fn start(sets: &[Arc<RemoteSet>], timing: Timing) -> Option<Refresher> {
    if sets.is_empty() {
        return None;
    }
    let now = Instant::now();
    let mut states = Vec::with_capacity(sets.len());
    for set in sets {
        let (next, failures) = match set.fetch(timing.first_timeout) {
            Ok(count) => {
                log::info!("jwt: JWKS {}: {count} keys", set.label);
                (later(now, set.refresh), 0)
            }
            Err(why) => {
                log::warn!(
                    "jwt: JWKS {} could not be fetched ({why}); starting without its keys, retrying in the background",
                    set.label
                );
                (later(now, timing.retry.min(set.refresh)), 1)
            }
        };
        states.push(State {
            set: Arc::clone(set),
            next,
            last_attempt: now,
            failures,
        });
    }
    let (nudge, requests) = mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("bucketgate-jwks".into())
        .spawn(move || run(states, requests, timing));
    match spawned {
        Ok(_) => Some(Refresher { nudge }),
        Err(e) => {
            log::error!("jwt: cannot start the JWKS refresher thread: {e}");
            None
        }
    }
}

struct State {
    set: Arc<RemoteSet>,
    next: Instant,
    last_attempt: Instant,
    failures: u32,
}

fn run(mut states: Vec<State>, requests: Receiver<()>, timing: Timing) {
    loop {
        let now = Instant::now();
        let wait = states
            .iter()
            .map(|s| s.next.saturating_duration_since(now))
            .min()
            .unwrap_or(Duration::from_secs(60));
        let early = match requests.recv_timeout(wait) {
            Ok(()) => true,
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let now = Instant::now();
        for state in &mut states {
            let due = now >= state.next
                || (early && now.saturating_duration_since(state.last_attempt) >= timing.min_early);
            if !due {
                continue;
            }
            state.last_attempt = now;
            match state.set.fetch(timing.timeout) {
                Ok(count) => {
                    log::debug!("jwt: JWKS {} refreshed: {count} keys", state.set.label);
                    state.failures = 0;
                    state.next = later(Instant::now(), state.set.refresh);
                }
                Err(why) => {
                    state.failures = state.failures.saturating_add(1);
                    let backoff = timing
                        .retry
                        .saturating_mul(1 << state.failures.min(16).saturating_sub(1))
                        .min(state.set.refresh);
                    log::warn!(
                        "jwt: JWKS {} refresh failed ({why}); keeping the previous keys, retrying in {}s",
                        state.set.label,
                        backoff.as_secs()
                    );
                    state.next = later(Instant::now(), backoff);
                }
            }
        }
    }
}

/// `now + after`, without the overflow panic of `Instant + Duration`.
fn later(now: Instant, after: Duration) -> Instant {
    now.checked_add(after)
        .or_else(|| now.checked_add(Duration::from_secs(86_400)))
        .unwrap_or(now)
}
