//! Checks of an upstream pool's load-balancing settings: endpoint weights, the active health
//! check, passive ejection, retries and the background intervals. Kept apart from validate.rs
//! so that file stays about how the sections refer to each other.

use super::model::{HealthCheckKind, Upstream};
use super::path::Path;
use super::problem::Reporter;

/// Largest endpoint weight (round robin expands weights into a table).
const MAX_WEIGHT: u32 = 1000;
/// Largest `rise` / `fall`.
const MAX_RISE_FALL: usize = 100;
/// Largest interval or cool-down in seconds (a day): larger values overflow time arithmetic.
const MAX_SECONDS: u64 = 86_400;
/// Pingora makes at most 16 attempts per request, whatever a pool asks for.
const MAX_RETRIES: usize = 15;

/// Checks one pool, which is at `at` (`upstreams.NAME`).
pub fn check_pool(u: &Upstream, at: &Path, r: &mut Reporter) {
    for (i, ep) in u.endpoints.iter().enumerate() {
        if ep.weight == 0 || ep.weight > MAX_WEIGHT {
            r.at(
                &at.key("endpoints").index(i).key("weight"),
                format!(
                    "weight must be between 1 and {MAX_WEIGHT} (to take a backend out, remove it)"
                ),
            );
        }
    }
    check_health(u, &at.key("health_check"), r);
    if u.passive_ejection.consecutive_failures > 0 && u.passive_ejection.cooldown_seconds == 0 {
        r.at(
            &at.key("passive_ejection").key("cooldown_seconds"),
            "must be greater than 0 (set consecutive_failures: 0 to turn passive ejection off)",
        );
    }
    if u.max_retries > MAX_RETRIES {
        r.at(
            &at.key("max_retries"),
            format!("at most {MAX_RETRIES} (a request makes at most 16 attempts)"),
        );
    }
    for (field, value) in [
        ("resolve_interval_seconds", u.resolve_interval_seconds),
        ("idle_timeout_seconds", u.idle_timeout_seconds),
    ] {
        if value == 0 {
            r.at(&at.key(field), "must be greater than 0");
        }
    }
    for (place, value) in [
        (
            at.key("resolve_interval_seconds"),
            u.resolve_interval_seconds,
        ),
        (
            at.key("health_check_interval_seconds"),
            u.health_check_interval_seconds,
        ),
        (
            at.key("passive_ejection").key("cooldown_seconds"),
            u.passive_ejection.cooldown_seconds,
        ),
        (at.key("idle_timeout_seconds"), u.idle_timeout_seconds),
    ] {
        if value > MAX_SECONDS {
            r.at(&place, format!("at most {MAX_SECONDS} (one day)"));
        }
    }
}

fn check_health(u: &Upstream, at: &Path, r: &mut Reporter) {
    let hc = &u.health_check;
    for (field, value) in [("rise", hc.rise), ("fall", hc.fall)] {
        if value == 0 || value > MAX_RISE_FALL {
            r.at(
                &at.key(field),
                format!("must be between 1 and {MAX_RISE_FALL} consecutive checks"),
            );
        }
    }
    if hc.timeout_ms == Some(0) {
        r.at(&at.key("timeout_ms"), "must be greater than 0");
    }
    if hc.kind != HealthCheckKind::Http {
        return;
    }
    if !matches!(hc.method.to_ascii_uppercase().as_str(), "GET" | "HEAD") {
        r.at(
            &at.key("method"),
            format!(
                "unknown health check method {:?}: use HEAD or GET",
                hc.method
            ),
        );
    }
    if !hc.path.starts_with('/') || http::uri::PathAndQuery::try_from(hc.path.as_str()).is_err() {
        r.at(
            &at.key("path"),
            format!(
                "{:?} is not a request path: it must start with `/`, for example /health",
                hc.path
            ),
        );
    }
    if let Some(host) = &hc.host {
        if host.trim().is_empty() || http::uri::Authority::try_from(host.as_str()).is_err() {
            r.at(
                &at.key("host"),
                format!("{host:?} is not a host name, for example rgw.example.com or rgw:7480"),
            );
        }
    }
    if hc.expected_statuses.is_empty() {
        r.at(
            &at.key("expected_statuses"),
            "list at least one status (200) or class (\"2xx\"); omit it for any status below 500",
        );
    }
    for (i, s) in hc.expected_statuses.iter().enumerate() {
        if !s.is_valid() {
            r.at(
                &at.key("expected_statuses").index(i),
                "not an HTTP status: use a code from 100 to 599 or a class from \"1xx\" to \"5xx\"",
            );
        }
    }
}
