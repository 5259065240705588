//! The config section: defaults, every check of `validate`, durations, stores, CIDRs.

use std::time::Duration;

use crate::config::{parse_absolute, Cidr, DurationSpec};
use crate::{
    EmailVerified, OidcConfig, RecheckMethod, SecureMode, SessionStoreConfig, Unauthenticated,
};

fn parse(yaml: &str) -> Result<OidcConfig, String> {
    serde_yaml::from_str(yaml).map_err(|e| e.to_string())
}

const BASE: &str = "issuer: https://login.example.com/realms/acme
client_id: bucketgate
client_secret: s3cret
redirect_url: https://files.example.com/_bucketgate/oidc/callback
";

/// The problems of BASE with the fields of `extra` set (replacing BASE's).
fn problems(extra: &str) -> Vec<String> {
    let mut base: serde_yaml::Mapping = serde_yaml::from_str(BASE).unwrap();
    let over: serde_yaml::Mapping = serde_yaml::from_str(extra).unwrap();
    base.extend(over);
    serde_yaml::from_value::<OidcConfig>(serde_yaml::Value::Mapping(base))
        .unwrap_or_else(|e| panic!("{extra}: {e}"))
        .validate()
        .into_iter()
        .map(|p| format!("{}: {}", p.path, p.message))
        .collect()
}

fn has_problem(extra: &str, path: &str) {
    let p = problems(extra);
    assert!(
        p.iter().any(|m| m.starts_with(&format!("{path}: "))),
        "expected a problem at {path} for {extra:?}, got {p:?}"
    );
}

#[test]
fn minimal_config_has_the_documented_defaults() {
    let c = parse(BASE).unwrap();
    assert!(c.validate().is_empty(), "{:?}", c.validate());
    assert_eq!(c.scopes, ["openid", "email", "profile"]);
    assert_eq!(c.login_path, "/_bucketgate/oidc/login");
    assert_eq!(c.logout_path, "/_bucketgate/oidc/logout");
    assert_eq!(c.post_logout_url, "/");
    assert_eq!(c.cookie.name, "bucketgate_session");
    assert_eq!(c.cookie.lifetime.get(), Duration::from_secs(8 * 3600));
    assert_eq!(c.cookie.secure, SecureMode::Auto);
    assert!(c.trusted_proxies.is_empty());
    assert_eq!(c.state_ttl.get(), Duration::from_secs(60));
    assert_eq!(c.unauthenticated, Unauthenticated::Auto);
    assert!(c.allow.is_none());
    assert_eq!(c.email_verified, EmailVerified::Required);
    assert_eq!(c.subject_claim, "sub");
    assert_eq!(c.recheck.interval.get(), Duration::from_secs(300));
    assert_eq!(c.recheck.method, RecheckMethod::Refresh);
    assert_eq!(c.session_store, SessionStoreConfig::Memory);
    assert!(!c.session_store.is_shared());
    assert!(c.mint_keys.is_none());
    assert_eq!(
        c.callback_path().as_deref(),
        Some("/_bucketgate/oidc/callback")
    );
}

#[test]
fn the_full_example_parses() {
    let c = parse(&format!(
        "{BASE}scopes: [openid, email, profile, groups]
login_path: /login
logout_path: /logout
post_logout_url: /bye
cookie: {{name: sso, lifetime: 1d, secure: always}}
trusted_proxies: [127.0.0.1/32, \"::1\"]
state_ttl: 90s
unauthenticated: deny
allow: {{email_domains: [example.com], groups: [staff], groups_claim: roles}}
subject_claim: email
grants: [{{bucket: b, prefix: \"users/{{sub}}/\", operations: [read]}}]
grants_claim: bucketgate_grants
recheck: {{interval: 0s, method: userinfo}}
session_store: {{redis: {{url: \"redis://127.0.0.1:6379/0\", prefix: \"bg:\"}}}}
mint_keys: {{ttl: 12h}}
"
    ))
    .unwrap();
    assert!(c.validate().is_empty(), "{:?}", c.validate());
    assert_eq!(c.cookie.lifetime.get(), Duration::from_secs(86_400));
    assert_eq!(c.cookie.secure, SecureMode::Always);
    assert_eq!(c.unauthenticated, Unauthenticated::Deny);
    assert_eq!(c.recheck.method, RecheckMethod::Userinfo);
    assert!(c.recheck.interval.get().is_zero());
    assert!(c.session_store.is_shared());
    assert_eq!(c.allow.as_ref().unwrap().groups_claim, "roles");
    assert_eq!(
        c.mint_keys.unwrap().ttl.get(),
        Duration::from_secs(12 * 3600)
    );
    // The secret never shows in Debug, nor the Redis password.
    let c = parse(&format!(
        "{BASE}session_store: {{redis: {{url: \"redis://u:hunter2@h:6379\"}}}}"
    ))
    .unwrap();
    let debug = format!("{c:?}");
    assert!(
        !debug.contains("s3cret") && !debug.contains("hunter2"),
        "{debug}"
    );
    assert_eq!(
        parse(&format!("{BASE}session_store: memory"))
            .unwrap()
            .session_store,
        SessionStoreConfig::Memory
    );
}

#[test]
fn email_verified_is_required_unless_opted_out() {
    let c = parse(&format!("{BASE}email_verified: when_present")).unwrap();
    assert_eq!(c.email_verified, EmailVerified::WhenPresent);
    let c = parse(&format!("{BASE}email_verified: required")).unwrap();
    assert_eq!(c.email_verified, EmailVerified::Required);
    for bad in ["false", "never", "ignore"] {
        assert!(
            parse(&format!("{BASE}email_verified: {bad}")).is_err(),
            "{bad}"
        );
    }
}

/// The session binding: the same for sections that differ only in what does not decide who a
/// session is and where it counts (grants, list order, case of domains), different otherwise.
#[test]
fn session_bindings_separate_route_sets() {
    let binding = |extra: &str| parse(&format!("{BASE}{extra}")).unwrap().session_binding();
    let base = binding("");
    assert_eq!(
        base,
        binding("grants: [{bucket: b, prefix: x/, operations: [read]}]")
    );
    assert_eq!(base, binding("login_path: /in\nrecheck: {interval: 0s}"));
    assert_eq!(
        binding("allow: {email_domains: [a.example, B.example], groups: [x, y]}"),
        binding("allow: {email_domains: [b.example, a.example], groups: [y, x]}")
    );
    for other in [
        "allow: {groups: [admins]}",
        "allow: {email_domains: [example.com]}",
        "allow: {groups: [admins], groups_claim: roles}",
        "cookie: {name: other}",
        "subject_claim: email",
        "email_verified: when_present",
    ] {
        assert_ne!(base, binding(other), "{other}");
    }
    let other_client = parse(&BASE.replace("client_id: bucketgate", "client_id: another"))
        .unwrap()
        .session_binding();
    assert_ne!(base, other_client);
    assert_ne!(
        binding("allow: {groups: [admins]}"),
        binding("allow: {groups: [staff]}")
    );
    let c = parse(BASE).unwrap();
    assert_eq!(c.sign_in_host().as_deref(), Some("files.example.com"));
}

#[test]
fn unknown_fields_and_bad_shapes_are_parse_errors() {
    for extra in [
        "colour: blue",
        "cookie: {nmae: x}",
        "session_store: memcached",
        "session_store: {redis: {url: x}, memory: {}}",
        "session_store: {etcd: {}}",
        "unauthenticated: sometimes",
        "cookie: {secure: maybe}",
        "recheck: {method: introspect}",
        "state_ttl: 60",
        "state_ttl: 1w",
        "state_ttl: -5s",
        "mint_keys: {ttl: forever}",
    ] {
        assert!(parse(&format!("{BASE}{extra}")).is_err(), "{extra}");
    }
    assert!(
        parse("client_id: x\nredirect_url: https://a/cb").is_err(),
        "issuer required"
    );
}

#[test]
fn validate_names_each_problem() {
    has_problem("issuer: login.example.com", "issuer");
    has_problem("issuer: /realms/acme", "issuer");
    has_problem("issuer: http://login.example.com", "issuer");
    has_problem("issuer: https://login.example.com/?x=1", "issuer");
    has_problem("issuer: https://user:pw@login.example.com", "issuer");
    has_problem("client_id: \"\"", "client_id");
    has_problem("client_secret: \"\"", "client_secret");
    has_problem("redirect_url: /_bucketgate/oidc/callback", "redirect_url");
    has_problem("redirect_url: https://files.example.com", "redirect_url");
    has_problem(
        "redirect_url: https://files.example.com/cb?x",
        "redirect_url",
    );
    has_problem("redirect_url: ftp://files.example.com/cb", "redirect_url");
    has_problem("login_path: login", "login_path");
    has_problem("logout_path: //logout", "logout_path");
    has_problem("login_path: /x\nlogout_path: /x", "logout_path");
    has_problem("login_path: /_bucketgate/oidc/callback", "login_path");
    has_problem("logout_path: /_bucketgate/oidc/callback", "logout_path");
    has_problem("post_logout_url: bye", "post_logout_url");
    has_problem("post_logout_url: //evil.example", "post_logout_url");
    has_problem("scopes: [openid, \"a b\"]", "scopes");
    has_problem("cookie: {name: \"a;b\"}", "cookie.name");
    has_problem("cookie: {name: \"\"}", "cookie.name");
    has_problem("cookie: {lifetime: 10s}", "cookie.lifetime");
    has_problem("trusted_proxies: [10.0.0.0/33]", "trusted_proxies[0]");
    has_problem("trusted_proxies: [proxy.example]", "trusted_proxies[0]");
    has_problem("state_ttl: 5s", "state_ttl");
    has_problem("state_ttl: 2h", "state_ttl");
    has_problem("allow: {}", "allow");
    has_problem(
        "allow: {email_domains: [\"@example.com\"]}",
        "allow.email_domains[0]",
    );
    has_problem(
        "allow: {groups: [staff], groups_claim: \"\"}",
        "allow.groups_claim",
    );
    has_problem("subject_claim: \"\"", "subject_claim");
    has_problem("grants_claim: \"\"", "grants_claim");
    has_problem(
        "grants: [{bucket: \"\", operations: [read]}]",
        "grants[0].bucket",
    );
    has_problem(
        "grants: [{bucket: b, prefix: \"users/{sub/\", operations: [read]}]",
        "grants[0].prefix",
    );
    has_problem(
        "session_store: {redis: {url: \"http://127.0.0.1:6379\"}}",
        "session_store.redis.url",
    );
    has_problem("mint_keys: {ttl: 30s}", "mint_keys.ttl");
    has_problem("mint_keys: {ttl: 30d}", "mint_keys.ttl");
    // A loopback provider may be plain http (tests, a sidecar).
    assert!(problems("issuer: http://127.0.0.1:9000").is_empty());
    assert!(problems("issuer: http://localhost:9000/realms/x").is_empty());
    // Messages never repeat the secret.
    let p = problems("client_secret: \"\"\nclient_id: \"\"");
    assert!(p.iter().all(|m| !m.contains("s3cret")));
}

#[test]
fn durations() {
    let d = |s: &str| DurationSpec::parse(s).map(|d| d.get().as_secs());
    assert_eq!(d("0s"), Ok(0));
    assert_eq!(d("60s"), Ok(60));
    assert_eq!(d("5m"), Ok(300));
    assert_eq!(d("8h"), Ok(28_800));
    assert_eq!(d("1d"), Ok(86_400));
    for bad in [
        "",
        "s",
        "5",
        "5 m",
        "5ms",
        "1.5h",
        "-1s",
        "99999999999999999999d",
        "100000d",
    ] {
        assert!(d(bad).is_err(), "{bad}");
    }
}

#[test]
fn cidrs() {
    let c = Cidr::parse("10.1.0.0/16").unwrap();
    assert!(c.contains("10.1.200.3".parse().unwrap()));
    assert!(!c.contains("10.2.0.1".parse().unwrap()));
    assert!(c.contains("::ffff:10.1.0.9".parse().unwrap()), "v4-mapped");
    let one = Cidr::parse("127.0.0.1").unwrap();
    assert!(one.contains("127.0.0.1".parse().unwrap()));
    assert!(!one.contains("127.0.0.2".parse().unwrap()));
    assert!(Cidr::parse("0.0.0.0/0")
        .unwrap()
        .contains("8.8.8.8".parse().unwrap()));
    let v6 = Cidr::parse("fd00::/8").unwrap();
    assert!(v6.contains("fd12::1".parse().unwrap()));
    assert!(!v6.contains("10.0.0.1".parse().unwrap()));
    assert!(Cidr::parse("fd00::/129").is_err());
}

#[test]
fn absolute_urls() {
    let u = parse_absolute("HTTPS://Files.Example.com:443/a/b?c").unwrap();
    assert_eq!(u.origin(), "https://files.example.com");
    assert_eq!(u.path, "/a/b");
    assert!(u.has_query_or_fragment);
    assert_eq!(
        parse_absolute("http://127.0.0.1:8080").unwrap().origin(),
        "http://127.0.0.1:8080"
    );
    assert_eq!(parse_absolute("http://[::1]:81/x").unwrap().host, "[::1]");
    for bad in [
        "files.example.com",
        "//files.example.com",
        "https://",
        "https://a:b@host/",
        "https://host:port/",
        "https://ho st/",
        "https://host\\@evil/",
        "javascript://x",
    ] {
        assert!(parse_absolute(bad).is_none(), "{bad}");
    }
}
