//! Rate and concurrency limits (the `limits:` section): requests per second and requests in
//! progress, keyed by client IP before authentication, by identity after it, and by route; and
//! a stricter limit on failed authentication attempts per client IP, checked before the auth
//! plugins run.
//!
//! - [`config`]: the YAML shape;
//! - [`local`]: per-process counters (`pingora-limits`; approximate);
//! - [`shared`]: Redis counters for a fleet (exact), with a local fallback;
//! - [`client_ip`]: who the client is, behind trusted proxies;
//! - [`attempts`]: the exact, bounded failed-authentication counts;
//! - [`memory`]: the process-wide budget for buffers held per request (`buffer_memory`).
//!
//! A refusal is answered by the route's frontend, in its API's terms (`reply::Refusal::limited`).
//!
//! A rate rule allows `burst` requests per fixed window of `burst / requests_per_second`
//! seconds. Concurrency is always counted per process. All counter state lives outside the
//! `Gateway` (process-wide statics), so a config reload keeps it.

pub mod attempts;
pub mod client_ip;
pub mod local;
pub mod memory;
pub mod shared;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pingora_limits::inflight::Guard;
use pingora_proxy::Session;

pub use crate::config::limits::Window;
use crate::config::limits::{LimitRule, LimitsConfig};
use crate::config::Config;
use bucketgate_plugin::Cidr;
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
    /// The client address (see [`crate::limit::client_ip`]), once the route matched.
    pub client_ip: Option<IpAddr>,
    guards: Vec<Guard>,
    /// An authentication attempt counted before auth ran: given back when auth succeeds (see
    /// [`Limits::after_auth`]) or, otherwise, when the request ends; a failure is counted again
    /// by [`Limits::record_failure`], so it stays counted.
    attempt: Option<Attempt>,
}

impl Admission {
    /// The authentication verdict is known: gives back the attempt counted before auth, before
    /// the answer goes out (a failure was counted on its own by [`Limits::record_failure`]).
    /// Done before answering, in Redis too (one round trip, bounded by `timeout_ms`), so the
    /// client's next request never meets it still counted, on any instance.
    pub async fn settle_attempt(&mut self) {
        let Some(mut attempt) = self.attempt.take() else {
            return;
        };
        if let Counted::Shared(shared) = &attempt.at {
            let (shared, key) = (shared.clone(), std::mem::take(&mut attempt.key));
            // Given back here; the drop then has nothing left to give.
            attempt.at = Counted::Settled;
            shared.give_back(&key, 1).await;
        }
    }
}

/// The prefix every per-address counter uses: an IPv4 address as it is, an IPv6 address as its
/// /64 (one client usually owns a whole /64 and could otherwise rotate addresses inside it).
/// IPv4-mapped IPv6 addresses count as their IPv4 address.
pub fn ip_subject(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// One authentication attempt counted before auth; given back when dropped.
struct Attempt {
    key: String,
    at: Counted,
}

enum Counted {
    Local(Instant),
    Shared(Arc<Shared>),
    /// Already given back.
    Settled,
}

impl std::fmt::Debug for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attempt").field("key", &self.key).finish()
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        match &self.at {
            Counted::Local(start) => attempts::give_back(&self.key, *start, 1),
            Counted::Shared(shared) => {
                // Off the request path: nobody waits for it.
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    let (shared, key) = (shared.clone(), std::mem::take(&mut self.key));
                    rt.spawn(async move { shared.give_back(&key, 1).await });
                }
            }
            Counted::Settled => {}
        }
    }
}

/// Which rule refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Ip,
    Identity,
    Route,
    FailedAuth,
    /// The process-wide buffer budget ([`memory`]), not a per-client rule.
    Memory,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ip => "per_ip",
            Scope::Identity => "per_identity",
            Scope::Route => "per_route",
            Scope::FailedAuth => "failed_auth_per_ip",
            Scope::Memory => "buffer_memory",
        }
    }

    fn key_name(self) -> &'static str {
        match self {
            Scope::Ip => "ip",
            Scope::Identity => "id",
            Scope::Route => "route",
            Scope::FailedAuth => "authfail",
            Scope::Memory => "memory",
        }
    }
}

/// A refused request: the rule, and the seconds after which trying again may work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub scope: Scope,
    pub retry_after: u64,
}

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

/// One counter to add to: `n` to `key` in `window`; over when the count passes `over`.
#[derive(Debug, Clone)]
struct Check {
    scope: Scope,
    key: String,
    window: Window,
    n: u64,
    over: u64,
}

impl Check {
    fn rate(scope: Scope, key: String, window: Window) -> Check {
        Check {
            scope,
            key,
            window,
            n: 1,
            over: window.limit,
        }
    }
}

#[derive(Debug, Clone, Default)]
struct RouteRules {
    per_ip: Option<Rule>,
    per_identity: Option<Rule>,
    per_route: Option<Rule>,
}

/// The limits of one config, built with its `Gateway`.
pub struct Limits {
    trusted: Vec<Cidr>,
    routes: Vec<RouteRules>,
    /// The failed-auth window; `limit == 0`: counted for the log, never refused.
    failed_auth: Window,
    shared: Option<Arc<Shared>>,
}

impl Limits {
    /// The limits of `config`. Also sets the process-wide buffer budget ([`memory`]), which
    /// like every counter outlives the config.
    pub fn new(config: &Config) -> Limits {
        let top: &LimitsConfig = &config.limits;
        memory::set_budget(top.buffer_memory.map_or(memory::DEFAULT_BUDGET, |b| b.0));
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

    /// Before authentication, in two steps, so that a refused request uses nothing of the
    /// shared `per_route` budget: first the failed-auth lockout and `per_ip`; then, when both
    /// pass, `per_route`; then the concurrency counts. `attempt`: the request carries
    /// credentials, so it counts as a failed attempt until auth succeeds (parallel guesses then
    /// cannot all pass the lockout at once).
    pub async fn before_auth(
        &self,
        route: usize,
        ip: Option<IpAddr>,
        attempt: bool,
        adm: &mut Admission,
    ) -> Option<Refusal> {
        let rules = self.routes.get(route)?;
        let ip_text = ip.map(ip_subject);
        let mut first: Vec<Check> = Vec::new();
        if let Some(ip) = &ip_text {
            if self.failed_auth.limit > 0 {
                let n = u64::from(attempt);
                first.push(Check {
                    scope: Scope::FailedAuth,
                    key: self.failed_auth_key(ip),
                    window: self.failed_auth,
                    n,
                    // Refused once earlier failures (and attempts in progress) reach the limit.
                    over: self.failed_auth.limit - 1 + n,
                });
            }
            if let Some(rule) = &rules.per_ip {
                if let Some(w) = rule.rate {
                    first.push(Check::rate(Scope::Ip, rule.key(Scope::Ip, ip), w));
                }
            }
        }
        let (counts, shared) = self.counts(&first).await;
        if let (true, Some(check)) = (attempt, first.first()) {
            if check.scope == Scope::FailedAuth {
                let at = match (shared, counts.first()) {
                    (Some(shared), _) => Some(Counted::Shared(shared)),
                    (None, Some(c)) => c.2.map(Counted::Local),
                    (None, None) => None,
                };
                adm.attempt = at.map(|at| Attempt {
                    key: check.key.clone(),
                    at,
                });
            }
        }
        if let Some(refusal) = over(&first, &counts) {
            // A refused attempt ran no auth: it is given back now.
            adm.attempt = None;
            return Some(refusal);
        }
        if let Some(rule) = &rules.per_route {
            if let Some(refusal) = self.rate_alone(rule, Scope::Route, "").await {
                return Some(refusal);
            }
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

    /// After authentication: gives back the attempt counted before it, then applies the
    /// per-identity rule for `subject`.
    pub async fn after_auth(
        &self,
        route: usize,
        subject: &str,
        adm: &mut Admission,
    ) -> Option<Refusal> {
        adm.settle_attempt().await;
        let rule = self.routes.get(route)?.per_identity.as_ref()?;
        if let Some(refusal) = self.rate_alone(rule, Scope::Identity, subject).await {
            return Some(refusal);
        }
        enter(rule, Scope::Identity, subject, adm)
    }

    /// Counts one request against `rule`'s rate for `subject`, in a round trip of its own; the
    /// refusal when that goes over. None when the rule has no rate.
    async fn rate_alone(&self, rule: &Rule, scope: Scope, subject: &str) -> Option<Refusal> {
        let w = rule.rate?;
        let checks = [Check::rate(scope, rule.key(scope, subject), w)];
        let (counts, _) = self.counts(&checks).await;
        over(&checks, &counts)
    }

    /// Counts one failed authentication from `ip`; returns the failures in the current window
    /// (attempts of other requests still in progress included). `pending`: this request's own
    /// attempt was counted before auth (it is given back when the request ends), so it is not
    /// counted twice in the answer.
    pub async fn record_failure(&self, ip: IpAddr, pending: bool) -> u64 {
        let check = Check {
            scope: Scope::FailedAuth,
            key: self.failed_auth_key(&ip_subject(ip)),
            window: self.failed_auth,
            n: 1,
            over: u64::MAX,
        };
        let (counts, _) = self.counts(std::slice::from_ref(&check)).await;
        let own = u64::from(pending && self.failed_auth.limit > 0);
        counts.first().map_or(0, |c| c.0.saturating_sub(own))
    }

    fn failed_auth_key(&self, ip: &str) -> String {
        format!("authfail:*:{}:{ip}", self.failed_auth.length.as_millis())
    }

    /// Adds to every counter in `checks`: through Redis when configured and up (one round trip;
    /// the client is returned), else locally (failed-auth counts in [`attempts`], with the
    /// window start for giving back).
    async fn counts(&self, checks: &[Check]) -> (Vec<LocalCount>, Option<Arc<Shared>>) {
        if checks.is_empty() {
            return (Vec::new(), None);
        }
        if let Some(shared) = &self.shared {
            let ops: Vec<Op> = checks
                .iter()
                .map(|c| Op::Add {
                    key: c.key.clone(),
                    window: c.window.length,
                    n: c.n,
                })
                .collect();
            if let Some(counts) = shared.run(&ops).await {
                if counts.len() == checks.len() {
                    let counts = counts.into_iter().map(|(c, l)| (c, l, None)).collect();
                    return (counts, Some(shared.clone()));
                }
            }
        }
        let counts = checks
            .iter()
            .map(|c| match c.scope {
                Scope::FailedAuth => {
                    let (count, left, start) = attempts::add(&c.key, c.window.length, c.n);
                    (count, left, Some(start))
                }
                _ => {
                    let (count, left) = local::add(&c.key, c.window.length, c.n);
                    (count, left, None)
                }
            })
            .collect();
        (counts, None)
    }
}

/// A count, the time left in its window, and (for a local failed-auth count) the window start.
type LocalCount = (u64, Duration, Option<Instant>);

/// The first check whose count is over, as a refusal.
fn over(checks: &[Check], counts: &[LocalCount]) -> Option<Refusal> {
    checks
        .iter()
        .zip(counts)
        .find(|(check, count)| count.0 > check.over)
        .map(|(check, count)| Refusal {
            scope: check.scope,
            retry_after: count.1.as_secs_f64().ceil().max(1.0) as u64,
        })
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

impl Limits {
    /// The hook after the route match: resolves the client address into `adm`, then applies
    /// the failed-auth lockout and the per-IP and per-route rules. `attempt`: the request
    /// carries credentials (its frontend says), so it counts toward the lockout while in flight.
    pub async fn check_client(
        &self,
        session: &Session,
        route: usize,
        route_name: &str,
        attempt: bool,
        adm: &mut Admission,
    ) -> Option<Refusal> {
        adm.client_ip = self.client_ip(session);
        let refusal = self.before_auth(route, adm.client_ip, attempt, adm).await;
        if let Some(r) = &refusal {
            on_reject(r.scope.as_str(), route_name);
        }
        refusal
    }

    /// The hook after authentication: the per-identity rule.
    pub async fn check_identity(
        &self,
        route: usize,
        route_name: &str,
        subject: &str,
        adm: &mut Admission,
    ) -> Option<Refusal> {
        let refusal = self.after_auth(route, subject, adm).await;
        if let Some(r) = &refusal {
            on_reject(r.scope.as_str(), route_name);
        }
        refusal
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

    /// A rule of `burst` requests per 100 s (long: no test depends on a window ending).
    fn slow(burst: u64, owner: &str) -> Rule {
        Rule::new(&rule(Some(burst as f64 / 100.0), Some(burst)), owner)
    }

    fn limits(rules: RouteRules, max_failures: u64) -> Limits {
        Limits {
            trusted: Vec::new(),
            routes: vec![rules],
            failed_auth: Window {
                limit: max_failures,
                length: Duration::from_secs(3600 + max_failures),
            },
            shared: None,
        }
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().expect("address"))
    }

    #[test]
    fn ipv6_clients_count_per_64_and_ipv4_per_address() {
        let a = ip_subject("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = ip_subject("2001:db8:1:2:ffff:1:2:3".parse().unwrap());
        let c = ip_subject("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b, "one /64 is one client");
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_ne!(a, c, "another /64 is another client");
        assert_eq!(ip_subject("192.0.2.7".parse().unwrap()), "192.0.2.7");
        assert_ne!(
            ip_subject("192.0.2.7".parse().unwrap()),
            ip_subject("192.0.2.8".parse().unwrap())
        );
        assert_eq!(
            ip_subject("::ffff:192.0.2.7".parse().unwrap()),
            "192.0.2.7",
            "IPv4-mapped is the IPv4 address"
        );
    }

    #[tokio::test]
    async fn rotating_ipv6_addresses_in_one_64_share_the_per_ip_limit() {
        let l = limits(
            RouteRules {
                per_ip: Some(slow(2, "t-v6")),
                ..Default::default()
            },
            0,
        );
        let mut adm = Admission::default();
        for host in ["1", "2"] {
            let addr = ip(&format!("2001:db8:77:1::{host}"));
            assert_eq!(l.before_auth(0, addr, false, &mut adm).await, None);
        }
        let refused = l
            .before_auth(0, ip("2001:db8:77:1:dead::3"), false, &mut adm)
            .await;
        assert_eq!(refused.map(|r| r.scope), Some(Scope::Ip));
        let other = l
            .before_auth(0, ip("2001:db8:77:2::1"), false, &mut adm)
            .await;
        assert_eq!(other, None, "another /64 has its own budget");
    }

    #[tokio::test]
    async fn parallel_attempts_cannot_all_pass_the_lockout() {
        let l = limits(RouteRules::default(), 3);
        let client = ip("198.51.100.31");
        // Three attempts in progress at once (none has failed yet): the fourth is refused.
        let mut running: Vec<Admission> = Vec::new();
        for _ in 0..3 {
            let mut adm = Admission::default();
            assert_eq!(l.before_auth(0, client, true, &mut adm).await, None);
            running.push(adm);
        }
        let mut adm = Admission::default();
        let refused = l.before_auth(0, client, true, &mut adm).await;
        assert_eq!(refused.map(|r| r.scope), Some(Scope::FailedAuth));
        // They succeed: their attempts are given back and the address is free again.
        for mut adm in running {
            assert_eq!(l.after_auth(0, "alice", &mut adm).await, None);
        }
        let mut adm = Admission::default();
        assert_eq!(l.before_auth(0, client, true, &mut adm).await, None);
        drop(adm);
        // Three real failures lock the address out, with or without credentials.
        for _ in 0..3 {
            let mut adm = Admission::default();
            assert_eq!(l.before_auth(0, client, true, &mut adm).await, None);
            l.record_failure(client.unwrap(), true).await;
        }
        let mut adm = Admission::default();
        let refused = l.before_auth(0, client, false, &mut adm).await;
        assert_eq!(refused.map(|r| r.scope), Some(Scope::FailedAuth));
        let other = l.before_auth(0, ip("198.51.100.32"), true, &mut adm).await;
        assert_eq!(other, None, "other addresses are not locked out");
    }

    #[tokio::test]
    async fn refused_requests_do_not_use_the_route_budget() {
        let l = limits(
            RouteRules {
                per_ip: Some(slow(1, "*")),
                per_route: Some(slow(2, "t-route-budget")),
                ..Default::default()
            },
            0,
        );
        let mut adm = Admission::default();
        let a = ip("203.0.113.41");
        assert_eq!(l.before_auth(0, a, false, &mut adm).await, None);
        for _ in 0..3 {
            let refused = l.before_auth(0, a, false, &mut adm).await;
            assert_eq!(refused.map(|r| r.scope), Some(Scope::Ip));
        }
        assert_eq!(
            l.before_auth(0, ip("203.0.113.42"), false, &mut adm).await,
            None,
            "the per_ip refusals took nothing from per_route"
        );
        let refused = l.before_auth(0, ip("203.0.113.43"), false, &mut adm).await;
        assert_eq!(refused.map(|r| r.scope), Some(Scope::Route));
    }

    #[tokio::test]
    async fn a_locked_out_address_uses_no_route_budget() {
        let l = limits(
            RouteRules {
                per_route: Some(slow(1, "t-route-lockout")),
                ..Default::default()
            },
            1,
        );
        let bad = ip("203.0.113.51");
        l.record_failure(bad.unwrap(), false).await;
        let mut adm = Admission::default();
        for _ in 0..3 {
            let refused = l.before_auth(0, bad, true, &mut adm).await;
            assert_eq!(refused.map(|r| r.scope), Some(Scope::FailedAuth));
        }
        assert_eq!(
            l.before_auth(0, ip("203.0.113.52"), false, &mut adm).await,
            None
        );
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
