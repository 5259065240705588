//! The typed shape of the `limits:` section and of a route's `limits:` overrides. Checked by
//! `config::validate_limits`; turned into counters by [`crate::limit::Limits`].

use std::time::Duration;

pub use bucketgate_plugin::Cidr;
use serde::Deserialize;

/// Top-level `limits:`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Peers whose `X-Forwarded-For` is believed (load balancers, CDNs). Empty: none.
    pub trusted_proxies: Vec<Cidr>,
    /// Share the request-rate counters of a fleet through Redis. Omitted: each process counts
    /// on its own.
    pub redis: Option<RedisLimits>,
    /// Per client IP, before authentication, summed over every route.
    pub per_ip: Option<LimitRule>,
    /// Per authenticated identity (`subject`), summed over every route.
    pub per_identity: Option<LimitRule>,
    /// Per route, all clients together (each route has its own counter).
    pub per_route: Option<LimitRule>,
    /// Failed authentication attempts per client IP.
    pub failed_auth_per_ip: FailedAuthLimit,
    /// The most bytes held at once for requests' buffers (aws-chunked chunks, listings,
    /// DeleteObjects bodies), over the whole process; omitted: `crate::limit::memory`'s default.
    pub buffer_memory: Option<super::model::ByteSize>,
}

/// A rate and/or a concurrency limit.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitRule {
    /// Average requests per second allowed; fractions such as `0.5` are fine.
    #[serde(default)]
    pub requests_per_second: Option<f64>,
    /// Requests allowed at once in a fixed window of `burst / requests_per_second` seconds.
    /// Default: `requests_per_second` rounded up (a one-second window).
    #[serde(default)]
    pub burst: Option<u64>,
    /// Requests in progress at the same time (always counted per process).
    #[serde(default)]
    pub concurrent: Option<u64>,
}

/// `failed_auth_per_ip`: after `max_failures` refused credentials from one address within a
/// window, that address is refused before authentication until the window ends.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FailedAuthLimit {
    /// `0` turns the limit off.
    pub max_failures: u64,
    pub window_seconds: u64,
}

impl Default for FailedAuthLimit {
    fn default() -> Self {
        FailedAuthLimit {
            max_failures: 50,
            window_seconds: 60,
        }
    }
}

/// `limits.redis`.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisLimits {
    /// `redis://[user:password@]host:port/db` (or `rediss://`).
    pub url: String,
    /// Prepended to every counter key.
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
    /// Longest wait for one Redis round trip (a request makes up to three); past it the
    /// request is counted locally.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

impl std::fmt::Debug for RedisLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLimits")
            .field("url", &bucketgate_plugin::without_userinfo(&self.url))
            .field("key_prefix", &self.key_prefix)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

fn default_key_prefix() -> String {
    "bucketgate:limit:".into()
}
fn default_timeout_ms() -> u64 {
    50
}

/// A route's `limits:`: replaces the top-level rule of the same name for this route, with a
/// counter of its own.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteLimits {
    pub per_ip: Option<LimitRule>,
    pub per_identity: Option<LimitRule>,
    pub per_route: Option<LimitRule>,
}

/// `limit` requests per window of `length`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub limit: u64,
    pub length: Duration,
}

impl Window {
    /// The window of a rule with `requests_per_second`; None without one or with values the
    /// config checks refuse.
    pub fn of(rule: &LimitRule) -> Option<Window> {
        let rps = rule.requests_per_second?;
        if !(rps.is_finite() && rps > 0.0) {
            return None;
        }
        let burst = rule.burst.unwrap_or_else(|| (rps.ceil() as u64).max(1));
        let ms = (burst as f64 * 1000.0 / rps).round();
        if !(1000.0..=(MAX_WINDOW.as_millis() as f64)).contains(&ms) || burst == 0 {
            return None;
        }
        Some(Window {
            limit: burst,
            length: Duration::from_millis(ms as u64),
        })
    }
}

/// The longest window a rule may imply (a day).
pub const MAX_WINDOW: Duration = Duration::from_secs(86_400);
