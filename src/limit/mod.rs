//! Rate and concurrency limits (the `limits:` section): requests per second and requests in
//! progress, keyed by client IP before authentication, by identity after it, and by route; and
//! a stricter limit on failed authentication attempts per client IP, checked before the auth
//! plugins run.
//!
//! - [`config`]: the YAML shape;
//! - [`local`]: per-process counters (`pingora-limits`; approximate);
//! - [`shared`]: Redis counters for a fleet (exact), with a local fallback;
//! - [`answer`]: the 429 (`files`) or `503 SlowDown` (`s3`) answers with `Retry-After`.
//!
//! A rate rule allows `burst` requests per fixed window of `burst / requests_per_second`
//! seconds. Concurrency is always counted per process. All counter state lives outside the
//! [`Gateway`] (process-wide statics), so a config reload keeps it.

pub mod answer;
pub mod config;
pub mod local;
pub mod shared;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use pingora_error::Result;
use pingora_limits::inflight::Guard;
use pingora_proxy::Session;

use crate::client_ip::{self, Cidr};
use crate::config::Config;
use crate::gateway::Gateway;
use config::{LimitRule, LimitsConfig};
use shared::{Op, Shared};

/// The counter hook for metrics: one refused request, by the rule that refused it
/// (`per_ip`, `per_identity`, `per_route`, `failed_auth_per_ip`) and the route's name.
pub fn on_reject(scope: &str, route: &str) {
    log::debug!("rate limit: refused by {scope} on route {route}");
    crate::observe::metrics::record_rate_limited(scope, route);
}

/// What a request holds from the limiter (the one `RequestCtx` field): its client address and
/// its places in the concurrency counts, given back when the request ends and this drops.
#[derive(Debug, Default)]
pub struct Admission {
    /// The client address (see [`crate::client_ip`]), once the route matched.
    pub client_ip: Option<IpAddr>,
    guards: Vec<Guard>,
}

/// Which rule refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Ip,
    Identity,
    Route,
    FailedAuth,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ip => "per_ip",
            Scope::Identity => "per_identity",
            Scope::Route => "per_route",
            Scope::FailedAuth => "failed_auth_per_ip",
        }
    }

    fn key_name(self) -> &'static str {
        match self {
            Scope::Ip => "ip",
            Scope::Identity => "id",
            Scope::Route => "route",
            Scope::FailedAuth => "authfail",
        }
    }
}

/// A refused request: the rule, and the seconds after which trying again may work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub scope: Scope,
    pub retry_after: u64,
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

/// A rule as applied: its window, its concurrency, and whose counter it uses (`*` for the
/// top-level rule, the route's name for a route's own).
#[derive(Debug, Clone)]
struct Rule {
    rate: Option<Window>,
    concurrent: Option<u64>,
    owner: String,
}

impl Rule {
    fn new(cfg: &LimitRule, owner: &str) -> Rule {
        Rule {
            rate: Window::of(cfg),
            concurrent: cfg.concurrent.filter(|c| *c > 0),
            owner: owner.to_string(),
        }
    }

    fn key(&self, scope: Scope, subject: &str) -> String {
        let ms = self.rate.map_or(0, |w| w.length.as_millis());
        format!("{}:{}:{ms}:{subject}", scope.key_name(), self.owner)
    }
}

#[derive(Debug, Clone, Default)]
struct RouteRules {
    per_ip: Option<Rule>,
    per_identity: Option<Rule>,
    per_route: Option<Rule>,
}

/// The limits of one config, built with its [`Gateway`].
pub struct Limits {
    trusted: Vec<Cidr>,
    routes: Vec<RouteRules>,
    /// The failed-auth window; `limit == 0`: counted for the log, never refused.
    failed_auth: Window,
    shared: Option<Arc<Shared>>,
}

impl Limits {
    pub fn new(config: &Config) -> Limits {
        let top: &LimitsConfig = &config.limits;
        let routes = config
            .routes
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let name = r.name.clone().unwrap_or_else(|| format!("route{i}"));
                let own = r.limits.clone().unwrap_or_default();
                let pick = |own: &Option<LimitRule>, top: &Option<LimitRule>, shared: bool| match (
                    own, top,
                ) {
                    (Some(rule), _) => Some(Rule::new(rule, &name)),
                    (None, Some(rule)) => Some(Rule::new(rule, if shared { "*" } else { &name })),
                    (None, None) => None,
                };
                RouteRules {
                    per_ip: pick(&own.per_ip, &top.per_ip, true),
                    per_identity: pick(&own.per_identity, &top.per_identity, true),
                    // Each route counts on its own, whoever wrote the rule.
                    per_route: pick(&own.per_route, &top.per_route, false),
                }
            })
            .collect();
        let shared = top.redis.as_ref().and_then(|r| match shared::client(r) {
            Ok(c) => Some(c),
            Err(e) => {
                log::error!("rate limits: {e}; counting locally");
                None
            }
        });
        Limits {
            trusted: top.trusted_proxies.clone(),
            routes,
            failed_auth: Window {
                limit: top.failed_auth_per_ip.max_failures,
                length: Duration::from_secs(top.failed_auth_per_ip.window_seconds.max(1)),
            },
            shared,
        }
    }

    /// The client address of `session` under this config's trusted proxies.
    pub fn client_ip(&self, session: &Session) -> Option<IpAddr> {
        client_ip::of(session, &self.trusted)
    }

    /// Before authentication: the failed-auth lockout, then the per-IP and per-route rules.
    pub async fn before_auth(
        &self,
        route: usize,
        ip: Option<IpAddr>,
        adm: &mut Admission,
    ) -> Option<Refusal> {
        let rules = self.routes.get(route)?;
        let ip_text = ip.map(|ip| ip.to_string());
        let mut checks: Vec<(Scope, String, Window, u64)> = Vec::new();
        if let Some(ip) = &ip_text {
            if self.failed_auth.limit > 0 {
                let key = format!("authfail:*:{}:{ip}", self.failed_auth.length.as_millis());
                // Read, not counted: only failures add to it.
                checks.push((Scope::FailedAuth, key, self.failed_auth, 0));
            }
            if let Some(rule) = &rules.per_ip {
                if let Some(w) = rule.rate {
                    checks.push((Scope::Ip, rule.key(Scope::Ip, ip), w, 1));
                }
            }
        }
        if let Some(rule) = &rules.per_route {
            if let Some(w) = rule.rate {
                checks.push((Scope::Route, rule.key(Scope::Route, ""), w, 1));
            }
        }
        if let Some(refusal) = self.count(&checks).await {
            return Some(refusal);
        }
        if let (Some(ip), Some(rule)) = (&ip_text, &rules.per_ip) {
            if let Some(refusal) = enter(rule, Scope::Ip, ip, adm) {
                return Some(refusal);
            }
        }
        match &rules.per_route {
            Some(rule) => enter(rule, Scope::Route, "", adm),
            None => None,
        }
    }

    /// After authentication: the per-identity rule for `subject`.
    pub async fn after_auth(
        &self,
        route: usize,
        subject: &str,
        adm: &mut Admission,
    ) -> Option<Refusal> {
        let rule = self.routes.get(route)?.per_identity.as_ref()?;
        if let Some(w) = rule.rate {
            let checks = [(Scope::Identity, rule.key(Scope::Identity, subject), w, 1)];
            if let Some(refusal) = self.count(&checks).await {
                return Some(refusal);
            }
        }
        enter(rule, Scope::Identity, subject, adm)
    }

    /// Counts one failed authentication from `ip`; returns the failures in the current window.
    pub async fn record_failure(&self, ip: IpAddr) -> u64 {
        let key = format!("authfail:*:{}:{ip}", self.failed_auth.length.as_millis());
        let checks = [(Scope::FailedAuth, key, self.failed_auth, 1)];
        self.counts(&checks).await.first().map_or(0, |c| c.0)
    }

    /// Adds to every counter in `checks` (Redis when configured and up, else locally) and
    /// returns the first rule that is over: the failed-auth count at its limit, a rate count
    /// past it.
    async fn count(&self, checks: &[(Scope, String, Window, u64)]) -> Option<Refusal> {
        let counts = self.counts(checks).await;
        for ((scope, _, window, _), (count, left)) in checks.iter().zip(counts) {
            let over = match scope {
                Scope::FailedAuth => count >= window.limit,
                _ => count > window.limit,
            };
            if over {
                return Some(Refusal {
                    scope: *scope,
                    retry_after: left.as_secs_f64().ceil().max(1.0) as u64,
                });
            }
        }
        None
    }

    async fn counts(&self, checks: &[(Scope, String, Window, u64)]) -> Vec<shared::Count> {
        if checks.is_empty() {
            return Vec::new();
        }
        if let Some(shared) = &self.shared {
            let ops: Vec<Op> = checks
                .iter()
                .map(|(_, key, w, n)| Op::Add {
                    key: key.clone(),
                    window: w.length,
                    n: *n,
                })
                .collect();
            if let Some(counts) = shared.run(&ops).await {
                if counts.len() == checks.len() {
                    return counts;
                }
            }
        }
        checks
            .iter()
            .map(|(_, key, w, n)| local::add(key, w.length, *n))
            .collect()
    }
}

/// Takes a place in `rule`'s concurrency count for `subject`; a refusal when it is full.
fn enter(rule: &Rule, scope: Scope, subject: &str, adm: &mut Admission) -> Option<Refusal> {
    let max = rule.concurrent?;
    let key = format!("{}:{}:inflight:{subject}", scope.key_name(), rule.owner);
    let (guard, count) = local::enter(&key);
    if count > max {
        return Some(Refusal {
            scope,
            retry_after: 1,
        });
    }
    adm.guards.push(guard);
    None
}

/// The hook after the route match: resolves the client address into `adm`, then applies the
/// failed-auth lockout and the per-IP and per-route rules. True when the request was refused
/// (and answered).
pub async fn check_client(
    session: &mut Session,
    gw: &Gateway,
    route: usize,
    adm: &mut Admission,
) -> Result<bool> {
    adm.client_ip = gw.limits.client_ip(session);
    match gw.limits.before_auth(route, adm.client_ip, adm).await {
        Some(refusal) => {
            answer::send(session, gw, route, &refusal).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// The hook after authentication: the per-identity rule. True when refused (and answered).
pub async fn check_identity(
    session: &mut Session,
    gw: &Gateway,
    route: usize,
    subject: &str,
    adm: &mut Admission,
) -> Result<bool> {
    match gw.limits.after_auth(route, subject, adm).await {
        Some(refusal) => {
            answer::send(session, gw, route, &refusal).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(rps: Option<f64>, burst: Option<u64>) -> LimitRule {
        LimitRule {
            requests_per_second: rps,
            burst,
            concurrent: None,
        }
    }

    #[test]
    fn windows_follow_rate_and_burst() {
        let w = Window::of(&rule(Some(2.0), None)).unwrap();
        assert_eq!((w.limit, w.length), (2, Duration::from_secs(1)));
        let w = Window::of(&rule(Some(100.0), Some(500))).unwrap();
        assert_eq!((w.limit, w.length), (500, Duration::from_secs(5)));
        let w = Window::of(&rule(Some(0.5), None)).unwrap();
        assert_eq!((w.limit, w.length), (1, Duration::from_secs(2)));
        assert!(Window::of(&rule(None, Some(3))).is_none());
        assert!(
            Window::of(&rule(Some(10.0), Some(5))).is_none(),
            "window under 1 s"
        );
        assert!(Window::of(&rule(Some(0.0), None)).is_none());
        assert!(Window::of(&rule(Some(f64::NAN), None)).is_none());
        assert!(
            Window::of(&rule(Some(0.000_001), None)).is_none(),
            "window over a day"
        );
    }
}
