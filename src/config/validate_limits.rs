//! Checks of the rate-limit settings: the top-level `limits` section (typed here) and each
//! route's `limits` overrides. Kept apart from validate.rs so the operations work of issue 6
//! does not pile into one file. The values' meaning is in [`crate::limit`].

use std::collections::HashSet;

use serde_yaml::{Mapping, Value};

use super::limits::{Window, MAX_WINDOW};
use super::model::Route;
use super::path::Path;
use super::problem::Reporter;
use super::typed::typed;
use crate::config::limits::{LimitRule, LimitsConfig, RouteLimits};

/// The longest Redis deadline on the request path.
const MAX_REDIS_TIMEOUT_MS: u64 = 5_000;

/// Types and checks `limits` and the routes' `limits`: the defaults when absent, `None` when
/// it did not type.
pub fn limits_section(
    top: &Mapping,
    routes: &[(usize, Route)],
    substituted: &HashSet<Path>,
    r: &mut Reporter,
) -> Option<LimitsConfig> {
    let at = Path::root().key("limits");
    let limits = match top.get("limits") {
        None | Some(Value::Null) => LimitsConfig::default(),
        Some(v) => typed::<LimitsConfig>(v, &at, substituted, r)?,
    };
    check_limits(&limits, &at, r);
    for (i, route) in routes {
        if let Some(own) = &route.limits {
            let at = Path::root().key("routes").index(*i).key("limits");
            check_route_limits(own, route, &at, r);
        }
    }
    Some(limits)
}

fn check_limits(l: &LimitsConfig, at: &Path, r: &mut Reporter) {
    for (name, rule) in [
        ("per_ip", &l.per_ip),
        ("per_identity", &l.per_identity),
        ("per_route", &l.per_route),
    ] {
        if let Some(rule) = rule {
            check_rule(rule, &at.key(name), r);
        }
    }
    let fa = &l.failed_auth_per_ip;
    if fa.window_seconds == 0 || fa.window_seconds > MAX_WINDOW.as_secs() {
        r.at(
            &at.key("failed_auth_per_ip").key("window_seconds"),
            format!(
                "must be from 1 to {} (a day); set max_failures: 0 to turn the limit off",
                MAX_WINDOW.as_secs()
            ),
        );
    }
    if l.buffer_memory.is_some_and(|b| b.0 == 0) {
        r.at(
            &at.key("buffer_memory"),
            "must be more than 0 (for example 256MiB): at 0 every listing and signed upload \
             would be refused",
        );
    }
    if let Some(redis) = &l.redis {
        let at = at.key("redis");
        if let Err(e) = redis::Client::open(redis.url.as_str()) {
            r.at(
                &at.key("url"),
                format!(
                    "not a Redis URL ({}): expected redis://host:port/db",
                    e.category()
                ),
            );
        }
        if redis.timeout_ms == 0 || redis.timeout_ms > MAX_REDIS_TIMEOUT_MS {
            r.at(
                &at.key("timeout_ms"),
                format!(
                    "must be from 1 to {MAX_REDIS_TIMEOUT_MS}: every request waits up to this \
                     long for Redis"
                ),
            );
        }
    }
}

fn check_route_limits(own: &RouteLimits, route: &Route, at: &Path, r: &mut Reporter) {
    for (name, rule) in [
        ("per_ip", &own.per_ip),
        ("per_identity", &own.per_identity),
        ("per_route", &own.per_route),
    ] {
        if let Some(rule) = rule {
            check_rule(rule, &at.key(name), r);
        }
    }
    if own.per_identity.is_some() && route.auth.is_empty() {
        r.at(
            &at.key("per_identity"),
            "this route has no `auth`, so no identity to limit: use per_ip",
        );
    }
}

/// A rule needs a rate or a concurrency, positive values, and a window of 1 s to a day.
fn check_rule(rule: &LimitRule, at: &Path, r: &mut Reporter) {
    if rule.requests_per_second.is_none() && rule.concurrent.is_none() {
        r.at(
            at,
            "set requests_per_second, concurrent, or both (for example \
             {requests_per_second: 10, concurrent: 4})",
        );
    }
    if rule.concurrent == Some(0) {
        r.at(&at.key("concurrent"), "must be at least 1");
    }
    let Some(rps) = rule.requests_per_second else {
        if rule.burst.is_some() {
            r.at(&at.key("burst"), "needs requests_per_second");
        }
        return;
    };
    if !(rps.is_finite() && rps > 0.0) {
        r.at(
            &at.key("requests_per_second"),
            "must be a number greater than 0 (fractions such as 0.5 are fine)",
        );
        return;
    }
    if rule.burst == Some(0) {
        r.at(&at.key("burst"), "must be at least 1");
        return;
    }
    if Window::of(rule).is_none() {
        let field = if rule.burst.is_some() {
            "burst"
        } else {
            "requests_per_second"
        };
        r.at(
            &at.key(field),
            format!(
                "burst / requests_per_second is the window, and must be from 1 second to a day \
                 ({} s): make burst at least requests_per_second",
                MAX_WINDOW.as_secs()
            ),
        );
    }
}
