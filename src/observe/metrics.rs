//! The metric families and their process-wide registry.
//!
//! **Why our own registry of atomics and not the `prometheus` crate**: the families are fixed and
//! few, every label set is known in advance (route names from the config, a closed list of
//! methods and status classes, plugin names, scopes), and the hot path is one map lookup by
//! route name plus a handful of relaxed atomic adds. The `prometheus` crate would add a
//! dependency tree (protobuf, its own locking) for the same result; the text exposition format
//! 0.0.4 is a few lines to write ([`render`]).
//!
//! **Bounded labels**: route labels are configured names (or `route<N>`, or `-` when no route
//! matched), methods outside a fixed list count as `OTHER`, statuses as their class. Never a
//! key, host, user, client address or raw path. Rate-limit scopes and plugin names come from
//! code, not from requests.
//!
//! **Survives reloads**: the registry is a static; a reload changes only which routes new
//! requests count under.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use once_cell::sync::Lazy;

/// Methods with a label of their own; anything else is `OTHER`.
const METHODS: [&str; 8] = [
    "GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH", "OTHER",
];
/// Status classes; `none` when no response head was sent (the client left first).
const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "none"];
/// Histogram upper bounds, in seconds (labels) and microseconds (comparisons).
const BOUNDS: [(&str, u64); 14] = [
    ("0.001", 1_000),
    ("0.0025", 2_500),
    ("0.005", 5_000),
    ("0.01", 10_000),
    ("0.025", 25_000),
    ("0.05", 50_000),
    ("0.1", 100_000),
    ("0.25", 250_000),
    ("0.5", 500_000),
    ("1", 1_000_000),
    ("2.5", 2_500_000),
    ("5", 5_000_000),
    ("10", 10_000_000),
    ("30", 30_000_000),
];

/// Label of requests that matched no route (health probes, unknown paths).
pub const NO_ROUTE: &str = "-";

/// A latency histogram: per-bucket counts (the last one is `+Inf`), their sum and count.
struct Histogram {
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    fn observe(&self, d: Duration) {
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let i = BOUNDS
            .iter()
            .position(|(_, bound)| micros <= *bound)
            .unwrap_or(BOUNDS.len());
        self.buckets[i].fetch_add(1, Relaxed);
        self.sum_micros.fetch_add(micros, Relaxed);
        self.count.fetch_add(1, Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (i, (le, _)) in BOUNDS.iter().enumerate() {
            cumulative += self.buckets[i].load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
        }
        cumulative += self.buckets[BOUNDS.len()].load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {cumulative}");
        let sum = self.sum_micros.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count.load(Relaxed));
    }
}

/// Everything counted per route.
struct RouteMetrics {
    requests: [[AtomicU64; CLASSES.len()]; METHODS.len()],
    duration: Histogram,
    upstream: Histogram,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

impl RouteMetrics {
    fn new() -> RouteMetrics {
        RouteMetrics {
            requests: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            duration: Histogram::new(),
            upstream: Histogram::new(),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
        }
    }
}

struct Registry {
    routes: DashMap<String, Arc<RouteMetrics>>,
    /// (plugin, outcome) → count.
    auth: DashMap<(String, &'static str), AtomicU64>,
    /// (scope, route) → count.
    rate_limited: DashMap<(String, String), AtomicU64>,
    /// (pool, operation, outcome) → count, for the S3 calls of the internal client.
    calls: DashMap<(String, &'static str, &'static str), AtomicU64>,
    in_flight: AtomicI64,
}

static REGISTRY: Lazy<Registry> = Lazy::new(|| Registry {
    routes: DashMap::new(),
    auth: DashMap::new(),
    rate_limited: DashMap::new(),
    calls: DashMap::new(),
    in_flight: AtomicI64::new(0),
});

fn route_metrics(route: &str) -> Arc<RouteMetrics> {
    if let Some(m) = REGISTRY.routes.get(route) {
        return m.clone();
    }
    REGISTRY
        .routes
        .entry(route.to_owned())
        .or_insert_with(|| Arc::new(RouteMetrics::new()))
        .clone()
}

/// One finished request, as the `logging` phase saw it.
pub struct Finished<'a> {
    /// The route's label: its name, `route<N>`, or [`NO_ROUTE`].
    pub route: &'a str,
    pub method: &'a http::Method,
    /// The status sent to the client; None when no response head went out.
    pub status: Option<u16>,
    pub total: Duration,
    /// Time from choosing a backend to its response head; None when no upstream answered.
    pub upstream: Option<Duration>,
    /// Request body bytes read from the client.
    pub bytes_in: usize,
    /// Response body bytes sent to the client.
    pub bytes_out: usize,
}

/// The index in [`CLASSES`] of a status (`none` when there was no answer).
fn class_index(status: Option<u16>) -> usize {
    match status {
        Some(s @ 100..=599) => usize::from(s / 100 - 1),
        _ => CLASSES.len() - 1,
    }
}

/// Counts a finished request.
pub fn record_request(r: &Finished<'_>) {
    let m = route_metrics(r.route);
    let method = METHODS
        .iter()
        .position(|m| *m == r.method.as_str())
        .unwrap_or(METHODS.len() - 1);
    let class = class_index(r.status);
    m.requests[method][class].fetch_add(1, Relaxed);
    m.duration.observe(r.total);
    if let Some(up) = r.upstream {
        m.upstream.observe(up);
    }
    m.bytes_in.fetch_add(r.bytes_in as u64, Relaxed);
    m.bytes_out.fetch_add(r.bytes_out as u64, Relaxed);
}

/// What an authentication attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthOutcome {
    /// The plugin accepted the credentials.
    Authenticated,
    /// The plugin recognised the credentials and refused them.
    Rejected,
    /// No plugin recognised anything: the request carried no usable credentials.
    NoCredentials,
    /// The plugin sent the client to sign in (no session, or an ended one).
    SignInRequired,
    /// The plugin failed (panicked).
    Error,
}

impl AuthOutcome {
    fn label(self) -> &'static str {
        match self {
            AuthOutcome::Authenticated => "authenticated",
            AuthOutcome::Rejected => "rejected",
            AuthOutcome::NoCredentials => "no_credentials",
            AuthOutcome::SignInRequired => "sign_in_required",
            AuthOutcome::Error => "error",
        }
    }
}

/// Counts an authentication outcome of `plugin` (the plugin's name, `sigv4` for S3 routes, `-`
/// when no plugin recognised the request).
pub fn record_auth(plugin: &str, outcome: AuthOutcome) {
    bump(&REGISTRY.auth, (plugin.to_owned(), outcome.label()));
}

/// Counts a request refused by a rate limit. `scope` names the limit (`ip`, `identity`,
/// `route`, `auth_failures`, ...), `route` the route's label; neither may come from the request.
pub fn record_rate_limited(scope: &str, route: &str) {
    bump(&REGISTRY.rate_limited, (scope.to_owned(), route.to_owned()));
}

/// Counts one S3 call that bucketgate made itself (the internal client: DeleteObjects, and the
/// calls of frontends that drive several), by pool, S3 operation and outcome: the status class
/// (`2xx`, `4xx`, ...) or `error` when no answer came.
pub fn record_upstream_call(pool: &str, operation: &'static str, status: Option<u16>) {
    let outcome = match status {
        Some(_) => CLASSES[class_index(status)],
        None => "error",
    };
    bump(&REGISTRY.calls, (pool.to_owned(), operation, outcome));
}

/// Adds one to the counter of `key`, creating it at 0 first; a read lock only, once it exists.
fn bump<K: std::hash::Hash + Eq>(counters: &DashMap<K, AtomicU64>, key: K) {
    if let Some(c) = counters.get(&key) {
        c.fetch_add(1, Relaxed);
        return;
    }
    counters
        .entry(key)
        .or_insert_with(|| AtomicU64::new(0))
        .fetch_add(1, Relaxed);
}

/// Counts a request in flight from its creation until it is dropped (after `logging`, or
/// whenever the request ends).
pub struct InFlight(());

impl InFlight {
    pub fn start() -> InFlight {
        REGISTRY.in_flight.fetch_add(1, Relaxed);
        InFlight(())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        REGISTRY.in_flight.fetch_sub(1, Relaxed);
    }
}

/// A label value, escaped as the text format wants (`\\`, `\"`, `\n`).
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Each pool's name with its backends' addresses and health, read at scrape time.
pub type BackendHealth = Vec<(String, Vec<(String, bool)>)>;

/// The whole exposition (text format 0.0.4), with the backend health read just now (the
/// caller reads it from the pools of the gateway serving; see `server::exposition`).
pub fn render(pools: BackendHealth) -> String {
    let mut out = String::with_capacity(8192);
    let mut routes: Vec<(String, Arc<RouteMetrics>)> = REGISTRY
        .routes
        .iter()
        .map(|e| (escape(e.key()), e.value().clone()))
        .collect();
    routes.sort_by(|a, b| a.0.cmp(&b.0));

    let name = "bucketgate_requests_total";
    header(
        &mut out,
        name,
        "counter",
        "Requests answered, by route, method and status class.",
    );
    for (route, m) in &routes {
        for (mi, method) in METHODS.iter().enumerate() {
            for (ci, class) in CLASSES.iter().enumerate() {
                let n = m.requests[mi][ci].load(Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "{name}{{route=\"{route}\",method=\"{method}\",status=\"{class}\"}} {n}"
                    );
                }
            }
        }
    }

    let name = "bucketgate_request_duration_seconds";
    header(
        &mut out,
        name,
        "histogram",
        "Time from the request's start to its log line, by route.",
    );
    for (route, m) in &routes {
        m.duration
            .render(&mut out, name, &format!("route=\"{route}\""));
    }
    let name = "bucketgate_upstream_duration_seconds";
    header(
        &mut out,
        name,
        "histogram",
        "Time from choosing a backend to its response head, by route.",
    );
    for (route, m) in &routes {
        m.upstream
            .render(&mut out, name, &format!("route=\"{route}\""));
    }

    for (name, help, pick) in [
        (
            "bucketgate_received_bytes_total",
            "Request body bytes read from clients, by route.",
            (|m: &RouteMetrics| m.bytes_in.load(Relaxed)) as fn(&RouteMetrics) -> u64,
        ),
        (
            "bucketgate_sent_bytes_total",
            "Response body bytes sent to clients, by route.",
            |m: &RouteMetrics| m.bytes_out.load(Relaxed),
        ),
    ] {
        header(&mut out, name, "counter", help);
        for (route, m) in &routes {
            let _ = writeln!(out, "{name}{{route=\"{route}\"}} {}", pick(m));
        }
    }

    let name = "bucketgate_auth_total";
    header(
        &mut out,
        name,
        "counter",
        "Authentication outcomes, by plugin and outcome.",
    );
    let mut auth: Vec<(String, &str, u64)> = REGISTRY
        .auth
        .iter()
        .map(|e| (escape(&e.key().0), e.key().1, e.value().load(Relaxed)))
        .collect();
    auth.sort();
    for (plugin, outcome, n) in auth {
        let _ = writeln!(
            out,
            "{name}{{plugin=\"{plugin}\",outcome=\"{outcome}\"}} {n}"
        );
    }

    let name = "bucketgate_rate_limited_total";
    header(
        &mut out,
        name,
        "counter",
        "Requests refused by a rate limit, by limit scope and route.",
    );
    let mut limited: Vec<(String, String, u64)> = REGISTRY
        .rate_limited
        .iter()
        .map(|e| {
            (
                escape(&e.key().0),
                escape(&e.key().1),
                e.value().load(Relaxed),
            )
        })
        .collect();
    limited.sort();
    for (scope, route, n) in limited {
        let _ = writeln!(out, "{name}{{scope=\"{scope}\",route=\"{route}\"}} {n}");
    }

    let name = "bucketgate_backend_healthy";
    header(
        &mut out,
        name,
        "gauge",
        "1 when the backend passes its health check, 0 when not, by pool and backend address.",
    );
    for (pool_name, mut backends) in pools {
        let pool_name = escape(&pool_name);
        backends.sort();
        for (addr, healthy) in backends {
            let _ = writeln!(
                out,
                "{name}{{pool=\"{pool_name}\",backend=\"{}\"}} {}",
                escape(&addr),
                u8::from(healthy)
            );
        }
    }

    let name = "bucketgate_upstream_calls_total";
    header(
        &mut out,
        name,
        "counter",
        "S3 calls bucketgate makes itself (the internal client), by pool, operation and outcome.",
    );
    let mut calls: Vec<(String, &str, &str, u64)> = REGISTRY
        .calls
        .iter()
        .map(|e| {
            (
                escape(&e.key().0),
                e.key().1,
                e.key().2,
                e.value().load(Relaxed),
            )
        })
        .collect();
    calls.sort();
    for (pool, operation, outcome, n) in calls {
        let _ = writeln!(
            out,
            "{name}{{pool=\"{pool}\",operation=\"{operation}\",outcome=\"{outcome}\"}} {n}"
        );
    }

    let name = "bucketgate_requests_in_flight";
    header(
        &mut out,
        name,
        "gauge",
        "Requests started and not yet finished.",
    );
    let _ = writeln!(out, "{name} {}", REGISTRY.in_flight.load(Relaxed).max(0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = Histogram::new();
        h.observe(Duration::from_micros(900));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(100));
        let mut out = String::new();
        h.render(&mut out, "x", "route=\"r\"");
        assert!(
            out.contains("x_bucket{route=\"r\",le=\"0.001\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("x_bucket{route=\"r\",le=\"0.0025\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("x_bucket{route=\"r\",le=\"0.005\"} 2\n"),
            "{out}"
        );
        assert!(out.contains("x_bucket{route=\"r\",le=\"30\"} 2\n"), "{out}");
        assert!(
            out.contains("x_bucket{route=\"r\",le=\"+Inf\"} 3\n"),
            "{out}"
        );
        assert!(out.contains("x_count{route=\"r\"} 3\n"), "{out}");
        assert!(out.contains("x_sum{route=\"r\"} 100.0039\n"), "{out}");
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn unknown_methods_and_missing_statuses_have_bounded_labels() {
        let route = "unit-bounded";
        let method = http::Method::from_bytes(b"PROPFIND").unwrap();
        record_request(&Finished {
            route,
            method: &method,
            status: None,
            total: Duration::from_millis(1),
            upstream: None,
            bytes_in: 0,
            bytes_out: 0,
        });
        record_request(&Finished {
            route,
            method: &http::Method::GET,
            status: Some(206),
            total: Duration::from_millis(1),
            upstream: Some(Duration::from_millis(1)),
            bytes_in: 5,
            bytes_out: 7,
        });
        let text = render(Vec::new());
        assert!(text.contains(
            "bucketgate_requests_total{route=\"unit-bounded\",method=\"OTHER\",status=\"none\"} 1\n"
        ));
        assert!(text.contains(
            "bucketgate_requests_total{route=\"unit-bounded\",method=\"GET\",status=\"2xx\"} 1\n"
        ));
        assert!(text.contains("bucketgate_sent_bytes_total{route=\"unit-bounded\"} 7\n"));
        assert!(!text.contains("PROPFIND"));
    }

    #[test]
    fn in_flight_follows_the_guards() {
        // The only unit test that makes guards, so nothing else moves the gauge meanwhile.
        let before = REGISTRY.in_flight.load(Relaxed);
        let a = InFlight::start();
        let b = InFlight::start();
        assert_eq!(REGISTRY.in_flight.load(Relaxed), before + 2);
        drop(a);
        assert_eq!(REGISTRY.in_flight.load(Relaxed), before + 1);
        drop(b);
        assert_eq!(REGISTRY.in_flight.load(Relaxed), before);
    }
}
